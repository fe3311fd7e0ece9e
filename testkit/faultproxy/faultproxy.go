// Package faultproxy puts a fault-injecting TCP proxy between a service and one of its
// dependencies (PostgreSQL, the SQS emulator), in process. It wraps Toxiproxy
// (github.com/Shopify/toxiproxy/v2): each proxy listens on a free loopback port and forwards to its
// upstream; toxics added to it delay, cut or throttle the traffic, and Disable refuses connections
// until Enable.
//
// In a test:
//
//	fp := faultproxy.Start(t)
//	p := fp.Proxy(t, "postgres", upstreamAddr) // point the service at p.Addr()
//	p.AddLatency(faultproxy.Downstream, 700*time.Millisecond, 300*time.Millisecond)
//	p.ResetPeer(faultproxy.Upstream, 0)
//	p.Disable() // refused connections; p.Enable() to recover
//	p.RemoveAll()
//
// Toxiproxy's HTTP control API is not started: toxics are added through its Go types, so nothing
// but the proxies listens and nothing outlives the test.
package faultproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Direction is the way the traffic a toxic acts on flows.
type Direction string

const (
	// Upstream is the traffic from the service to the dependency (requests).
	Upstream Direction = "upstream"
	// Downstream is the traffic from the dependency back to the service (responses).
	Downstream Direction = "downstream"
)

// Server holds the proxies of one test or program.
type Server struct {
	api *toxiproxy.ApiServer
}

// New returns a server with no proxies; Close stops them. Programs use New, tests use Start.
func New() *Server {
	return &Server{api: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())}
}

// Start returns a server whose proxies are stopped when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := New()
	t.Cleanup(s.Close)
	return s
}

// Close stops every proxy and closes their connections.
func (s *Server) Close() {
	_ = s.api.Collection.Clear()
}

// Listen starts a proxy named name (unique per server) that accepts on listen ("" for a free
// loopback port) and forwards every connection to upstream (host:port).
func (s *Server) Listen(name, listen, upstream string) (*Proxy, error) {
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	p := toxiproxy.NewProxy(s.api, name, listen, upstream)
	if err := s.api.Collection.Add(p, true); err != nil {
		return nil, fmt.Errorf("start proxy %s to %s: %w", name, upstream, err)
	}
	return &Proxy{p: p}, nil
}

// Proxy starts a proxy named name on a free loopback port to upstream (host:port), and fails t
// when it cannot.
func (s *Server) Proxy(t testing.TB, name, upstream string) *Proxy {
	t.Helper()
	p, err := s.Listen(name, "", upstream)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Proxy is one listening proxy and the toxics on it.
type Proxy struct {
	p   *toxiproxy.Proxy
	mu  sync.Mutex
	seq int
}

// Addr is the host:port the service should connect to instead of the upstream.
func (p *Proxy) Addr() string {
	p.p.Lock()
	defer p.p.Unlock()
	return p.p.Listen
}

// Upstream is the host:port the proxy forwards to.
func (p *Proxy) Upstream() string { return p.p.Upstream }

// Disable closes every open connection and refuses new ones until Enable.
func (p *Proxy) Disable() { p.p.Stop() }

// Enable accepts connections again, on the same address.
func (p *Proxy) Enable() error {
	err := p.p.Start()
	if err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
		return fmt.Errorf("enable proxy %s on %s: %w", p.p.Name, p.Addr(), err)
	}
	return nil
}

// RemoveAll removes every toxic; the traffic flows untouched again (a Disabled proxy stays
// disabled).
func (p *Proxy) RemoveAll() { p.p.Toxics.ResetToxics(context.Background()) }

// Option adjusts a toxic.
type Option func(*toxicSpec)

// Toxicity applies the toxic to a share of the connections only (0 < share <= 1; 1 by default).
// Toxiproxy draws per connection, each time the toxic starts on it.
func Toxicity(share float32) Option { return func(s *toxicSpec) { s.Toxicity = share } }

// AddLatency delays every chunk of data flowing in dir by latency, plus or minus up to jitter.
func (p *Proxy) AddLatency(dir Direction, latency, jitter time.Duration, opts ...Option) *Toxic {
	return p.add("latency", dir, map[string]int64{"latency": latency.Milliseconds(), "jitter": jitter.Milliseconds()}, opts)
}

// ResetPeer resets the connection (TCP RST, unsent data discarded) once data flows in dir, after
// waiting for after (0: at once).
func (p *Proxy) ResetPeer(dir Direction, after time.Duration, opts ...Option) *Toxic {
	return p.add("reset_peer", dir, map[string]int64{"timeout": after.Milliseconds()}, opts)
}

// Timeout swallows the data flowing in dir and closes the connection after after; with 0 the
// connection stays open and silent until the toxic is removed (a black hole).
func (p *Proxy) Timeout(dir Direction, after time.Duration, opts ...Option) *Toxic {
	return p.add("timeout", dir, map[string]int64{"timeout": after.Milliseconds()}, opts)
}

// LimitBandwidth lets at most kbPerSecond KB per second flow in dir.
func (p *Proxy) LimitBandwidth(dir Direction, kbPerSecond int64, opts ...Option) *Toxic {
	return p.add("bandwidth", dir, map[string]int64{"rate": kbPerSecond}, opts)
}

type toxicSpec struct {
	Name       string           `json:"name"`
	Type       string           `json:"type"`
	Stream     Direction        `json:"stream"`
	Toxicity   float32          `json:"toxicity"`
	Attributes map[string]int64 `json:"attributes"`
}

// add installs a toxic under a name unique to this proxy. The inputs are all ours, so Toxiproxy
// can only refuse them through a bug here: that panics rather than burden every caller with an
// error that cannot happen.
func (p *Proxy) add(kind string, dir Direction, attrs map[string]int64, opts []Option) *Toxic {
	p.mu.Lock()
	p.seq++
	spec := toxicSpec{Name: fmt.Sprintf("%s_%s_%d", kind, dir, p.seq), Type: kind, Stream: dir, Toxicity: 1, Attributes: attrs}
	p.mu.Unlock()
	for _, o := range opts {
		o(&spec)
	}
	body, err := json.Marshal(spec)
	if err != nil {
		panic(fmt.Sprintf("faultproxy: encode toxic: %v", err))
	}
	if _, err := p.p.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		panic(fmt.Sprintf("faultproxy: add toxic %s to proxy %s: %v", spec.Name, p.p.Name, err))
	}
	return &Toxic{proxy: p, name: spec.Name}
}

// Toxic is one fault on a proxy.
type Toxic struct {
	proxy *Proxy
	name  string
}

// Remove takes the toxic off; removing it twice does nothing.
func (t *Toxic) Remove() {
	_ = t.proxy.p.Toxics.RemoveToxic(context.Background(), t.name)
}
