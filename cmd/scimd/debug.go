package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// serveDebug serves Go's profiler (/debug/pprof/) on addr, apart from the
// SCIM listener, until ctx ends: CPU and heap profiles of a running server
// for performance work (docs/operations.md). It is off unless --debug-listen
// names an address, and that address should be a loopback one: a profile
// shows the server's code paths and timing, never request data.
func serveDebug(ctx context.Context, e *env, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.logger.Error("debug listener stopped", "err", err)
		}
	}()
	e.logger.Info("profiler listening", "addr", ln.Addr().String())
	return nil
}
