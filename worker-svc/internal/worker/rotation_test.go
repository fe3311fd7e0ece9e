package worker_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/awssecrets"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
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

// The database password changes while the secret (a stand-in secret source behind the production
// reading code) still holds the old one, with five messages in hand. Connections are recycled
// every 20 ms here, so the messages' next statements need new connections, which are refused: the
// worker treats it as the database being unavailable, stops receiving and holds its messages,
// spending no attempt. Once the secret has the new password every gift is sent on its first
// delivery and nothing reaches the DLQ. The gate's pings are held back until then, so the refusal
// is found, and classified, by the store calls of the messages themselves.
func TestAPasswordTheSecretHasNotCaughtUpWithHoldsTheMessages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cluster := testenv.StartPasswordCluster(t)
	url := cluster.NewRole(t, "gift_worker", "v1") + "&pool_max_conn_lifetime=20ms"
	secret := testenv.NewSecret("gift_worker", "v1")
	pings := &heldPing{release: make(chan struct{})}
	const visibility = 2 * time.Second
	h := newHarness(t, options{
		databaseURL: url, credentials: awssecrets.NewDBCredentials(secret, testenv.SecretARN, time.Minute),
		concurrency: 10, visibility: visibility, latency: 1500 * time.Millisecond, wrapPing: pings.wrap,
	})
	all := h.queued(5, 0)
	testenv.Eventually(t, 10*time.Second, "five messages in hand", func() (bool, string) {
		d := h.depth(h.queues.URL)
		return d.InFlight == 5, fmt.Sprintf("%+v", d)
	})
	pings.held.Store(true)
	testenv.Eventually(t, 10*time.Second, "the gate's ping held back", func() (bool, string) {
		return pings.waiting.Load() > 0, ""
	})

	cluster.SetPassword(t, "gift_worker", "v2")
	var receives int
	testenv.Eventually(t, 10*time.Second, "receiving paused by a store call refused its password", func() (bool, string) {
		st := h.gate.State()
		calls, underWay := h.queue.receives()
		receives = calls
		return !st.Open && strings.Contains(st.Reason, "28P01") && underWay == 0, fmt.Sprintf("gate %+v, %d receives under way", st, underWay)
	})
	probe := sqs.NewConsumer(h.queues.Client, h.queues.URL)
	for end := time.Now().Add(2 * visibility); time.Now().Before(end); {
		if calls, _ := h.queue.receives(); calls != receives {
			t.Fatalf("%d receives while the password is refused", calls-receives)
		}
		if got, err := probe.Receive(ctx, 10, time.Second, time.Second); err != nil || len(got) != 0 {
			t.Fatalf("a held message became visible: %d messages, %v", len(got), err)
		}
		if d := h.depth(h.queues.URL); d.InFlight != 5 {
			t.Fatalf("queue while the password is refused: %+v; want the 5 held messages in flight", d)
		}
	}

	secret.Set("v2")
	pings.held.Store(false)
	close(pings.release)
	testenv.Eventually(t, 30*time.Second, "every gift SENT", func() (bool, string) {
		// Read through the worker's own pool, whose cached password may be refused a moment more.
		s, err := seed.Statuses(ctx, h.pool)
		return err == nil && s[gift.StatusSent] == len(all), fmt.Sprint(s, err)
	})
	for _, l := range h.lines(map[string]any{"msg": "gift sent"}) {
		if fmt.Sprint(l["attempt"]) != "1" {
			t.Fatalf("gift %v sent on attempt %v: the rotation spent an attempt", l["gift_id"], l["attempt"])
		}
	}
	if l := h.lines(map[string]any{"error_code": "PROCESSING_FAILED"}); len(l) != 0 {
		t.Fatalf("a refused password was taken for a failed attempt: %v", l)
	}
	if d := h.depth(h.queues.DLQURL); d.Total() != 0 {
		t.Fatalf("DLQ: %+v", d)
	}
}
