package actions

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// runNotify runs the zero Notify action (the package's default client) once.
func runNotify(t *testing.T, with map[string]any) (map[string]any, error) {
	t.Helper()
	out, err := (&Notify{}).Run(context.Background(), input(with))
	m, _ := out.(map[string]any)
	return m, err
}

// jsonBody decodes a request body the test server received.
func jsonBody(t *testing.T, r received) any {
	t.Helper()
	v, err := decodeJSON([]byte(r.body))
	if err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, r.body)
	}
	return v
}

// adaptiveCard is the Teams message notify builds around a card's body blocks.
func adaptiveCard(blocks ...any) map[string]any {
	return teamsMessage(map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body":    blocks,
	})
}

// teamsMessage wraps an Adaptive Card in the message a Teams webhook takes.
func teamsMessage(card map[string]any) map[string]any {
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	}
}

func TestNotifyJSONProviders(t *testing.T) {
	blocks := []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*hi*"}}}
	embeds := []any{map[string]any{"title": "Build", "color": 65280}}
	tests := []struct {
		name      string
		path      string // of the url given
		with      map[string]any
		wantPath  string
		wantQuery string
		wantBody  any
	}{
		{"slack", "/services/T1/B2/xyz", map[string]any{
			"provider": "slack", "text": "all good", "title": "Deploy <prod> & co",
			"blocks": blocks, "channel": "#ops", "unfurl_links": "true", "mrkdwn": true, "thread_ts": "",
		}, "/services/T1/B2/xyz", "", map[string]any{
			"text": "*Deploy &lt;prod&gt; &amp; co*\nall good", "blocks": blocks, "channel": "#ops",
			"unfurl_links": true, "mrkdwn": true,
		}},
		{"slack blocks only", "/services/x", map[string]any{"provider": "slack", "blocks": blocks},
			"/services/x", "", map[string]any{"blocks": blocks}},
		{"mattermost", "/hooks/abc", map[string]any{
			"provider": "mattermost", "text": "all good", "title": "Deploy", "username": "hookflow",
			"props": map[string]any{"card": "details"}, "priority": map[string]any{"priority": "urgent"},
		}, "/hooks/abc", "", map[string]any{
			"text": "#### Deploy\nall good", "username": "hookflow",
			"props": map[string]any{"card": "details"}, "priority": map[string]any{"priority": "urgent"},
		}},
		{"discord", "/api/webhooks/1/tok", map[string]any{
			"provider": "discord", "text": "all good", "title": "Deploy", "embeds": embeds,
			"tts": false, "flags": "4", "thread_id": 987654321, "components": []any{},
		}, "/api/webhooks/1/tok", "thread_id=987654321", map[string]any{
			"content": "**Deploy**\nall good", "embeds": embeds, "tts": false, "flags": 4, "components": []any{},
		}},
		{"teams", "/workflows/x", map[string]any{"provider": "teams", "text": "all good", "title": "Deploy"},
			"/workflows/x", "", adaptiveCard(
				map[string]any{"type": "TextBlock", "text": "Deploy", "weight": "Bolder", "size": "Medium", "wrap": true},
				map[string]any{"type": "TextBlock", "text": "all good", "wrap": true})},
		{"teams without title", "/workflows/x", map[string]any{"provider": "teams", "text": "all good"},
			"/workflows/x", "", adaptiveCard(map[string]any{"type": "TextBlock", "text": "all good", "wrap": true})},
		{"teams card", "/workflows/x", map[string]any{"provider": "teams", "card": map[string]any{"type": "AdaptiveCard", "version": "1.5"}},
			"/workflows/x", "", teamsMessage(map[string]any{"type": "AdaptiveCard", "version": "1.5"})},
		{"telegram", "/bot123:ABC", map[string]any{
			"provider": "telegram", "chat_id": -1001234, "text": "all good", "title": "Deploy",
			"disable_notification": true, "protect_content": true,
		}, "/bot123:ABC/sendMessage", "", map[string]any{
			"chat_id": -1001234, "text": "Deploy\n\nall good", "disable_notification": true, "protect_content": true,
		}},
		{"telegram html", "/bot123:ABC/sendMessage", map[string]any{
			"provider": "telegram", "chat_id": "@ops", "text": "<i>all</i> good", "title": "A & <B>", "parse_mode": "HTML",
		}, "/bot123:ABC/sendMessage", "", map[string]any{
			"chat_id": "@ops", "text": "<b>A &amp; &lt;B&gt;</b>\n<i>all</i> good", "parse_mode": "HTML",
		}},
		{"telegram markdown", "/bot123:ABC/", map[string]any{
			"provider": "telegram", "chat_id": "42", "text": "ok", "title": "v1.2_beta", "parse_mode": "Markdown",
		}, "/bot123:ABC/sendMessage", "", map[string]any{
			"chat_id": "42", "text": "*v1.2\\_beta*\nok", "parse_mode": "Markdown",
		}},
		{"telegram markdownv2", "/bot123:ABC", map[string]any{
			"provider": "telegram", "chat_id": 42, "text": "ok", "title": "v1.2 (beta)!", "parse_mode": "MarkdownV2",
			"reply_markup": map[string]any{"inline_keyboard": []any{}}, "message_thread_id": 7,
		}, "/bot123:ABC/sendMessage", "", map[string]any{
			"chat_id": 42, "text": "*v1\\.2 \\(beta\\)\\!*\nok", "parse_mode": "MarkdownV2",
			"reply_markup": map[string]any{"inline_keyboard": []any{}}, "message_thread_id": 7,
		}},
		{"generic", "/in", map[string]any{
			"provider": "generic", "title": "Deploy", "text": "all good", "severity": "high",
			"data": map[string]any{"n": 1}, "headers": map[string]any{"X-Api-Key": "k"},
		}, "/in", "", map[string]any{
			"title": "Deploy", "text": "all good", "severity": "high", "data": map[string]any{"n": 1},
		}},
		{"generic without text", "/in", map[string]any{"provider": "generic", "event": "ping"},
			"/in", "", map[string]any{"event": "ping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
			tt.with["url"] = srv.url + tt.path
			out, err := runNotify(t, tt.with)
			if err != nil {
				t.Fatal(err)
			}
			want(t, "output", out, map[string]any{"status": http.StatusNoContent})
			r := srv.next(t)
			want(t, "method", r.method, http.MethodPost)
			want(t, "path", r.path, tt.wantPath)
			want(t, "query", r.query, tt.wantQuery)
			want(t, "Content-Type", r.header.Get("Content-Type"), "application/json")
			want(t, "User-Agent", r.header.Get("User-Agent"), "hookflow")
			want(t, "body", jsonBody(t, r), tt.wantBody)
			if tt.name == "generic" {
				want(t, "X-Api-Key", r.header.Get("X-Api-Key"), "k")
			}
		})
	}
}

func TestNotifyNtfy(t *testing.T) {
	tests := []struct {
		name   string
		with   map[string]any
		header map[string]string // "" means absent
	}{
		{"all headers", map[string]any{
			"text": "Backup done", "title": "Backup", "priority": "high", "tags": []any{"white_check_mark", "backup"},
			"click": "https://example.com/run/1", "icon": "https://example.com/i.png", "attach": "https://example.com/log.txt",
			"markdown": true, "actions": "view, Open, https://example.com", "token": "tk_abc",
		}, map[string]string{
			"Title": "Backup", "Priority": "high", "Tags": "white_check_mark,backup", "Click": "https://example.com/run/1",
			"Icon": "https://example.com/i.png", "Attach": "https://example.com/log.txt", "Markdown": "yes",
			"Actions": "view, Open, https://example.com", "Authorization": "Bearer tk_abc",
		}},
		{"plain", map[string]any{"text": "Backup done", "priority": 5, "tags": "warning"}, map[string]string{
			"Title": "", "Priority": "5", "Tags": "warning", "Markdown": "", "Authorization": "",
		}},
		{"basic auth, utf-8 title, actions list, extra header", map[string]any{
			"text": "Backup done", "title": "Sauvegarde réussie ✅", "username": "phil", "password": "pw",
			"actions": []any{map[string]any{"action": "view", "label": "Open", "url": "https://example.com"}},
			"headers": map[string]any{"X-Delay": "10m"},
		}, map[string]string{
			"Title":         "=?UTF-8?b?U2F1dmVnYXJkZSByw6l1c3NpZSDinIU=?=",
			"Authorization": "Basic cGhpbDpwdw==",
			"Actions":       `[{"action":"view","label":"Open","url":"https://example.com"}]`,
			"X-Delay":       "10m",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, nil)
			tt.with["provider"] = "ntfy"
			tt.with["url"] = srv.url + "/mytopic"
			if _, err := runNotify(t, tt.with); err != nil {
				t.Fatal(err)
			}
			r := srv.next(t)
			want(t, "method", r.method, http.MethodPost)
			want(t, "path", r.path, "/mytopic")
			want(t, "body", r.body, "Backup done")
			want(t, "Content-Type", r.header.Get("Content-Type"), "text/plain; charset=utf-8")
			for name, v := range tt.header {
				want(t, name, r.header.Get(name), v)
			}
		})
	}
}

func TestNotifyStatusErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    string // Retry-After
		body      string
		permanent bool
		delay     time.Duration // 0: none requested
	}{
		{"500", 500, "", "oops", false, 0},
		{"503 with Retry-After", 503, "30", "", false, 30 * time.Second},
		{"429 with Retry-After", 429, "7", `{"message": "You are being rate limited.", "retry_after": 6.2}`, false, 7 * time.Second},
		{"429 discord body", 429, "", `{"message": "You are being rate limited.", "retry_after": 6.2}`, false, 7 * time.Second},
		{"429 telegram body", 429, "", `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 35","parameters":{"retry_after":35}}`, false, 35 * time.Second},
		{"400", 400, "", `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`, true, 0},
		{"404", 404, "", "no_service", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			})
			out, err := runNotify(t, map[string]any{"provider": "telegram", "url": srv.url + "/bot123:SECRET", "chat_id": 1, "text": "x"})
			if err == nil || IsPermanent(err) != tt.permanent {
				t.Fatalf("err = %v, want permanent=%v", err, tt.permanent)
			}
			want(t, "output", out, map[string]any{"status": tt.status})
			d, ok := RetryDelay(err)
			want(t, "retry delay", d, tt.delay)
			want(t, "delay requested", ok, tt.delay > 0)
			msg := err.Error()
			if !strings.Contains(msg, itoa(tt.status)) || !strings.Contains(msg, "/bot***/sendMessage") ||
				strings.Contains(msg, "SECRET") {
				t.Errorf("error %q: want the status and the masked URL, never the token", msg)
			}
			if tt.name == "400" && !strings.Contains(msg, "chat not found") {
				t.Errorf("error %q does not quote the response", msg)
			}
		})
	}
}

func TestNotifyErrorsHideWebhookURLs(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no_service", http.StatusNotFound) })
	_, err := runNotify(t, map[string]any{"provider": "slack", "url": srv.url + "/services/T1/B2/SECRET", "text": "x"})
	if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "no_service") {
		t.Fatalf("err = %v, want the response without the webhook path", err)
	}

	// A network error: Go's client quotes the whole URL, which must not reach the message.
	_, err = runNotify(t, map[string]any{"provider": "telegram", "url": "http://127.0.0.1:1/bot123:SECRET", "chat_id": 1, "text": "x"})
	if err == nil || IsPermanent(err) || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("err = %v, want a retryable error without the token", err)
	}
}

func TestNotifyTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	defer close(release)
	_, err := runNotify(t, map[string]any{"provider": "generic", "url": srv.url + "/hook", "text": "x", "timeout": "50ms"})
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "no response within 50ms") {
		t.Fatalf("err = %v, want a retryable timeout", err)
	}
}

func TestNotifyBadParamsArePermanent(t *testing.T) {
	tests := []struct {
		name    string
		with    map[string]any
		wantErr string
	}{
		{"no provider", map[string]any{"text": "x"}, "provider is required"},
		{"unknown provider", map[string]any{"provider": "pager", "text": "x"}, `provider: "pager" is not one of`},
		{"no url", map[string]any{"provider": "slack", "text": "x", "url": nil}, "url is required"},
		{"bad url", map[string]any{"provider": "slack", "text": "x", "url": "ftp://h/SECRET"}, "url: want an absolute"},
		{"no text", map[string]any{"provider": "slack"}, "slack: text is required (or blocks or attachments)"},
		{"blocks as map", map[string]any{"provider": "slack", "blocks": map[string]any{}}, "blocks: want a list, got map"},
		{"bad bool", map[string]any{"provider": "discord", "text": "x", "tts": "loud"}, "tts: want true or false"},
		{"discord no text", map[string]any{"provider": "discord"}, "text is required (or embeds)"},
		{"teams card and text", map[string]any{"provider": "teams", "text": "x", "card": map[string]any{}}, "card replaces"},
		{"teams unknown field", map[string]any{"provider": "teams", "text": "x", "channel": "#x"}, "channel: unknown teams field"},
		{"telegram no chat", map[string]any{"provider": "telegram", "text": "x"}, "chat_id is required"},
		{"telegram chat as map", map[string]any{"provider": "telegram", "text": "x", "chat_id": map[string]any{}}, "chat_id: want"},
		{"telegram parse mode", map[string]any{"provider": "telegram", "text": "x", "chat_id": 1, "parse_mode": "BBCode"}, "parse_mode"},
		{"ntfy priority", map[string]any{"provider": "ntfy", "text": "x", "priority": 9}, "priority: want 1-5"},
		{"ntfy unknown field", map[string]any{"provider": "ntfy", "text": "x", "chat_id": 1}, "chat_id: unknown ntfy field"},
		{"ntfy token and user", map[string]any{"provider": "ntfy", "text": "x", "token": "t", "username": "u"}, "not both"},
		{"ntfy password alone", map[string]any{"provider": "ntfy", "text": "x", "password": "p"}, "username is required"},
		{"mattermost priority", map[string]any{"provider": "mattermost", "text": "x", "priority": "urgent"}, "priority: want a map"},
		{"bad header", map[string]any{"provider": "generic", "headers": map[string]any{"X-A": "a\nb"}}, "control character"},
		{"bad timeout", map[string]any{"provider": "generic", "timeout": "soon"}, "timeout:"},
	}
	for _, tt := range tests {
		if _, ok := tt.with["url"]; !ok {
			tt.with["url"] = "https://hooks.example.com/SECRET"
		} else if tt.with["url"] == nil {
			delete(tt.with, "url")
		}
		_, err := runNotify(t, tt.with)
		if !IsPermanent(err) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err = %v, want a Permanent error with %q", tt.name, err, tt.wantErr)
		} else if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: the error shows the URL: %v", tt.name, err)
		}
	}
}

func TestNotifySpecListsProviderFields(t *testing.T) {
	spec := (&Notify{}).Spec()
	if !spec.Open {
		t.Error("spec is not open: provider fields would be refused at load")
	}
	for name, p := range notifyProviders {
		for _, f := range p.fields {
			if !containsParam(spec.Params, f) {
				t.Errorf("%s field %s is not in the spec", name, f)
			}
		}
	}
	want(t, "providers", len(notifyProviders), len(notifyProviderNames()))
}

// containsParam reports whether params has one named name.
func containsParam(params []Param, name string) bool {
	for _, p := range params {
		if p.Name == name {
			return true
		}
	}
	return false
}
