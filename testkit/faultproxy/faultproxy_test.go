package faultproxy_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/testkit/faultproxy"
)

// echo starts a line echo server and returns its address.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends one line through addr and returns what came back, or the error.
func roundTrip(addr string, deadline time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, deadline)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(deadline))
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func TestProxyForwardsUntouchedTraffic(t *testing.T) {
	fp := faultproxy.Start(t)
	p := fp.Proxy(t, "echo", echo(t))
	if p.Addr() == p.Upstream() || !strings.HasPrefix(p.Addr(), "127.0.0.1:") {
		t.Fatalf("proxy address %q (upstream %q)", p.Addr(), p.Upstream())
	}
	if got, err := roundTrip(p.Addr(), 10*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("round trip: %q %v", got, err)
	}
}

func TestLatencyDelaysEveryResponse(t *testing.T) {
	served := make(chan time.Time, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served <- time.Now()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	fp := faultproxy.Start(t)
	p := fp.Proxy(t, "http", strings.TrimPrefix(srv.URL, "http://"))
	p.AddLatency(faultproxy.Downstream, 300*time.Millisecond, 0)

	resp, err := http.Get("http://" + p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	// The response was held back in the proxy: it reached the client at least the latency after
	// the server wrote it (a lower bound only: the toxic's own guarantee, not a speed claim).
	if delay := time.Since(<-served); delay < 300*time.Millisecond {
		t.Fatalf("response arrived %s after the server wrote it; the latency toxic is not applied", delay)
	}
}

func TestResetPeerBreaksTheConnectionUntilRemoved(t *testing.T) {
	fp := faultproxy.Start(t)
	p := fp.Proxy(t, "echo", echo(t))
	reset := p.ResetPeer(faultproxy.Upstream, 0)
	if got, err := roundTrip(p.Addr(), 10*time.Second); err == nil {
		t.Fatalf("round trip through reset_peer succeeded: %q", got)
	} else if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Fatalf("round trip through reset_peer: %v, want a reset connection", err)
	}
	reset.Remove()
	if got, err := roundTrip(p.Addr(), 10*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("round trip after removing the toxic: %q %v", got, err)
	}
}

func TestTimeoutHoldsTheRequestUntilRemoveAll(t *testing.T) {
	fp := faultproxy.Start(t)
	p := fp.Proxy(t, "echo", echo(t))
	p.Timeout(faultproxy.Upstream, 0)
	if got, err := roundTrip(p.Addr(), 300*time.Millisecond); err == nil {
		t.Fatalf("round trip through a black hole answered %q", got)
	} else if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
		t.Fatalf("round trip through a black hole: %v, want the client's own deadline", err)
	}
	p.RemoveAll()
	if got, err := roundTrip(p.Addr(), 10*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("round trip after RemoveAll: %q %v", got, err)
	}
}

func TestDisableRefusesConnectionsAndEnableRestoresThemOnTheSameAddress(t *testing.T) {
	fp := faultproxy.Start(t)
	p := fp.Proxy(t, "echo", echo(t))
	addr := p.Addr()
	p.Disable()
	if _, err := roundTrip(addr, 2*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial a disabled proxy: %v, want connection refused", err)
	}
	if err := p.Enable(); err != nil {
		t.Fatal(err)
	}
	if p.Addr() != addr {
		t.Fatalf("enabled proxy moved from %s to %s", addr, p.Addr())
	}
	if got, err := roundTrip(addr, 10*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("round trip after Enable: %q %v", got, err)
	}
}

func TestBandwidthStillDeliversEverything(t *testing.T) {
	fp := faultproxy.Start(t)
	p := fp.Proxy(t, "echo", echo(t))
	p.LimitBandwidth(faultproxy.Downstream, 1)
	if got, err := roundTrip(p.Addr(), 10*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("round trip through a throttled proxy: %q %v", got, err)
	}
}

func TestToxicityZeroLeavesConnectionsAlone(t *testing.T) {
	fp := faultproxy.Start(t)
	p := fp.Proxy(t, "echo", echo(t))
	p.ResetPeer(faultproxy.Upstream, 0, faultproxy.Toxicity(0))
	for range 5 {
		if got, err := roundTrip(p.Addr(), 10*time.Second); err != nil || got != "ping\n" {
			t.Fatalf("round trip with a toxic of toxicity 0: %q %v", got, err)
		}
	}
}

func TestCloseStopsEveryProxy(t *testing.T) {
	fp := faultproxy.New()
	p, err := fp.Listen("echo", "", echo(t))
	if err != nil {
		t.Fatal(err)
	}
	fp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var d net.Dialer
	if c, err := d.DialContext(ctx, "tcp", p.Addr()); err == nil {
		_ = c.Close()
		t.Fatal("a closed server's proxy still accepts connections")
	}
}
