package main

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestAuthCost(t *testing.T) {
	throughput, cpu := authCost([]float64{95, 100, 102}, []float64{100, 100, 100}, []float64{105, 90, 100}, []float64{100, 100, 100})
	for i, want := range []float64{5, 0, -2} {
		if math.Abs(throughput[i]-want) > 1e-9 {
			t.Errorf("round %d: throughput cost %v %%, want %v %%", i+1, throughput[i], want)
		}
	}
	for i, want := range []float64{5, -10, 0} {
		if math.Abs(cpu[i]-want) > 1e-9 {
			t.Errorf("round %d: CPU cost %v %%, want %v %%", i+1, cpu[i], want)
		}
	}
}

// keyServer answers POST /gifts 201 and POST /gifts/{id}/send 202 when the request carries the
// key, 401 otherwise, and counts both.
func keyServer(t *testing.T, authorization string) (url string, good, bad *atomic.Int64) {
	t.Helper()
	good, bad = &atomic.Int64{}, &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := r.Method == http.MethodPost && r.Header.Get("Authorization") == authorization
		switch {
		case ok && r.URL.Path == "/gifts":
			good.Add(1)
			w.WriteHeader(http.StatusCreated)
		case ok && strings.HasSuffix(r.URL.Path, "/send") && r.Header.Get("Idempotency-Key") != "":
			good.Add(1)
			w.WriteHeader(http.StatusAccepted)
		default:
			bad.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, good, bad
}

// Every request of the load generators carries the bench's key: the Go generator's and wrk's,
// creates and sends.
func TestLoadCarriesTheKey(t *testing.T) {
	ctx := context.Background()
	b := &bench{duration: time.Second, authorization: "Bearer gk_0123abcd_" + strings.Repeat("k", 43)}
	base, good, bad := keyServer(t, b.authorization)
	httpc := &http.Client{Timeout: 5 * time.Second}
	if err := b.createGifts(httpc, base)(ctx, 0); err != nil {
		t.Fatalf("POST /gifts by the Go generator: %v", err)
	}
	if b.wrk, _ = exec.LookPath("wrk"); b.wrk == "" {
		t.Skip("wrk is not installed: its scripts are not checked")
	}
	ids := make([]string, 200000) // more than wrk sends in a second on loopback
	for i := range ids {
		ids[i] = "g" + strconv.Itoa(i)
	}
	for _, ids := range [][]string{nil, ids} {
		before := good.Load()
		if _, err := b.saturate(ctx, 1, base, ids, nil); err != nil {
			t.Fatal(err)
		}
		if good.Load() == before {
			t.Errorf("wrk (send: %v) made no request with the key", ids != nil)
		}
	}
	if n := bad.Load(); n > 0 {
		t.Fatalf("%d requests without the key or malformed", n)
	}
}
