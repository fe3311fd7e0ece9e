package dogstatsd_test

import (
	"net"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/dogstatsd"
)

func TestGaugeWireFormat(t *testing.T) {
	agent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	c, err := dogstatsd.New(agent.LocalAddr().String(), "env:dev", "service:gift-api")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Gauge("gift.outbox.pending", 42.5)

	buf := make([]byte, 512)
	_ = agent.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := agent.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(buf[:n]), "gift.outbox.pending:42.5|g|#env:dev,service:gift-api"; got != want {
		t.Fatalf("datagram %q, want %q", got, want)
	}
}

func TestWithoutAgentGaugesAreDiscarded(t *testing.T) {
	c, err := dogstatsd.New("")
	if err != nil {
		t.Fatal(err)
	}
	c.Gauge("x", 1) // must not panic or block
	var nilClient *dogstatsd.Client
	nilClient.Gauge("x", 1)
}
