package dogstatsd_test

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/dogstatsd"
)

// Listener is a fake Agent: it collects the DogStatsD lines sent to it.
type listener struct {
	conn  net.PacketConn
	lines chan string
	seen  []string
}

func listen(t *testing.T) *listener {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &listener{conn: conn, lines: make(chan string, 1024)}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, line := range strings.Split(strings.TrimSpace(string(buf[:n])), "\n") {
				l.lines <- line
			}
		}
	}()
	t.Cleanup(func() { _ = conn.Close() })
	return l
}

// waitFor returns the first line for metric name, polling until the deadline.
func (l *listener) waitFor(t *testing.T, name string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		for _, line := range l.seen {
			if strings.HasPrefix(line, name+":") {
				return line
			}
		}
		select {
		case line := <-l.lines:
			l.seen = append(l.seen, line)
		case <-deadline:
			t.Fatalf("no %s metric received", name)
			return ""
		}
	}
}

func tagsOf(line string) []string {
	_, tags, ok := strings.Cut(line, "|#")
	if !ok {
		return nil
	}
	tags, _, _ = strings.Cut(tags, "|")
	return strings.Split(tags, ",")
}

func TestMetricsReachTheAgentWithTheirTags(t *testing.T) {
	agent := listen(t)
	c, err := dogstatsd.New(agent.conn.LocalAddr().String(), "env:dev", "service:gift-api", "version:1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	c.Gauge("gift.outbox.pending", 42.5)
	c.Count("gift.api.requests", 1, "operation:send_gift", "status_class:2xx", "fast:true")
	c.Distribution("gift.api.request.duration", 0.012, "operation:send_gift")
	if err := c.Close(); err != nil { // flushes the buffer and the aggregates
		t.Fatal(err)
	}

	tests := []struct {
		name, kind string
		tags       []string
	}{
		{"gift.outbox.pending", "|g", nil},
		{"gift.api.requests", "|c", []string{"operation:send_gift", "status_class:2xx", "fast:true"}},
		{"gift.api.request.duration", "|d", []string{"operation:send_gift"}},
	}
	for _, tt := range tests {
		line := agent.waitFor(t, tt.name)
		if !strings.Contains(line, tt.kind+"|") && !strings.Contains(line, tt.kind) {
			t.Errorf("%s: %q is not of type %s", tt.name, line, tt.kind)
		}
		got := tagsOf(line)
		for _, want := range append([]string{"env:dev", "service:gift-api", "version:1.2.3"}, tt.tags...) {
			if !slices.Contains(got, want) {
				t.Errorf("%s: tag %s missing from %q", tt.name, want, line)
			}
		}
	}
}

func TestWithoutAgentMetricsAreDiscarded(t *testing.T) {
	c, err := dogstatsd.New("")
	if err != nil {
		t.Fatal(err)
	}
	c.Gauge("x", 1) // must not panic or block
	c.Count("x", 1)
	var nilClient *dogstatsd.Client
	nilClient.Gauge("x", 1)
	nilClient.Distribution("x", 1)
}
