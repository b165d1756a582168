package actions

import (
	"math"
	"strings"
	"testing"
)

func TestHTTPBadParamsArePermanent(t *testing.T) {
	const u = "http://127.0.0.1:1/" // never reached: validation fails first
	tests := []struct {
		name string
		with map[string]any
		msg  string
	}{
		{"no url", map[string]any{}, "http: url is required"},
		{"null url", map[string]any{"url": nil}, "http: url is required"},
		{"empty url", map[string]any{"url": ""}, "http: url is required"},
		{"url not a string", map[string]any{"url": map[string]any{}}, "http: url: want a string, got map"},
		{"url not http", map[string]any{"url": "ftp://x/y"}, "want an http:// or https:// URL"},
		{"relative url", map[string]any{"url": "/path"}, "want an http:// or https:// URL"},
		{"url without host", map[string]any{"url": "http:///x"}, "has no host"},
		{"url unparsable", map[string]any{"url": "http://a b/"}, "http: url: "},
		{"bad method", map[string]any{"url": u, "method": "FETCH"}, `http: method: "FETCH" is not one of`},
		{"json and body", map[string]any{"url": u, "json": 1, "body": "x"}, "http: json and body: give only one of json, body and form"},
		{"body and form", map[string]any{"url": u, "body": "x", "form": map[string]any{}}, "give only one"},
		{"json not encodable", map[string]any{"url": u, "json": math.NaN()}, "http: json: "},
		{"form not a map", map[string]any{"url": u, "form": "a=b"}, "http: form: want a map, got string"},
		{"form value a map", map[string]any{"url": u, "form": map[string]any{"a": map[string]any{}}}, "http: form.a: "},
		{"headers not a map", map[string]any{"url": u, "headers": []any{"x"}}, "http: headers: want a map, got list"},
		{"header value with newline", map[string]any{"url": u, "headers": map[string]any{"X-A": "1\r\nX-B: 2"}}, "control character"},
		{"header name invalid", map[string]any{"url": u, "headers": map[string]any{"Bad Name": "1"}}, `invalid header name "Bad Name"`},
		{"query value a map", map[string]any{"url": u, "query": map[string]any{"a": map[string]any{}}}, "http: query.a: "},
		{"timeout not a duration", map[string]any{"url": u, "timeout": "soon"}, `http: timeout: want a duration such as "30s", got "soon"`},
		{"timeout a number", map[string]any{"url": u, "timeout": 30}, "got number"},
		{"timeout negative", map[string]any{"url": u, "timeout": "-1s"}, "negative"},
		{"expect junk", map[string]any{"url": u, "expect": []any{"abc"}}, `http: expect: element 0: want a status`},
		{"expect out of range", map[string]any{"url": u, "expect": []any{200, 700}}, "element 1"},
		{"expect a map", map[string]any{"url": u, "expect": map[string]any{}}, "want a list"},
		{"auth not a map", map[string]any{"url": u, "auth": "x"}, "http: auth: want a map"},
		{"auth empty", map[string]any{"url": u, "auth": map[string]any{}}, "auth: want basic or bearer"},
		{"auth both", map[string]any{"url": u, "auth": map[string]any{"bearer": "t", "basic": map[string]any{"username": "u"}}}, "not both"},
		{"auth unknown", map[string]any{"url": u, "auth": map[string]any{"digest": "t"}}, `unknown key "digest"`},
		{"auth bearer empty", map[string]any{"url": u, "auth": map[string]any{"bearer": ""}}, "http: auth.bearer is required"},
		{"auth basic without username", map[string]any{"url": u, "auth": map[string]any{"basic": map[string]any{"password": "p"}}}, "http: auth.basic.username is required"},
		{"auth basic unknown key", map[string]any{"url": u, "auth": map[string]any{"basic": map[string]any{"username": "u", "pass": "p"}}}, `unknown key "pass"`},
		{"auth and Authorization header", map[string]any{"url": u, "auth": map[string]any{"bearer": "t"}, "headers": map[string]any{"authorization": "x"}}, "already set Authorization"},
		{"idempotency_key not a bool", map[string]any{"url": u, "idempotency_key": "maybe"}, "http: idempotency_key: want true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runHTTP(t, tt.with)
			if err == nil {
				t.Fatal("Run succeeded, want an error")
			}
			if !IsPermanent(err) {
				t.Errorf("IsPermanent(%q) = false", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error = %q, want it to contain %q", err, tt.msg)
			}
		})
	}
}
