package dogstatsd_test

import (
	"net"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/dogstatsd"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

func TestMetricsReachTheAgentWithTheirTags(t *testing.T) {
	agent := testenv.NewAgent(t)
	c, err := dogstatsd.New(net.JoinHostPort(agent.Host(), agent.Port()), "env:dev", "service:gift-api", "version:1.2.3")
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
		{"gift.outbox.pending", "g", nil},
		{"gift.api.requests", "c", []string{"operation:send_gift", "status_class:2xx", "fast:true"}},
		{"gift.api.request.duration", "d", []string{"operation:send_gift"}},
	}
	for _, tt := range tests {
		m := agent.WaitFor(t, 10*time.Second, tt.name, append([]string{"env:dev", "service:gift-api", "version:1.2.3"}, tt.tags...)...)
		if m.Type != tt.kind {
			t.Errorf("%s: type %q, want %q", tt.name, m.Type, tt.kind)
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
