package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/actions"
	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/triggers/schedule"
	"github.com/hookflow/hookflow/triggers/webhook"
	"github.com/hookflow/hookflow/workflows"
)

type serveCmd struct {
	dbFlag
	Dir            string        `name:"dir" env:"HOOKFLOW_DIR" default:"./workflows" help:"Workflow directory (subfolders included)."`
	Addr           string        `name:"addr" env:"HOOKFLOW_ADDR" default:"127.0.0.1:8080" help:"Listen address; HOST:0 picks a free port."`
	Workers        int           `name:"workers" default:"64" help:"Runs executed at once."`
	Grace          time.Duration `name:"grace" default:"10s" help:"How long running steps may finish after SIGTERM/SIGINT."`
	AllowExec      bool          `name:"allow-exec" help:"Allow the exec action."`
	Retention      string        `name:"retention" help:"Prune finished runs, deliveries and dedupe keys older than this (e.g. 30d); default: keep all."`
	TrustedProxies []string      `name:"trusted-proxies" help:"CIDRs whose X-Forwarded-For is believed."`
}

func (s *serveCmd) Run(e *env) error {
	ctx, stop := signal.NotifyContext(e.ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := e.log

	var ready atomic.Bool
	gin.SetMode(gin.ReleaseMode)
	gin.DefaultWriter, gin.DefaultErrorWriter = io.Discard, io.Discard
	router := gin.New()
	router.Use(gin.Recovery())
	if err := router.SetTrustedProxies(s.TrustedProxies); err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	router.GET("/healthz", func(c *gin.Context) {
		if !ready.Load() {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "starting"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	var hooks atomic.Pointer[webhook.Handler]
	router.Any(webhook.Prefix+"*path", func(c *gin.Context) {
		h := hooks.Load()
		if h == nil {
			c.Header("Retry-After", "1")
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "starting"})
			return
		}
		h.ServeGin(c)
	})

	if os.Getenv("GOGC") == "" {
		// The live heap of serve is a few MiB of short-lived request and run data: a
		// less eager collector costs tens of MiB and saves 5-10% CPU per request.
		debug.SetGCPercent(400)
	}
	if addr := os.Getenv("HOOKFLOW_PPROF"); addr != "" {
		// Profiling endpoints on a separate, explicitly requested address.
		go func() { log.Warn("pprof stopped", "err", http.ListenAndServe(addr, pprofMux())) }()
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Addr, err)
	}
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	st, err := openStore(s.DB)
	if err != nil {
		_ = srv.Close()
		return err
	}
	defer st.Close()
	var retention time.Duration
	if s.Retention != "" {
		if retention, err = workflows.ParseDuration(s.Retention); err != nil || retention <= 0 {
			_ = srv.Close()
			return fmt.Errorf("--retention %q: want a duration such as 30d or 72h", s.Retention)
		}
	}
	eng, err := newEngine(st, log, actions.Options{AllowExec: s.AllowExec}, engine.Config{Workers: s.Workers, Retention: retention})
	if err != nil {
		_ = srv.Close()
		return err
	}
	h := webhook.New(eng, log)
	sched := schedule.New(eng, st, log)
	ws, loadErr := workflows.LoadDir(s.Dir, eng.Specs())
	if err := apply(ctx, log, eng, h, sched, ws, loadErr); err != nil {
		_ = srv.Close()
		return err
	}
	hooks.Store(h)
	go func(current []*workflows.Workflow) {
		// Edits under --dir take effect without a restart; a broken edit keeps the
		// previous version serving.
		err := workflows.Watch(ctx, s.Dir, 200*time.Millisecond, func() {
			next, loadErr := workflows.Reload(s.Dir, eng.Specs(), current)
			current = next
			if err := apply(ctx, log, eng, h, sched, next, loadErr); err != nil {
				log.Error("reload workflows", "err", err)
			}
		})
		if err != nil {
			log.Error("workflow directory not watched: edits need a restart", "err", err)
		}
	}(ws)
	if err := eng.Start(ctx); err != nil {
		_ = srv.Close()
		return err
	}
	scheduled := make(chan struct{})
	go func() { sched.Run(ctx); close(scheduled) }()
	ready.Store(true)
	log.Info("serving", "dir", s.Dir, "db", s.DB, "workflows", len(ws))

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("stopping", "grace", s.Grace)
	grace, cancel := context.WithTimeout(context.Background(), s.Grace)
	defer cancel()
	stopErr := eng.Stop(grace) // intake answers 503 from here on
	<-scheduled
	shut, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	_ = srv.Shutdown(shut)
	if stopErr != nil {
		log.Warn("stopped with interrupted runs", "err", stopErr)
	}
	log.Info("stopped")
	return nil
}

// apply makes ws the served workflows and reports what did not load and what
// conflicts.
func apply(ctx context.Context, log *slog.Logger, eng *engine.Engine, h *webhook.Handler, sched *schedule.Scheduler, ws []*workflows.Workflow, loadErr error) error {
	for _, err := range unjoin(loadErr) {
		log.Error("workflow refused", "err", err.Error())
	}
	for _, c := range webhook.Conflicts(ws) {
		log.Warn("hook path conflict", "detail", c)
	}
	if err := eng.SetWorkflows(ctx, ws); err != nil {
		return err
	}
	h.SetWorkflows(ws)
	sched.SetWorkflows(ws)
	versions := make([]any, 0, 2*len(ws))
	for _, w := range ws {
		versions = append(versions, w.Name, w.Hash[:12])
	}
	log.Info("workflows loaded", versions...)
	return nil
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/heap", pprof.Handler("heap").ServeHTTP)
	return mux
}
