//go:build pprof

package main

import (
	"net/http"
	"net/http/pprof"
	"os"
	"time"
)

// Built with -tags pprof only (giftbench -cpuprofile): serves net/http/pprof on API_PPROF_ADDR, a
// listener apart from the API's own. Production images are built without the tag.
func init() {
	addr := os.Getenv("API_PPROF_ADDR")
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.ListenAndServe() }()
}
