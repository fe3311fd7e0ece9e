package testenv

import (
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Agent is a fake Datadog Agent for metrics: a UDP listener on 127.0.0.1 that keeps every
// DogStatsD line it receives. Point DD_AGENT_HOST/DD_DOGSTATSD_PORT at Host and Port.
type Agent struct {
	conn  net.PacketConn
	mu    sync.Mutex
	lines []string
}

// NewAgent starts a listener that lives until the test ends.
func NewAgent(t testing.TB) *Agent {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &Agent{conn: conn}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			a.mu.Lock()
			for _, line := range strings.Split(strings.TrimSpace(string(buf[:n])), "\n") {
				if line != "" {
					a.lines = append(a.lines, line)
				}
			}
			a.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = conn.Close() })
	return a
}

// Host and Port of the listener.
func (a *Agent) Host() string { return "127.0.0.1" }

// Port of the listener, as DD_DOGSTATSD_PORT wants it.
func (a *Agent) Port() string {
	_, port, _ := net.SplitHostPort(a.conn.LocalAddr().String())
	return port
}

// Metric is one received DogStatsD line, parsed.
type Metric struct {
	Name, Value, Type string
	Tags              []string
}

// HasTags reports whether m carries every tag of want.
func (m Metric) HasTags(want ...string) bool {
	for _, w := range want {
		if !slices.Contains(m.Tags, w) {
			return false
		}
	}
	return true
}

func parseMetric(line string) Metric {
	var m Metric
	fields := strings.Split(line, "|")
	m.Name, m.Value, _ = strings.Cut(fields[0], ":")
	if len(fields) > 1 {
		m.Type = fields[1]
	}
	for _, f := range fields[2:] {
		if tags, ok := strings.CutPrefix(f, "#"); ok {
			m.Tags = strings.Split(tags, ",")
		}
	}
	return m
}

// Metrics returns what has been received so far.
func (a *Agent) Metrics() []Metric {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Metric, 0, len(a.lines))
	for _, l := range a.lines {
		out = append(out, parseMetric(l))
	}
	return out
}

// WaitFor polls until a metric named name with every tag of tags has arrived and returns it.
func (a *Agent) WaitFor(t testing.TB, limit time.Duration, name string, tags ...string) Metric {
	t.Helper()
	var found Metric
	Eventually(t, limit, "metric "+name+" "+strings.Join(tags, ","), func() (bool, string) {
		var names []string
		for _, m := range a.Metrics() {
			if m.Name == name && m.HasTags(tags...) {
				found = m
				return true, ""
			}
			names = append(names, m.Name+"|"+strings.Join(m.Tags, ","))
		}
		return false, "received: " + strings.Join(names, " ")
	})
	return found
}
