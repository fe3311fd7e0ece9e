package apiserver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/faultproxy"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// Faults injected by a real TCP proxy (Toxiproxy, testkit/faultproxy) between the API and the SQS
// emulator or PostgreSQL. The tests assert outcomes (every accepted send reaches the queue, how
// many times, what the client got), never durations: the deadlines below only stop a test that
// would otherwise hang.

// clientDeadline bounds one HTTP call of a test. It is generous on purpose: the API's own
// deadlines (DB_QUERY_TIMEOUT, DB_CONNECT_TIMEOUT) are far shorter, so a call that reaches it has
// hung.
const clientDeadline = 30 * time.Second

// slowSQSStack starts the API with its SQS traffic going through a fault proxy to the emulator,
// on the test's own queues, which the test reads directly (not through the proxy).
func slowSQSStack(t *testing.T, opts ...stackOption) (*stack, *faultproxy.Proxy, testenv.Queues) {
	t.Helper()
	emulator, err := url.Parse(env.SQSEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := faultproxy.Start(t).Proxy(t, "sqs", emulator.Host)
	q := env.NewQueues(t, 5)
	opts = append([]stackOption{withEnv("SQS_ENDPOINT", "http://"+p.Addr()), withEnv("SQS_QUEUE_URL", q.URL)}, opts...)
	s := startStack(t, opts...)
	s.Queues = q
	return s, p, q
}

// sendAll creates n gifts, then sends them all at once; it fails the test unless every send is
// accepted, and returns the gift ids.
func sendAll(t *testing.T, s *stack, n int) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = s.createGift(t).GiftId
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, id := range ids {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), clientDeadline)
			defer cancel()
			r, err := s.Client.SendGiftWithResponse(ctx, id, sendParams("burst-"+strconv.Itoa(i)))
			if err != nil {
				errs <- fmt.Errorf("send %d: %w", i, err)
			} else if r.StatusCode() != http.StatusAccepted {
				errs <- fmt.Errorf("send %d: %d %s", i, r.StatusCode(), r.Body)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return ids
}

// deliveries reads the queue dry and counts the messages per gift.
func deliveries(t *testing.T, q testenv.Queues) map[uuid.UUID]int {
	t.Helper()
	got := map[uuid.UUID]int{}
	for _, b := range receiveAll(t, q) {
		m, err := queue.Parse([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		got[m.GiftID]++
	}
	return got
}

// The slow-SQS livelock of issue 7: every SQS request of the API delayed 700 ms to 2 s, a burst of
// sends, most of them left to the relay (few immediate publishes at once). Every send must reach
// the queue, nothing may stay in the outbox, and duplicates stay within one chunk. The relay that
// published inside a DB_QUERY_TIMEOUT-bound transaction rolled back every pass here: it never
// drained and published the same rows again and again.
func TestSlowSQSDeliversEverySendWithBoundedDuplicates(t *testing.T) {
	s, p, q := slowSQSStack(t,
		withEnv("OUTBOX_MAX_IN_FLIGHT", "4"),
		withEnv("OUTBOX_PUBLISH_TIMEOUT", "2500ms"),
		withEnv("DB_QUERY_TIMEOUT", "3s"))
	p.AddLatency(faultproxy.Upstream, 1350*time.Millisecond, 650*time.Millisecond)

	const n = 60
	ids := sendAll(t, s, n)
	testenv.Eventually(t, 2*time.Minute, "every accepted send to leave the outbox", func() (bool, string) {
		pending := s.outboxPending(t)
		return pending == 0, fmt.Sprintf("%d still in the outbox", pending)
	})

	got := deliveries(t, q)
	total := 0
	for _, id := range ids {
		if got[id] == 0 {
			t.Errorf("gift %s never reached the queue", id)
		}
		total += got[id]
	}
	if len(got) != n {
		t.Errorf("the queue holds messages for %d gifts, want %d", len(got), n)
	}
	if total > n+queue.MaxBatch {
		t.Errorf("%d messages published for %d sends: more duplicates than one chunk (%d)", total, n, queue.MaxBatch)
	}
	t.Logf("%d sends, %d messages published", n, total)
}

// SQS connections reset mid-request, on the API's publish path: while the fault lasts nothing is
// accepted, and every send is still accepted by the API (202) and reaches the queue once the
// fault is gone, without an operator.
//   - request cut: the connection is reset as the request starts flowing, so SQS never sees it:
//     each message must arrive exactly once.
//   - response cut: SQS accepted the request and the answer is lost, so the API cannot know: each
//     message arrives at least once (the duplicates the worker absorbs).
func TestSQSConnectionResetsOnThePublishPathLoseNoSend(t *testing.T) {
	for _, tt := range []struct {
		name      string
		dir       faultproxy.Direction
		exactOnce bool
	}{
		{"request cut", faultproxy.Upstream, true},
		{"response cut", faultproxy.Downstream, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, p, q := slowSQSStack(t, withEnv("OUTBOX_PUBLISH_TIMEOUT", "1s"))
			reset := p.ResetPeer(tt.dir, 0)
			const n = 15
			ids := sendAll(t, s, n)
			// Every message has been refused at least once by now: by the immediate publish and
			// by the relay.
			testenv.Eventually(t, time.Minute, "the relay to record a failed attempt on every message", func() (bool, string) {
				var untried, pending int
				if err := s.Pool.QueryRow(context.Background(),
					`SELECT count(*) FILTER (WHERE attempts = 0), count(*) FROM outbox_messages`).Scan(&untried, &pending); err != nil {
					return false, err.Error()
				}
				return pending == n && untried == 0, fmt.Sprintf("%d pending, %d never tried", pending, untried)
			})
			reset.Remove()
			testenv.Eventually(t, time.Minute, "the outbox to drain once SQS answers", func() (bool, string) {
				pending := s.outboxPending(t)
				return pending == 0, fmt.Sprintf("%d still in the outbox", pending)
			})
			got := deliveries(t, q)
			for _, id := range ids {
				if got[id] == 0 || (tt.exactOnce && got[id] != 1) {
					t.Errorf("gift %s reached the queue %d times", id, got[id])
				}
			}
			if len(got) != n {
				t.Errorf("the queue holds messages for %d gifts, want %d", len(got), n)
			}
		})
	}
}

// dbProxyStack starts the API with its PostgreSQL connections going through a fault proxy; the
// test's own pool (s.Pool) connects directly.
func dbProxyStack(t *testing.T, opts ...stackOption) (*stack, *faultproxy.Proxy) {
	t.Helper()
	direct := env.NewDatabase(t)
	u, err := url.Parse(env.RoleURL(t, direct, testenv.RoleAPI))
	if err != nil {
		t.Fatal(err)
	}
	p := faultproxy.Start(t).Proxy(t, "postgres", u.Host)
	u.Host = p.Addr()
	opts = append([]stackOption{withDatabase(direct, u.String())}, opts...)
	return startStack(t, opts...), p
}

// outcome is what one call of the client got: its status, or the error of a call that never got
// an answer (a hang past clientDeadline, a reset connection).
type outcome struct {
	status     int
	retryAfter string
	code       string
	err        error
}

// createAndSend creates a gift and sends it under clientDeadline per call, and reports what each
// call got; the gift id is zero when the create was not answered 201.
func createAndSend(t *testing.T, s *stack, key string) (uuid.UUID, []outcome) {
	t.Helper()
	var outs []outcome
	ctx, cancel := context.WithTimeout(context.Background(), clientDeadline)
	defer cancel()
	c, err := s.Client.CreateGiftWithResponse(ctx, nil, giftclient.CreateGiftJSONRequestBody{Amount: 100})
	if err != nil {
		return uuid.Nil, append(outs, outcome{err: err})
	}
	outs = append(outs, describe(t, c.StatusCode(), c.HTTPResponse.Header, c.Body))
	if c.JSON201 == nil {
		return uuid.Nil, outs
	}
	sctx, scancel := context.WithTimeout(context.Background(), clientDeadline)
	defer scancel()
	r, err := s.Client.SendGiftWithResponse(sctx, c.JSON201.GiftId, sendParams(key))
	if err != nil {
		return c.JSON201.GiftId, append(outs, outcome{err: err})
	}
	return c.JSON201.GiftId, append(outs, describe(t, r.StatusCode(), r.HTTPResponse.Header, r.Body))
}

func describe(t *testing.T, status int, h http.Header, body []byte) outcome {
	o := outcome{status: status, retryAfter: h.Get("Retry-After")}
	if status >= 400 {
		o.code, _ = envelope(t, body)
	}
	return o
}

// PostgreSQL slow, silent or resetting connections under the API: every call is answered, in
// time, with success or the 503 envelope (Retry-After), never a hang, a reset or a 500; once the
// fault is gone the same process serves again, and every send it accepted reaches the queue.
func TestDatabaseFaultsGiveSuccessOr503AndNeverHang(t *testing.T) {
	for _, tt := range []struct {
		name   string
		inject func(p *faultproxy.Proxy)
		// allFail: the fault leaves no way to answer a query, so every call must be a 503.
		allFail bool
	}{
		{"latency 0.5 to 2.5 s", func(p *faultproxy.Proxy) {
			p.AddLatency(faultproxy.Downstream, 1500*time.Millisecond, 1000*time.Millisecond)
		}, false},
		{"connections reset", func(p *faultproxy.Proxy) { p.ResetPeer(faultproxy.Upstream, 0) }, true},
		{"answers never come", func(p *faultproxy.Proxy) { p.Timeout(faultproxy.Downstream, 0) }, true},
		{"connections refused", func(p *faultproxy.Proxy) { p.Disable() }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, p := dbProxyStack(t,
				withEnv("DB_QUERY_TIMEOUT", "1s"), withEnv("DB_CONNECT_TIMEOUT", "500ms"),
				withEnv("OUTBOX_PUBLISH_TIMEOUT", "500ms"))
			before := s.createGift(t) // a warm pool: the fault hits open connections too
			tt.inject(p)

			const callers = 8
			var wg sync.WaitGroup
			var mu sync.Mutex
			var all []outcome
			accepted := map[uuid.UUID]bool{}
			for i := range callers {
				wg.Go(func() {
					id, outs := createAndSend(t, s, "fault-"+strconv.Itoa(i))
					mu.Lock()
					defer mu.Unlock()
					all = append(all, outs...)
					if len(outs) == 2 && outs[1].status == http.StatusAccepted {
						accepted[id] = true
					}
				})
			}
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), clientDeadline)
				defer cancel()
				r, err := s.Client.SendGiftWithResponse(ctx, before.GiftId, sendParams("fault-before"))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					all = append(all, outcome{err: err})
					return
				}
				all = append(all, describe(t, r.StatusCode(), r.HTTPResponse.Header, r.Body))
				if r.StatusCode() == http.StatusAccepted {
					accepted[before.GiftId] = true
				}
			})
			wg.Wait()

			unavailable := 0
			for _, o := range all {
				switch {
				case o.err != nil:
					if errors.Is(o.err, context.DeadlineExceeded) {
						t.Errorf("a call hung past the client's %s deadline: %v", clientDeadline, o.err)
					} else {
						t.Errorf("a call got no answer: %v", o.err)
					}
				case o.status == http.StatusServiceUnavailable:
					unavailable++
					if o.code != "SERVICE_UNAVAILABLE" || o.retryAfter == "" {
						t.Errorf("503 with code %q, Retry-After %q", o.code, o.retryAfter)
					}
				case o.status >= 300 || (tt.allFail && o.status < 300):
					t.Errorf("answered %d (code %q) during %s", o.status, o.code, tt.name)
				}
			}
			if unavailable == 0 && tt.allFail {
				t.Errorf("no 503 while %s", tt.name)
			}
			t.Logf("%d calls during the fault: %d answered 503, %d accepted sends", len(all), unavailable, len(accepted))

			p.RemoveAll()
			if err := p.Enable(); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, time.Minute, "the API to serve again", func() (bool, string) {
				ctx, cancel := context.WithTimeout(context.Background(), clientDeadline)
				defer cancel()
				r, err := s.Client.GetReadyzWithResponse(ctx)
				if err != nil {
					return false, err.Error()
				}
				return r.StatusCode() == http.StatusOK, string(r.Body)
			})
			after := s.createGift(t)
			r, err := s.Client.SendGiftWithResponse(context.Background(), after.GiftId, sendParams("after"))
			if err != nil || r.StatusCode() != http.StatusAccepted {
				t.Fatalf("send after the fault: %v %d %s", err, r.StatusCode(), r.Body)
			}
			accepted[after.GiftId] = true

			// Nothing accepted is lost, and nothing is queued without its message: the gifts
			// QUEUED in the database are exactly those on the queue (an answer lost in the fault
			// may hide an acceptance from the client, never the other way round).
			testenv.Eventually(t, time.Minute, "the outbox to drain", func() (bool, string) {
				pending := s.outboxPending(t)
				return pending == 0, fmt.Sprintf("%d still in the outbox", pending)
			})
			got := deliveries(t, s.Queues)
			rows, err := s.Pool.Query(context.Background(), `SELECT id FROM gifts WHERE status = 'QUEUED'`)
			if err != nil {
				t.Fatal(err)
			}
			queued := map[uuid.UUID]bool{}
			for rows.Next() {
				var id uuid.UUID
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				queued[id] = true
			}
			if rows.Err() != nil {
				t.Fatal(rows.Err())
			}
			for id := range accepted {
				if !queued[id] {
					t.Errorf("gift %s: send accepted, gift not QUEUED", id)
				}
			}
			for id := range queued {
				if got[id] == 0 {
					t.Errorf("gift %s is QUEUED but its message never reached the queue", id)
				}
			}
			for id := range got {
				if !queued[id] {
					t.Errorf("a message for gift %s, which is not QUEUED", id)
				}
			}
		})
	}
}
