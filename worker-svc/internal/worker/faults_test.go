package worker_test

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/faultproxy"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/seed"
)

// heldPing is the store's real ping, which the test can hold back: while held, the gate learns
// nothing from its pings, so only the worker's own store calls can find the database refusing.
type heldPing struct {
	held    atomic.Bool
	waiting atomic.Int64
	release chan struct{}
}

func (p *heldPing) wrap(ping func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		if p.held.Load() {
			p.waiting.Add(1)
			defer p.waiting.Add(-1)
			select {
			case <-p.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return ping(ctx)
	}
}

// proxiedDatabase creates a test database and a fault proxy in front of the test server, and
// returns the database's URL through the proxy (for the worker) and directly (for the test).
func proxiedDatabase(t *testing.T) (through, direct string, p *faultproxy.Proxy) {
	t.Helper()
	direct = env.NewDatabase(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	p = faultproxy.Start(t).Proxy(t, "postgres", u.Host)
	u.Host = p.Addr()
	return u.String(), direct, p
}

// holdsThroughTheFault checks, for two visibility timeouts, that the worker makes no receive and
// keeps its n messages in hand hidden (heartbeats), and that the DLQ stays empty.
func (h *harness) holdsThroughTheFault(n int, visibility time.Duration) {
	h.t.Helper()
	var receives int
	testenv.Eventually(h.t, 20*time.Second, "receiving paused, no receive under way", func() (bool, string) {
		st := h.gate.State()
		calls, underWay := h.queue.receives()
		receives = calls
		return !st.Open && underWay == 0, fmt.Sprintf("gate %+v, %d receives under way", st, underWay)
	})
	probe := sqs.NewConsumer(h.queues.Client, h.queues.URL)
	for end := time.Now().Add(2 * visibility); time.Now().Before(end); {
		if calls, _ := h.queue.receives(); calls != receives {
			h.t.Fatalf("%d receives during the fault", calls-receives)
		}
		if got, err := probe.Receive(context.Background(), 10, time.Second, time.Second); err != nil || len(got) != 0 {
			h.t.Fatalf("a held message became visible during the fault: %d messages, %v", len(got), err)
		}
		if d := h.depth(h.queues.URL); d.InFlight != n {
			h.t.Fatalf("queue during the fault: %+v; want the %d held messages in flight", d, n)
		}
		if d := h.depth(h.queues.DLQURL); d.Total() != 0 {
			h.t.Fatalf("DLQ during the fault: %+v", d)
		}
	}
}

// sentOnFirstAttempt checks that every gift of sends is SENT, each logged as sent once on its
// first delivery, and that the queue and the DLQ are empty.
func (h *harness) sentOnFirstAttempt(sends []seed.Send) {
	h.t.Helper()
	h.settled(60*time.Second, sends)
	if s := h.statuses(); s[gift.StatusSent] != len(sends) {
		h.t.Fatalf("statuses after the fault: %v", s)
	}
	sent := h.lines(map[string]any{"msg": "gift sent"})
	if len(sent) != len(sends) {
		h.t.Fatalf("%d gifts logged as sent, want %d", len(sent), len(sends))
	}
	for _, l := range sent {
		if fmt.Sprint(l["attempt"]) != "1" {
			h.t.Fatalf("gift %v sent on attempt %v: the fault spent a delivery attempt", l["gift_id"], l["attempt"])
		}
	}
	for _, code := range []string{"DB_STATEMENT_TIMEOUT", "PROCESSING_FAILED", "SEND_ATTEMPT_FAILED"} {
		if l := h.lines(map[string]any{"error_code": code}); len(l) != 0 {
			h.t.Fatalf("the fault was taken for a failed attempt (%s): %v", code, l)
		}
	}
	testenv.Eventually(h.t, 30*time.Second, "queue drained", func() (bool, string) {
		d := h.depth(h.queues.URL)
		return d.Total() == 0, fmt.Sprintf("%+v", d)
	})
	if d := h.depth(h.queues.DLQURL); d.Total() != 0 {
		h.t.Fatalf("DLQ after the fault: %+v", d)
	}
}

// Every connection to PostgreSQL is reset as soon as the worker sends on it (Toxiproxy
// reset_peer), with five messages in hand: the store calls that find it pause receiving and the
// messages are held, spending no attempt and sending nothing to the DLQ. When the proxy heals,
// every gift is sent on its first delivery. The gate's pings are held back meanwhile, so the
// resets are found, and classified, by the messages' own store calls.
func TestConnectionResetsHoldTheMessagesUntilTheProxyHeals(t *testing.T) {
	t.Parallel()
	through, _, proxy := proxiedDatabase(t)
	pings := &heldPing{release: make(chan struct{})}
	const visibility = 2 * time.Second
	h := newHarness(t, options{databaseURL: through, concurrency: 10, visibility: visibility, latency: 1500 * time.Millisecond, wrapPing: pings.wrap})
	all := h.queued(5, 0)
	testenv.Eventually(t, 10*time.Second, "five messages in hand", func() (bool, string) {
		d := h.depth(h.queues.URL)
		return d.InFlight == 5, fmt.Sprintf("%+v", d)
	})
	pings.held.Store(true)
	testenv.Eventually(t, 10*time.Second, "the gate's ping held back", func() (bool, string) { return pings.waiting.Load() > 0, "" })

	proxy.ResetPeer(faultproxy.Upstream, 0)
	h.holdsThroughTheFault(len(all), visibility)
	if l := h.lines(map[string]any{"error_code": "DB_UNAVAILABLE"}); len(l) == 0 {
		t.Fatal("the resets were not reported as the database unavailable")
	}

	proxy.RemoveAll()
	pings.held.Store(false)
	close(pings.release)
	h.sentOnFirstAttempt(all)
}

// PostgreSQL answers, but every answer takes longer than DB_QUERY_TIMEOUT (2 s here; Toxiproxy
// latency of 3 s on the responses), pings included: that is the database being unavailable, not
// five slow statements. The worker pauses and holds its messages; once the latency is gone every
// gift is sent on its first delivery.
func TestADatabaseSlowerThanTheQueryTimeoutHoldsTheMessages(t *testing.T) {
	t.Parallel()
	through, _, proxy := proxiedDatabase(t)
	const visibility = 2 * time.Second
	h := newHarness(t, options{databaseURL: through, concurrency: 10, visibility: visibility, latency: 1500 * time.Millisecond})
	all := h.queued(5, 0)
	testenv.Eventually(t, 10*time.Second, "five messages in hand", func() (bool, string) {
		d := h.depth(h.queues.URL)
		return d.InFlight == 5, fmt.Sprintf("%+v", d)
	})

	proxy.AddLatency(faultproxy.Downstream, 3*time.Second, 0)
	h.holdsThroughTheFault(len(all), visibility)

	proxy.RemoveAll()
	h.sentOnFirstAttempt(all)
}
