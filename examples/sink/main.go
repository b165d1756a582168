// Command sink is a stand-in for the APIs the examples call (directory, bookings,
// identity, CRM, deploy, accounting): it logs every request it receives and answers
// 200 with a small JSON body. Run it beside `hookflow serve --dir examples` for the
// README tour; the examples' default URLs point at it (127.0.0.1:9100).
package main

import (
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"strings"
	"sync/atomic"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9100", "listen address")
	flag.Parse()
	var n atomic.Int64
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		id := n.Add(1)
		log.Printf("#%d %s %s %s", id, r.Method, r.URL.RequestURI(), strings.TrimSpace(string(body)))
		w.Header().Set("Content-Type", "application/json")
		out := map[string]any{"id": id, "ok": true}
		if strings.Contains(r.URL.Path, "/users/") {
			// The identity example reads the user's email and name.
			out = map[string]any{"id": r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:], "email": "ada@example.com", "name": "Ada Lovelace"}
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	log.Printf("sink listening on http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
