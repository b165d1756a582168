// Package webhook is the HTTP intake: it serves /hooks/<path>, reads and parses each
// request, routes it to the workflows whose method, verification and `when` it passes,
// records the delivery and its runs in one shared commit, and only then answers.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/storage"
	"github.com/hookflow/hookflow/workflows"
)

// Prefix is where hooks are served.
const Prefix = "/hooks/"

// Handler serves webhook intake. Its routes are swapped whole by SetWorkflows, so a
// reload never drops or half-routes a request.
type Handler struct {
	engine *engine.Engine
	log    *slog.Logger
	routes atomic.Pointer[table]
}

// New returns a handler that starts runs on e.
func New(e *engine.Engine, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{engine: e, log: log}
	h.routes.Store(&table{})
	return h
}

// Register mounts the intake on r at /hooks/*path.
func (h *Handler) Register(r gin.IRouter) {
	r.Any(Prefix+"*path", h.ServeGin)
}

// SetWorkflows routes hooks to the webhook triggers of ws.
func (h *Handler) SetWorkflows(ws []*workflows.Workflow) {
	t := table{}
	for _, w := range ws {
		if w.On.Webhook == nil {
			continue
		}
		t[w.On.Webhook.Path] = append(t[w.On.Webhook.Path], newRoute(w))
	}
	h.routes.Store(&t)
}

// table maps a hook path (without /hooks/) to the workflows it serves.
type table map[string][]*route

type route struct {
	wf        *workflows.Workflow
	hook      *workflows.Webhook
	methods   map[string]bool
	key       *workflows.Expr // concurrency.key
	creds     credentials     // where verification carries secrets, to mask
	needsBody bool            // routing reads the parsed body
	trivial   bool            // no expression at all: no variables to build
}

func newRoute(w *workflows.Workflow) *route {
	r := &route{wf: w, hook: w.On.Webhook, methods: map[string]bool{}}
	for _, m := range r.hook.Methods {
		r.methods[m] = true
	}
	if w.Concurrency != nil {
		r.key = w.Concurrency.Key
	}
	r.creds = credentialsOf(r.hook.Verify)
	r.trivial = r.hook.When == nil && r.hook.Dedupe == nil && r.key == nil && r.hook.Verify == nil
	r.needsBody = !r.trivial || r.hook.Batch
	return r
}

// request is one intake request on its way through the handler.
type request struct {
	c        *gin.Context
	delivery *storage.Delivery
	event    *engine.Event
	raw      []byte
}

// reject records the delivery with its status and answers {"error": msg}.
func (h *Handler) reject(rq *request, status int, msg string) {
	rq.delivery.StatusCode = status
	rq.delivery.Error = msg
	if err := h.engine.Record(rq.c.Request.Context(), rq.delivery); err != nil {
		h.log.Error("record rejected delivery", "path", rq.delivery.Path, "status", status, "err", err)
	}
	if status == http.StatusServiceUnavailable {
		rq.c.Header("Retry-After", "1")
	}
	rq.c.JSON(status, gin.H{"error": msg})
}

// ServeGin handles one intake request.
func (h *Handler) ServeGin(c *gin.Context) {
	now := h.engine.Now()
	path := strings.TrimPrefix(c.Param("path"), "/")
	headers := flattenHeaders(c.Request.Header)
	rq := &request{c: c, delivery: &storage.Delivery{
		Method: c.Request.Method, Path: c.Request.URL.Path, Headers: headers, ReceivedAt: now,
	}}

	select {
	case <-h.engine.Stopping():
		h.reject(rq, http.StatusServiceUnavailable, "shutting down")
		return
	default:
	}
	routes := (*h.routes.Load())[path]
	if len(routes) == 0 {
		h.reject(rq, http.StatusNotFound, "no workflow serves this hook")
		return
	}
	var allowed []*route
	for _, r := range routes {
		if r.methods[c.Request.Method] {
			allowed = append(allowed, r)
		}
	}
	if len(allowed) == 0 {
		c.Header("Allow", allowedMethods(routes))
		h.reject(rq, http.StatusMethodNotAllowed, "method not allowed")
		return
	}

	ip, allowed := clientAllowed(c, allowed)
	if len(allowed) == 0 {
		h.reject(rq, http.StatusForbidden, "client address not allowed")
		return
	}
	var limit int64
	needsBody := false
	for _, r := range allowed {
		limit = max(limit, r.hook.MaxBody)
		needsBody = needsBody || r.needsBody
	}

	raw, err := io.ReadAll(io.LimitReader(c.Request.Body, limit+1))
	rq.delivery.Body = raw
	if err != nil {
		h.reject(rq, http.StatusBadRequest, "could not read the request body")
		return
	}
	if int64(len(raw)) > limit {
		rq.delivery.Body = raw[:limit]
		h.reject(rq, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", limit))
		return
	}
	rq.raw = raw
	rq.event = &engine.Event{
		Type: engine.EventWebhook, Time: now, Method: c.Request.Method, Path: c.Request.URL.Path,
		IP: ip.String(), Headers: headers, Query: flattenQuery(c.Request.URL.Query()),
		Raw: string(raw), FromRaw: true,
	}
	// The body is parsed here only when routing needs it (parsing checks it too);
	// otherwise a cheap validity check will do and the run parses it when it starts.
	if needsBody {
		err = rq.event.ParseBody()
	} else {
		err = engine.ValidBody(c.ContentType(), raw)
	}
	if err != nil {
		h.reject(rq, http.StatusBadRequest, err.Error())
		return
	}
	maskCredentials(rq, allowed)
	h.accept(rq, allowed)
}

// accept routes the request to every allowed workflow whose `when` passes, stores the
// delivery with its runs and answers.
func (h *Handler) accept(rq *request, routes []*route) {
	var runs []*storage.Run
	var sync *route
	unverified := 0
	for _, r := range routes {
		rs, err := h.runsFor(rq, r)
		if errors.Is(err, errUnverified) {
			unverified++
			lvl := slog.LevelInfo
			if errors.Is(err, ErrParams) { // e.g. an unset secret: the workflow's fault
				lvl = slog.LevelError
			}
			h.log.Log(rq.c.Request.Context(), lvl, "webhook not verified", "workflow", r.wf.Name, "err", err)
			continue
		}
		if err != nil {
			h.log.Warn("webhook routing", "workflow", r.wf.Name, "err", err)
			continue
		}
		if len(rs) > 0 && r.hook.Respond == workflows.RespondSync && sync == nil {
			sync = r
		}
		runs = append(runs, rs...)
	}
	if unverified == len(routes) {
		// The same answer whatever failed: no hint for a forger.
		h.reject(rq, http.StatusUnauthorized, "verification failed")
		return
	}
	rq.delivery.StatusCode = http.StatusAccepted
	if len(runs) == 0 {
		rq.delivery.StatusCode = http.StatusOK
	}
	ctx := rq.c.Request.Context()
	results, err := h.engine.Accept(ctx, rq.delivery, runs, sync != nil)
	if err != nil {
		if errors.Is(err, storage.ErrOverloaded) || errors.Is(err, engine.ErrStopping) {
			h.reject(rq, http.StatusServiceUnavailable, "overloaded, retry later")
			return
		}
		h.log.Error("record delivery", "path", rq.delivery.Path, "err", err)
		rq.c.Header("Retry-After", "1")
		rq.c.JSON(http.StatusServiceUnavailable, gin.H{"error": "could not store the delivery"})
		return
	}
	if sync != nil {
		if h.respondSync(rq, sync, runs, results) {
			// The answer came from the run: the delivery's record says which it was.
			if status := rq.c.Writer.Status(); status != rq.delivery.StatusCode {
				if err := h.engine.SetDeliveryStatus(context.Background(), rq.delivery.ID, status); err != nil {
					h.log.Error("record sync answer", "delivery_id", rq.delivery.ID, "err", err)
				}
			}
			return
		}
	}
	h.respondAsync(rq, runs)
}

// runsFor returns the runs the request starts for one workflow (none when `when` does
// not match; one per element of a batch).
func (h *Handler) runsFor(rq *request, r *route) ([]*storage.Run, error) {
	var vars map[string]any
	if !r.trivial {
		var err error
		if vars, err = h.engine.TriggerVars(r.wf, rq.event); err != nil {
			return nil, err
		}
	}
	if v := r.hook.Verify; v != nil {
		if err := h.verify(rq, v, vars); err != nil {
			return nil, err
		}
	}
	if r.hook.When != nil {
		ok, err := r.hook.When.Bool(vars)
		if err != nil {
			return nil, fmt.Errorf("when: %w", err)
		}
		if !ok {
			return nil, nil
		}
	}
	events := []*engine.Event{rq.event}
	if list, ok := rq.event.Body.([]any); ok && r.hook.Batch {
		events = events[:0]
		for _, item := range list {
			ev := *rq.event
			ev.Body, ev.FromRaw = item, false
			events = append(events, &ev)
		}
	}
	runs := make([]*storage.Run, 0, len(events))
	for _, ev := range events {
		run, err := engine.NewRun(r.wf, ev, storage.TriggerWebhook)
		if err != nil {
			return nil, err
		}
		if r.hook.Dedupe != nil {
			key, err := keyOf(r.hook.Dedupe, ev, rq.event, vars)
			if err != nil {
				return nil, fmt.Errorf("dedupe: %w", err)
			}
			run.DedupeKey, run.DedupeUntil = key, ev.Time.Add(r.hook.DedupeWindow)
		}
		if r.key != nil {
			key, err := keyOf(r.key, ev, rq.event, vars)
			if err != nil {
				return nil, fmt.Errorf("concurrency key: %w", err)
			}
			run.ConcurrencyKey = key
		}
		runs = append(runs, run)
	}
	return runs, nil
}

// errUnverified marks a request that failed a workflow's verify block.
var errUnverified = errors.New("not verified")

// verify renders the verify parameters (secrets, env) and checks the request.
func (h *Handler) verify(rq *request, v *workflows.Verify, vars map[string]any) error {
	params := make(map[string]any, len(v.Params))
	for k, p := range v.Params {
		val, err := p.Render(vars)
		if err != nil {
			return fmt.Errorf("%w: %w: render verify %s: %w", errUnverified, ErrParams, k, err)
		}
		params[k] = val
	}
	err := Verify(v.Scheme, params, Request{
		Header: rq.c.Request.Header, Query: rq.c.Request.URL.Query(),
		// The raw bytes as received: the event and the records have credentials masked.
		Raw: rq.raw, Now: rq.event.Time,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", errUnverified, err)
	}
	return nil
}

// keyOf evaluates a key expression for one event (a batch element has its own).
func keyOf(x *workflows.Expr, ev, request *engine.Event, vars map[string]any) (string, error) {
	if ev != request {
		v := make(map[string]any, len(vars))
		for k, val := range vars {
			v[k] = val
		}
		v["event"] = ev.Vars()
		vars = v
	}
	return x.Key(vars)
}

// clientAllowed returns the client address (X-Forwarded-For counts only from trusted
// proxies, as configured on the gin engine) and the routes whose ip_allow admits it.
func clientAllowed(c *gin.Context, routes []*route) (netip.Addr, []*route) {
	ip, err := netip.ParseAddr(c.ClientIP())
	ip = ip.Unmap()
	var out []*route
	for _, r := range routes {
		if len(r.hook.IPAllow) == 0 {
			out = append(out, r)
			continue
		}
		if err != nil {
			continue
		}
		for _, p := range r.hook.IPAllow {
			if p.Contains(ip) {
				out = append(out, r)
				break
			}
		}
	}
	return ip, out
}

func allowedMethods(routes []*route) string {
	seen := map[string]bool{}
	var out []string
	for _, r := range routes {
		for _, m := range r.hook.Methods {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return strings.Join(out, ", ")
}
