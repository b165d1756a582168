package actions

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// received is what a test server saw of one request.
type received struct {
	method string
	path   string
	query  string // raw
	host   string
	header http.Header
	body   string
}

// testServer is an httptest server that records every request before handing it to
// its handler.
type testServer struct {
	url  string
	reqs chan received
}

// serve starts a test server; handler nil answers 200 "ok".
func serve(t *testing.T, handler http.HandlerFunc) *testServer {
	t.Helper()
	s := &testServer{reqs: make(chan received, 64)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.reqs <- received{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header.Clone(), string(body)}
		if handler == nil {
			io.WriteString(w, "ok")
			return
		}
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// next returns the next request the server received.
func (s *testServer) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-s.reqs:
		return r
	default:
		t.Fatal("the server received no request")
		return received{}
	}
}

// input is the Input of a step outside foreach.
func input(with map[string]any) Input {
	return Input{With: with, RunID: "run1", StepID: "call", Index: -1, Attempt: 1}
}

// runHTTP runs the zero HTTP action (the package's default client) with with.
func runHTTP(t *testing.T, with map[string]any) (map[string]any, error) {
	t.Helper()
	out, err := (&HTTP{}).Run(context.Background(), input(with))
	m, _ := out.(map[string]any)
	return m, err
}

func TestHTTPRequest(t *testing.T) {
	tests := []struct {
		name  string
		path  string // appended to the server URL
		with  map[string]any
		check func(t *testing.T, r received)
	}{
		{"GET by default", "/a", map[string]any{}, func(t *testing.T, r received) {
			want(t, "method", r.method, "GET")
			want(t, "path", r.path, "/a")
			want(t, "body", r.body, "")
			want(t, "content-type", r.header.Get("Content-Type"), "")
			want(t, "user-agent", r.header.Get("User-Agent"), "hookflow")
		}},
		{"POST by default with json", "/", map[string]any{"json": map[string]any{"a": 1}}, func(t *testing.T, r received) {
			want(t, "method", r.method, "POST")
			want(t, "content-type", r.header.Get("Content-Type"), "application/json")
			want(t, "body", r.body, `{"a":1}`)
		}},
		{"method in any case", "/", map[string]any{"method": "patch", "json": "x"}, func(t *testing.T, r received) {
			want(t, "method", r.method, "PATCH")
			want(t, "body", r.body, `"x"`)
		}},
		{"DELETE", "/", map[string]any{"method": "DELETE"}, func(t *testing.T, r received) {
			want(t, "method", r.method, "DELETE")
		}},
		{"headers", "/", map[string]any{"headers": map[string]any{
			"X-Token": "abc", "x-multi": []any{"a", "b"}, "X-Num": 5, "X-Gone": nil,
		}}, func(t *testing.T, r received) {
			want(t, "x-token", r.header.Get("X-Token"), "abc")
			want(t, "x-multi", strings.Join(r.header.Values("X-Multi"), ","), "a,b")
			want(t, "x-num", r.header.Get("X-Num"), "5")
			want(t, "x-gone present", len(r.header.Values("X-Gone")), 0)
		}},
		{"host header", "/", map[string]any{"headers": map[string]any{"Host": "api.example.test"}}, func(t *testing.T, r received) {
			want(t, "host", r.host, "api.example.test")
		}},
		{"query appended to the url's own", "/p?a=1&z=%2F", map[string]any{"query": map[string]any{
			"b": 2, "c": []any{"x", "y"}, "a": "z", "f": 2.5, "t": true,
		}}, func(t *testing.T, r received) {
			want(t, "query", r.query, "a=1&z=%2F&a=z&b=2&c=x&c=y&f=2.5&t=true")
		}},
		{"content type from headers wins", "/", map[string]any{
			"headers": map[string]any{"content-type": "application/vnd.api+json"},
			"json":    map[string]any{"a": "b"},
		}, func(t *testing.T, r received) {
			want(t, "content-type", r.header.Get("Content-Type"), "application/vnd.api+json")
		}},
		{"string body as is", "/", map[string]any{"method": "PUT", "body": "raw <text>\n"}, func(t *testing.T, r received) {
			want(t, "method", r.method, "PUT")
			want(t, "body", r.body, "raw <text>\n")
			want(t, "content-type", r.header.Get("Content-Type"), "")
		}},
		{"non-string body as JSON", "/", map[string]any{"body": map[string]any{"k": []any{1, 2}}}, func(t *testing.T, r received) {
			want(t, "body", r.body, `{"k":[1,2]}`)
			want(t, "content-type", r.header.Get("Content-Type"), "application/json")
		}},
		{"form", "/", map[string]any{"form": map[string]any{"a": "1 2", "b": []any{"x", 3}}}, func(t *testing.T, r received) {
			want(t, "method", r.method, "POST")
			want(t, "content-type", r.header.Get("Content-Type"), "application/x-www-form-urlencoded")
			want(t, "body", r.body, "a=1+2&b=x&b=3")
		}},
		{"basic auth", "/", map[string]any{"auth": map[string]any{
			"basic": map[string]any{"username": "ann", "password": "s3cr:et"},
		}}, func(t *testing.T, r received) {
			req := &http.Request{Header: r.header}
			user, pass, ok := req.BasicAuth()
			want(t, "basic auth", [3]any{user, pass, ok}, [3]any{"ann", "s3cr:et", true})
		}},
		{"bearer auth", "/", map[string]any{"auth": map[string]any{"bearer": "tok-1"}}, func(t *testing.T, r received) {
			want(t, "authorization", r.header.Get("Authorization"), "Bearer tok-1")
		}},
		{"numbers stay numbers", "/", map[string]any{"json": map[string]any{
			"int": 2000, "float": float64(2000), "frac": 2.5, "big": 9007199254740993,
			"nested": map[string]any{"list": []any{1, "a", nil, true}},
		}}, func(t *testing.T, r received) {
			want(t, "body", r.body, `{"big":9007199254740993,"float":2000,"frac":2.5,"int":2000,"nested":{"list":[1,"a",null,true]}}`)
		}},
		{"no HTML escaping", "/", map[string]any{"json": map[string]any{"q": "a<b&c>"}}, func(t *testing.T, r received) {
			want(t, "body", r.body, `{"q":"a<b&c>"}`)
		}},
		{"json list body", "/", map[string]any{"json": []any{1, 2}}, func(t *testing.T, r received) {
			want(t, "body", r.body, `[1,2]`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(t, nil)
			tt.with["url"] = s.url + tt.path
			out, err := runHTTP(t, tt.with)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			want(t, "status", out["status"], 200)
			tt.check(t, s.next(t))
		})
	}
}

func TestHTTPResponse(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        any
	}{
		{"JSON object", "application/json; charset=utf-8",
			`{"id": 9007199254740993, "ok": true, "ratio": 0.5, "tags": ["a"], "none": null}`,
			map[string]any{"id": 9007199254740993, "ok": true, "ratio": 0.5, "tags": []any{"a"}, "none": nil}},
		{"JSON list", "application/json", `[1, 2.5]`, []any{1, 2.5}},
		{"+json type", "application/problem+json", `{"title":"x"}`, map[string]any{"title": "x"}},
		{"text", "text/plain", "hello\n", "hello\n"},
		{"JSON text without JSON type", "text/plain", `{"a":1}`, `{"a":1}`},
		{"malformed JSON kept as text", "application/json", `{"a":`, `{"a":`},
		{"trailing data kept as text", "application/json", `{"a":1} x`, `{"a":1} x`},
		{"empty JSON body", "application/json", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				io.WriteString(w, tt.body)
			})
			out, err := runHTTP(t, map[string]any{"url": s.url})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			want(t, "body", out["body"], tt.want)
		})
	}
}

func TestHTTPResponseShape(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.WriteHeader(http.StatusCreated)
	})
	out, err := runHTTP(t, map[string]any{"url": s.url})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want(t, "status", out["status"], 201)
	headers := out["headers"].(map[string]any)
	want(t, "x-multi", headers["x-multi"], "a, b")
	want(t, "content-length", headers["content-length"], "0")
	if _, ok := out["duration_ms"].(int); !ok {
		t.Errorf("duration_ms = %#v, want an int", out["duration_ms"])
	}
	want(t, "keys", len(out), 4)
}

func TestHTTPExpect(t *testing.T) {
	tests := []struct {
		status int
		expect any
		ok     bool
	}{
		{200, nil, true},
		{204, nil, true},
		{201, []any{201}, true},
		{200, []any{201}, false},
		{201, []any{"201"}, true},
		{201, []any{float64(201)}, true},
		{404, []any{200, 404}, true},
		{404, []any{"4xx"}, true},
		{302, []any{"3XX"}, true},
		{500, []any{"2xx"}, false},
		{503, []any{503}, true},
		{204, []any{}, true}, // empty list: the default
		{204, 204, true},     // a single value counts as a list of one
	}
	for _, tt := range tests {
		s := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tt.status) })
		out, err := runHTTP(t, map[string]any{"url": s.url, "expect": tt.expect})
		if (err == nil) != tt.ok {
			t.Errorf("status %d, expect %v: err = %v, want ok = %v", tt.status, tt.expect, err, tt.ok)
		}
		want(t, "status", out["status"], tt.status)
	}
}

func TestHTTPStatusErrors(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		status     int
		retryAfter string
		permanent  bool
		delayMin   time.Duration // 0: no delay requested
		delayMax   time.Duration
	}{
		{"503", 503, "", false, 0, 0},
		{"500", 500, "", false, 0, 0},
		{"502 with Retry-After", 502, "3", false, 3 * time.Second, 3 * time.Second},
		{"408", 408, "", false, 0, 0},
		{"429", 429, "", false, 0, 0},
		{"503 with Retry-After seconds", 503, "7", false, 7 * time.Second, 7 * time.Second},
		{"429 with Retry-After seconds", 429, "120", false, 2 * time.Minute, 2 * time.Minute},
		{"429 with Retry-After date", 429, date, false, 80 * time.Second, 90 * time.Second},
		{"503 with malformed Retry-After", 503, "soon", false, 0, 0},
		{"400", 400, "", true, 0, 0},
		{"401", 401, "", true, 0, 0},
		{"404", 404, "", true, 0, 0},
		{"422 with Retry-After", 422, "5", true, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				io.WriteString(w, `{"error":"nope"}`)
			})
			out, err := runHTTP(t, map[string]any{"url": s.url + "/y", "method": "POST"})
			if err == nil {
				t.Fatal("Run succeeded, want an error")
			}
			want(t, "IsPermanent", IsPermanent(err), tt.permanent)
			d, ok := RetryDelay(err)
			want(t, "has retry delay", ok, tt.delayMin > 0)
			if ok && (d < tt.delayMin || d > tt.delayMax) {
				t.Errorf("RetryDelay = %v, want between %v and %v", d, tt.delayMin, tt.delayMax)
			}
			msg := "http: POST " + s.url + "/y: unexpected status " + itoa(tt.status) + `: {"error":"nope"}`
			want(t, "error", err.Error(), msg)
			// The output comes with the error, for the history.
			want(t, "output status", out["status"], tt.status)
			want(t, "output body", out["body"], map[string]any{"error": "nope"})
		})
	}
}

func TestHTTPErrorQuotesOnlyABodyPrefix(t *testing.T) {
	long := strings.Repeat("é", 300) // 600 bytes
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, "\n  line one\n\tline two  "+long)
	})
	_, err := runHTTP(t, map[string]any{"url": s.url})
	if err == nil {
		t.Fatal("Run succeeded, want an error")
	}
	_, quoted, _ := strings.Cut(err.Error(), "unexpected status 500: ")
	if !strings.HasPrefix(quoted, "line one line two éé") || !strings.HasSuffix(quoted, "…") {
		t.Errorf("quoted body = %q", quoted)
	}
	if n := len(strings.TrimSuffix(quoted, "…")); n > 200 {
		t.Errorf("quoted %d bytes, want at most 200", n)
	}
}

func TestHTTPTimeout(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answer never; the client gives up
	})
	t.Run("timeout parameter", func(t *testing.T) {
		_, err := runHTTP(t, map[string]any{"url": s.url, "timeout": "50ms"})
		if err == nil {
			t.Fatal("Run succeeded, want a timeout")
		}
		want(t, "IsPermanent", IsPermanent(err), false)
		want(t, "is DeadlineExceeded", errors.Is(err, context.DeadlineExceeded), true)
		if !strings.Contains(err.Error(), "no response within 50ms") {
			t.Errorf("error = %q, want it to name the timeout", err)
		}
	})
	t.Run("step deadline from the context", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := (&HTTP{}).Run(ctx, input(map[string]any{"url": s.url}))
		if err == nil {
			t.Fatal("Run succeeded, want a timeout")
		}
		want(t, "IsPermanent", IsPermanent(err), false)
		want(t, "is DeadlineExceeded", errors.Is(err, context.DeadlineExceeded), true)
	})
}

func TestHTTPNetworkErrorIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := runHTTP(t, map[string]any{"url": url})
	if err == nil {
		t.Fatal("Run succeeded against a closed server")
	}
	want(t, "IsPermanent", IsPermanent(err), false)
	if !strings.HasPrefix(err.Error(), "http: GET "+url+": ") {
		t.Errorf("error = %q, want it to start with the method and URL", err)
	}
}

func TestHTTPIdempotencyKey(t *testing.T) {
	s := serve(t, nil)
	tests := []struct {
		name string
		in   Input
		want string // "" for no header
	}{
		{"attempt 1", Input{RunID: "r1", StepID: "pay", Index: -1, Attempt: 1}, "r1/pay"},
		{"attempt 2 is the same", Input{RunID: "r1", StepID: "pay", Index: -1, Attempt: 2}, "r1/pay"},
		{"inside foreach", Input{RunID: "r1", StepID: "pay", Index: 3, Attempt: 1}, "r1/pay/3"},
		{"foreach index 0", Input{RunID: "r1", StepID: "pay", Index: 0, Attempt: 4}, "r1/pay/0"},
		{"disabled", Input{RunID: "r1", StepID: "pay", Index: -1,
			With: map[string]any{"idempotency_key": false}}, ""},
		{"disabled by a rendered string", Input{RunID: "r1", StepID: "pay", Index: -1,
			With: map[string]any{"idempotency_key": "false"}}, ""},
		{"a key in headers wins", Input{RunID: "r1", StepID: "pay", Index: -1,
			With: map[string]any{"headers": map[string]any{"idempotency-key": "mine"}}}, "mine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if in.With == nil {
				in.With = map[string]any{}
			}
			in.With["url"] = s.url
			in.With["json"] = map[string]any{"a": 1}
			if _, err := (&HTTP{}).Run(context.Background(), in); err != nil {
				t.Fatalf("Run: %v", err)
			}
			r := s.next(t)
			want(t, "Idempotency-Key", r.header.Get("Idempotency-Key"), tt.want)
			want(t, "Idempotency-Key count", len(r.header.Values("Idempotency-Key")), min(1, len(tt.want)))
		})
	}
}

func TestHTTPResponseCap(t *testing.T) {
	body := strings.Repeat("x", 1024)
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			io.WriteString(w, body+"y")
			return
		}
		io.WriteString(w, body)
	})
	h := &HTTP{MaxResponseBody: 1024}
	out, err := h.Run(context.Background(), input(map[string]any{"url": s.url + "/fits"}))
	if err != nil {
		t.Fatalf("Run at the cap: %v", err)
	}
	want(t, "body", out.(map[string]any)["body"], body)

	_, err = h.Run(context.Background(), input(map[string]any{"url": s.url + "/big"}))
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Fatalf("Run over the cap: err = %v, want a permanent size error", err)
	}
}

func TestHTTPRedirects(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/new", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			io.WriteString(w, r.Method+" "+r.URL.Path)
		}
	})
	t.Run("GET follows", func(t *testing.T) {
		out, err := runHTTP(t, map[string]any{"url": s.url + "/old"})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		want(t, "body", out["body"], "GET /new")
		drain(s)
	})
	t.Run("POST does not follow", func(t *testing.T) {
		_, err := runHTTP(t, map[string]any{"url": s.url + "/old", "json": 1})
		if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "unexpected status 302") {
			t.Fatalf("err = %v, want a permanent unexpected status 302", err)
		}
		want(t, "requests", drain(s), 1)
	})
	t.Run("POST expecting 3xx", func(t *testing.T) {
		out, err := runHTTP(t, map[string]any{"url": s.url + "/old", "json": 1, "expect": []any{"3xx"}})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		want(t, "status", out["status"], 302)
		want(t, "location", out["headers"].(map[string]any)["location"], "/new")
		drain(s)
	})
	t.Run("redirect loop is final", func(t *testing.T) {
		_, err := runHTTP(t, map[string]any{"url": s.url + "/loop"})
		if err == nil || !IsPermanent(err) {
			t.Fatalf("err = %v, want a permanent error", err)
		}
		drain(s)
	})
}

// drain empties the server's request log and returns how many requests it held.
func drain(s *testServer) int {
	for n := 0; ; n++ {
		select {
		case <-s.reqs:
		default:
			return n
		}
	}
}

// want fails the test unless got deeply equals w.
func want(t *testing.T, what string, got, w any) {
	t.Helper()
	if !reflect.DeepEqual(got, w) {
		t.Errorf("%s = %#v, want %#v", what, got, w)
	}
}

func itoa(n int) string { s, _ := scalarString(n); return s }

// BenchmarkHTTPParallel measures the http action against a local sink, the shape of the
// end-to-end benchmark: many concurrent calls to one host over the shared pool.
func BenchmarkHTTPParallel(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	h := NewRegistry(Options{}).actions["http"]
	with := map[string]any{"url": srv.URL + "/sink", "json": map[string]any{"id": 1, "amount": 2000}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Run(context.Background(), input(with)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
