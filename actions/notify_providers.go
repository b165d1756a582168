package actions

// The providers of the notify action: which fields each knows, and the request each
// documents.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"maps"
	"mime"
	"slices"
	"strconv"
	"strings"
)

// notifyParams are the notify action's parameters: the common ones, then the provider
// fields hookflow knows (type-checked at load and at run time). Their Doc names the
// providers that read them.
var notifyParams = []Param{
	{Name: "provider", Type: TypeString, Required: true, Enum: notifyProviderNames(),
		Doc: "Where to post: slack, discord, teams, telegram, ntfy, mattermost, or generic (any JSON webhook)."},
	{Name: "url", Type: TypeString, Required: true,
		Doc: "Webhook URL (slack, discord, teams, mattermost, generic); ntfy: the topic URL, e.g. https://ntfy.sh/mytopic; telegram: the bot API base with the token, https://api.telegram.org/bot<TOKEN> (/sendMessage is appended). Treated as a secret: errors show only its host."},
	{Name: "text", Type: TypeString,
		Doc: "Message text. Required, except with blocks or attachments (slack), attachments (mattermost), embeds (discord), card (teams), attach (ntfy), and for generic."},
	{Name: "title", Type: TypeString,
		Doc: "Title: a bold first line of the text (slack, discord, telegram), a heading (mattermost), the card's heading (teams), the notification title (ntfy), the title field (generic)."},
	{Name: "timeout", Type: TypeDuration,
		Doc: "Longest wait for the response, e.g. 10s. Default 15s; 0 leaves only the step's timeout."},
	{Name: "headers", Type: TypeMap,
		Doc: "generic, ntfy: extra request headers, name to value."},
	{Name: "channel", Type: TypeString, Doc: "slack, mattermost: channel to post to, overriding the webhook's."},
	{Name: "username", Type: TypeString,
		Doc: "slack, mattermost, discord: display name of the poster; ntfy: user for basic auth (with password)."},
	{Name: "icon_emoji", Type: TypeString, Doc: "slack, mattermost: emoji used as the poster's icon, e.g. :rocket:."},
	{Name: "icon_url", Type: TypeString, Doc: "slack, mattermost: image URL used as the poster's icon."},
	{Name: "blocks", Type: TypeList, Doc: "slack: Block Kit blocks; text becomes the fallback for notifications."},
	{Name: "attachments", Type: TypeList, Doc: "slack, mattermost: message attachments."},
	{Name: "thread_ts", Type: TypeString, Doc: "slack: timestamp of the message to reply to in a thread."},
	{Name: "unfurl_links", Type: TypeBool, Doc: "slack: unfurl links in the text."},
	{Name: "unfurl_media", Type: TypeBool, Doc: "slack: unfurl media links in the text."},
	{Name: "props", Type: TypeMap, Doc: "mattermost: post properties (props)."},
	{Name: "priority", Type: TypeAny,
		Doc: "ntfy: 1-5 or min, low, default, high, max (urgent); mattermost: {priority: important|urgent, requested_ack: bool}."},
	{Name: "avatar_url", Type: TypeString, Doc: "discord: image URL used as the poster's avatar."},
	{Name: "tts", Type: TypeBool, Doc: "discord: send as a text-to-speech message."},
	{Name: "embeds", Type: TypeList, Doc: "discord: embed objects (up to 10)."},
	{Name: "allowed_mentions", Type: TypeMap, Doc: "discord: which mentions in the content may ping, e.g. {parse: [users]}."},
	{Name: "flags", Type: TypeInt, Doc: "discord: message flags, e.g. 4 to suppress embeds."},
	{Name: "thread_name", Type: TypeString, Doc: "discord: create a forum thread with this name."},
	{Name: "thread_id", Type: TypeString, Doc: "discord: post into this existing thread (sent as the thread_id query parameter)."},
	{Name: "card", Type: TypeMap,
		Doc: "teams: a whole Adaptive Card (the attachment's content) replacing the one built from title and text."},
	{Name: "chat_id", Type: TypeAny, Doc: "telegram (required): chat id (a number) or @channelusername."},
	{Name: "parse_mode", Type: TypeString, Enum: []string{"HTML", "Markdown", "MarkdownV2"},
		Doc: "telegram: how the text is formatted; the title is escaped to match."},
	{Name: "disable_notification", Type: TypeBool, Doc: "telegram: deliver silently."},
	{Name: "disable_web_page_preview", Type: TypeBool, Doc: "telegram: no link preview (older form of link_preview_options)."},
	{Name: "link_preview_options", Type: TypeMap, Doc: "telegram: link preview options, e.g. {is_disabled: true}."},
	{Name: "reply_markup", Type: TypeMap, Doc: "telegram: inline keyboard or other reply markup."},
	{Name: "message_thread_id", Type: TypeInt, Doc: "telegram: forum topic to post in."},
	{Name: "tags", Type: TypeStrings, Doc: "ntfy: tags or emoji short codes, e.g. [warning, backup]."},
	{Name: "click", Type: TypeString, Doc: "ntfy: URL opened when the notification is tapped."},
	{Name: "icon", Type: TypeString, Doc: "ntfy: URL of the notification icon."},
	{Name: "attach", Type: TypeString, Doc: "ntfy: URL of a file to attach."},
	{Name: "actions", Type: TypeAny, Doc: "ntfy: action buttons, in ntfy's short form (a string) or as a list of action objects."},
	{Name: "markdown", Type: TypeBool, Doc: "ntfy: render the text as Markdown."},
	{Name: "token", Secret: true, Type: TypeString, Doc: "ntfy: access token (Authorization: Bearer)."},
	{Name: "password", Secret: true, Type: TypeString, Doc: "ntfy: password for basic auth (with username)."},
}

// notifyProvider is one destination of the notify action.
type notifyProvider struct {
	fields []string // provider fields read from notifyParams
	open   bool     // other fields pass into the JSON body as given
	build  func(c *notifyCall) error
}

// notifyProviders maps provider names to their request builders.
var notifyProviders = map[string]notifyProvider{
	"slack": {open: true, build: buildSlack, fields: []string{"channel", "username", "icon_emoji", "icon_url",
		"blocks", "attachments", "thread_ts", "unfurl_links", "unfurl_media"}},
	"mattermost": {open: true, build: buildMattermost, fields: []string{"channel", "username", "icon_emoji",
		"icon_url", "attachments", "props", "priority"}},
	"discord": {open: true, build: buildDiscord, fields: []string{"username", "avatar_url", "tts", "embeds",
		"allowed_mentions", "flags", "thread_name", "thread_id"}},
	"teams": {build: buildTeams, fields: []string{"card"}},
	"telegram": {open: true, build: buildTelegram, fields: []string{"chat_id", "parse_mode",
		"disable_notification", "disable_web_page_preview", "link_preview_options", "reply_markup",
		"message_thread_id"}},
	"ntfy": {build: buildNtfy, fields: []string{"priority", "tags", "click", "icon", "attach", "actions",
		"markdown", "token", "username", "password", "headers"}},
	"generic": {open: true, build: buildGeneric, fields: []string{"headers"}},
}

// notifyProviderNames lists the providers, sorted.
func notifyProviderNames() []string {
	return []string{"discord", "generic", "mattermost", "ntfy", "slack", "teams", "telegram"}
}

// errNoText: the provider needs text (or one of the fields that stand in for it).
func errNoText(alternatives ...string) error {
	if len(alternatives) == 0 {
		return errors.New("text is required")
	}
	return fmt.Errorf("text is required (or %s)", strings.Join(alternatives, " or "))
}

// withTitle prepends a formatted title line to text.
func withTitle(title, format, text string) string {
	if title == "" {
		return text
	}
	line := fmt.Sprintf(format, title)
	if text == "" {
		return line
	}
	return line + "\n" + text
}

// buildSlack: an incoming webhook, POST {"text", ...fields}; the title is a bold
// mrkdwn line. https://api.slack.com/messaging/webhooks
func buildSlack(c *notifyCall) error {
	if c.text == "" && !c.has("blocks", "attachments") {
		return errNoText("blocks", "attachments")
	}
	body := maps.Clone(c.fields)
	if text := withTitle(slackEscape(c.title), "*%s*", c.text); text != "" {
		body["text"] = text
	}
	return c.setJSON(body)
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// buildMattermost: an incoming webhook, POST {"text", ...fields}; the title is a
// level-4 heading. https://developers.mattermost.com/integrate/webhooks/incoming/
func buildMattermost(c *notifyCall) error {
	if c.text == "" && !c.has("attachments") {
		return errNoText("attachments")
	}
	if p, ok := c.fields["priority"]; ok {
		if _, isMap := p.(map[string]any); !isMap {
			return fmt.Errorf("priority: want a map such as {priority: urgent}, got %s", typeName(p))
		}
	}
	body := maps.Clone(c.fields)
	if text := withTitle(c.title, "#### %s", c.text); text != "" {
		body["text"] = text
	}
	return c.setJSON(body)
}

// buildDiscord: execute webhook, POST {"content", ...fields}; the title is a bold line
// and thread_id goes in the query. https://discord.com/developers/docs/resources/webhook
func buildDiscord(c *notifyCall) error {
	if c.text == "" && !c.has("embeds") {
		return errNoText("embeds")
	}
	body := maps.Clone(c.fields)
	if id := c.str("thread_id"); id != "" {
		q := c.url.Query()
		q.Set("thread_id", id)
		c.url.RawQuery = q.Encode()
	}
	delete(body, "thread_id")
	if text := withTitle(c.title, "**%s**", c.text); text != "" {
		body["content"] = text
	}
	return c.setJSON(body)
}

// buildTeams: a Teams workflow (or incoming) webhook, POST a message with one
// Adaptive Card: the title as a bold heading and the text, or the card given.
// https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
func buildTeams(c *notifyCall) error {
	card, hasCard := c.fields["card"].(map[string]any)
	switch {
	case hasCard && (c.text != "" || c.title != ""):
		return errors.New("card replaces the card built from title and text: give card or title and text")
	case !hasCard && c.text == "":
		return errNoText("card")
	case !hasCard:
		var blocks []any
		if c.title != "" {
			blocks = append(blocks, map[string]any{
				"type": "TextBlock", "text": c.title, "weight": "Bolder", "size": "Medium", "wrap": true})
		}
		blocks = append(blocks, map[string]any{"type": "TextBlock", "text": c.text, "wrap": true})
		card = map[string]any{
			"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
			"type":    "AdaptiveCard",
			"version": "1.4",
			"body":    blocks,
		}
	}
	return c.setJSON(map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	})
}

// buildTelegram: the Bot API's sendMessage, POST {"chat_id", "text", ...fields} to
// <url>/sendMessage. https://core.telegram.org/bots/api#sendmessage
func buildTelegram(c *notifyCall) error {
	if c.text == "" {
		return errNoText()
	}
	chatID, err := telegramChatID(c.fields["chat_id"])
	if err != nil {
		return err
	}
	if !strings.HasSuffix(c.url.Path, "/sendMessage") {
		c.url.Path = strings.TrimSuffix(c.url.Path, "/") + "/sendMessage"
		c.url.RawPath = ""
	}
	body := maps.Clone(c.fields)
	body["chat_id"] = chatID
	body["text"] = c.text
	switch mode := c.str("parse_mode"); {
	case mode != "" && mode != "HTML" && mode != "Markdown" && mode != "MarkdownV2":
		return fmt.Errorf("parse_mode: %q is not one of HTML, Markdown, MarkdownV2", mode)
	case c.title == "":
	case mode == "HTML":
		body["text"] = "<b>" + html.EscapeString(c.title) + "</b>\n" + c.text
	case mode == "Markdown":
		body["text"] = "*" + escapeWith(c.title, "_*`[") + "*\n" + c.text
	case mode == "MarkdownV2":
		body["text"] = "*" + escapeWith(c.title, "_*[]()~`>#+-=|{}.!\\") + "*\n" + c.text
	default:
		body["text"] = c.title + "\n\n" + c.text
	}
	return c.setJSON(body)
}

// telegramChatID checks chat_id: an integer id, or a string (@channel or a numeric id).
func telegramChatID(v any) (any, error) {
	if v == nil {
		return nil, errors.New("chat_id is required")
	}
	if s, ok := v.(string); ok {
		if strings.TrimSpace(s) == "" {
			return nil, errors.New("chat_id is required")
		}
		return strings.TrimSpace(s), nil
	}
	if n, ok := toInt(v); ok {
		return n, nil
	}
	return nil, fmt.Errorf("chat_id: want a chat id or @channelusername, got %s", describe(v))
}

// escapeWith puts a backslash before every character of s found in special.
func escapeWith(s, special string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(special, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// telegramRedactedPath masks the bot token in a Bot API path: /bot123:ABC/sendMessage
// becomes /bot***/sendMessage.
func telegramRedactedPath(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "bot") && len(s) > 3 {
			segs[i] = "bot***"
		}
	}
	return strings.Join(segs, "/")
}

// ntfyPriorities are the priority names ntfy accepts besides 1-5.
var ntfyPriorities = []string{"min", "low", "default", "high", "max", "urgent"}

// buildNtfy: POST the text as the body to the topic URL, everything else in headers.
// https://docs.ntfy.sh/publish/
func buildNtfy(c *notifyCall) error {
	if c.text == "" && !c.has("attach") {
		return errNoText("attach")
	}
	c.body = []byte(c.text)
	c.header.Set("Content-Type", "text/plain; charset=utf-8")
	set := func(name, value string) {
		if value != "" {
			c.header.Set(name, ntfyHeaderValue(value))
		}
	}
	set("Title", c.title)
	if p, ok := c.fields["priority"]; ok {
		s, isScalar := scalarString(p)
		n, err := strconv.Atoi(s)
		if !isScalar || (err != nil && !slices.Contains(ntfyPriorities, strings.ToLower(s))) || (err == nil && (n < 1 || n > 5)) {
			return fmt.Errorf("priority: want 1-5 or one of %s, got %s", strings.Join(ntfyPriorities, ", "), describe(p))
		}
		set("Priority", strings.ToLower(s))
	}
	if tags, _ := c.fields["tags"].([]string); len(tags) > 0 {
		set("Tags", strings.Join(tags, ","))
	}
	set("Click", c.str("click"))
	set("Icon", c.str("icon"))
	set("Attach", c.str("attach"))
	if md, _ := c.fields["markdown"].(bool); md {
		set("Markdown", "yes")
	}
	if a, ok := c.fields["actions"]; ok {
		s, isString := a.(string)
		if !isString {
			b, err := encodeJSON(a) // ntfy takes the JSON form in the header too
			if err != nil {
				return fmt.Errorf("actions: %w", err)
			}
			s = string(b)
		}
		set("Actions", s)
	}
	if err := c.ntfyAuth(); err != nil {
		return err
	}
	return c.addHeaders()
}

// ntfyAuth sets Authorization from token, or username and password.
func (c *notifyCall) ntfyAuth() error {
	token, user, pass := c.str("token"), c.str("username"), c.str("password")
	switch {
	case token != "" && (user != "" || pass != ""):
		return errors.New("token: give token or username and password, not both")
	case token != "":
		if err := checkHeader("Authorization", []string{token}); err != nil {
			return errors.New("token: control character in the token")
		}
		c.header.Set("Authorization", "Bearer "+token)
	case user != "" || pass != "":
		if user == "" {
			return errors.New("password: username is required with password")
		}
		c.header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	return nil
}

// ntfyHeaderValue encodes a value that is not printable ASCII as an RFC 2047 word,
// which ntfy decodes: HTTP header values cannot carry UTF-8 text (or line breaks).
func ntfyHeaderValue(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r > '~' }) < 0 {
		return s
	}
	return mime.BEncoding.Encode("UTF-8", s)
}

// addHeaders adds the headers field to the request, overriding what was built.
func (c *notifyCall) addHeaders() error {
	headers, err := multiMapParam(c.fields, "headers")
	if err != nil {
		return err
	}
	for name, values := range headers {
		if err := checkHeader(name, values); err != nil {
			return fmt.Errorf("headers: %w", err)
		}
		c.header.Del(name)
		for _, v := range values {
			c.header.Add(name, v)
		}
	}
	return nil
}

// buildGeneric: POST {"title", "text", ...fields} (title and text when given) to any
// JSON webhook, with the headers field as request headers.
func buildGeneric(c *notifyCall) error {
	body := maps.Clone(c.fields)
	delete(body, "headers")
	if c.title != "" {
		body["title"] = c.title
	}
	if c.text != "" {
		body["text"] = c.text
	}
	if err := c.setJSON(body); err != nil {
		return err
	}
	return c.addHeaders()
}
