package worker_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/dbgate"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/health"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/seed"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/send"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/worker"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, testenv.Needs{Postgres: true, SQS: true}, &env) }

// options of one test's worker; zero values take the defaults of newHarness.
type options struct {
	maxReceiveCount int
	concurrency     int
	visibility      time.Duration
	failureRate     float64
	latency         time.Duration
	seed            uint64
	databaseURL     string // a database of the test's own (the outage test's cluster)
	// wait is the worker's long-poll wait (1s when zero; queueWait for WORKER_RECEIVE_WAIT=0).
	wait time.Duration
	// queueWaitSeconds, when set, becomes the queue's ReceiveMessageWaitTimeSeconds.
	queueWaitSeconds int
	// wrapStore and ping, when set, stand between the worker and the database.
	wrapStore func(*postgres.Store) worker.Store
	ping      func(context.Context) error
	// wrapPing, when set, wraps the store's own ping (to control when the gate pings).
	wrapPing func(func(context.Context) error) func(context.Context) error
	// sqsEndpoint, when set, is where the worker's SQS client connects (a fault proxy); the test
	// itself still reaches the emulator directly.
	sqsEndpoint string
	// metrics, when set, receives the worker's metrics.
	metrics worker.Metrics
	// manual: the test starts the worker with h.run (and may start it again after h.shutdown).
	manual bool
	// afterReceive, when set, is called with each batch the worker receives, before it gets them.
	afterReceive func([]queue.Received)
	// wrapDeadLetters, when set, stands between the worker and the DLQ.
	wrapDeadLetters func(worker.DeadLetters) worker.DeadLetters
}

// harness is one test's worker, running in-process against its own database and queue pair.
type harness struct {
	t       *testing.T
	pool    *pgxpool.Pool
	store   *postgres.Store
	queues  testenv.Queues
	sender  *countingSender
	queue   *countingQueue
	logs    *testenv.LogBuffer
	live    *health.Liveness
	gate    *dbgate.Gate
	stop    context.CancelFunc
	stopped chan struct{}
	run     func() // starts the worker (again)
}

func newHarness(t *testing.T, o options) *harness {
	t.Helper()
	if o.maxReceiveCount == 0 {
		o.maxReceiveCount = 5
	}
	if o.concurrency == 0 {
		o.concurrency = 10
	}
	if o.visibility == 0 {
		o.visibility = 5 * time.Second
	}
	h := &harness{t: t, queues: env.NewQueues(t, o.maxReceiveCount), logs: &testenv.LogBuffer{}}
	if o.databaseURL == "" {
		h.pool, h.store = env.NewStore(t)
	} else {
		pool, err := postgres.OpenPool(context.Background(), postgres.PoolConfig{URL: o.databaseURL, ConnectTimeout: time.Second,
			MaxConns: int32(o.concurrency + 2)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		h.pool, h.store = pool, postgres.NewStore(pool, 2*time.Second)
	}
	h.sender = &countingSender{next: send.NewPseudo(o.failureRate, o.latency, rand.NewPCG(o.seed, o.seed)), calls: map[uuid.UUID]int{}}
	log := logging.New(h.logs, "worker", -4)

	ctx := context.Background()
	redrive, err := sqs.ReadRedrivePolicy(ctx, h.queues.Client, h.queues.URL)
	if err != nil {
		t.Fatal(err)
	}
	maxRC := redrive.MaxReceiveCount
	if o.queueWaitSeconds > 0 {
		if _, err := h.queues.Client.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: aws.String(h.queues.URL),
			Attributes: map[string]string{"ReceiveMessageWaitTimeSeconds": strconv.Itoa(o.queueWaitSeconds)}}); err != nil {
			t.Fatal(err)
		}
	}
	wait := time.Second
	switch {
	case o.wait == queueWait:
		wait = 0
	case o.wait > 0:
		wait = o.wait
	}
	client := h.queues.Client
	if o.sqsEndpoint != "" {
		if client, err = sqs.NewClient(ctx, sqs.ClientConfig{Region: "ap-northeast-1", Endpoint: o.sqsEndpoint}); err != nil {
			t.Fatal(err)
		}
		// No SDK retries: each injected fault reaches the worker's own handling.
		client = awssqs.New(client.Options(), func(o *awssqs.Options) { o.RetryMaxAttempts = 1 })
	}
	h.queue = &countingQueue{Consumer: sqs.NewConsumer(client, h.queues.URL), after: o.afterReceive}
	ping := h.store.Ping
	if o.ping != nil {
		ping = o.ping
	}
	if o.wrapPing != nil {
		ping = o.wrapPing(ping)
	}
	h.gate = dbgate.New(ping, 50*time.Millisecond, log)
	var store worker.Store = h.store
	var deadLetters worker.DeadLetters = sqs.NewPublisher(client, h.queues.DLQURL)
	if o.wrapDeadLetters != nil {
		deadLetters = o.wrapDeadLetters(deadLetters)
	}
	if o.wrapStore != nil {
		store = o.wrapStore(h.store)
	}
	background, stopBackground := context.WithCancel(context.Background())
	go h.gate.Run(background)
	t.Cleanup(stopBackground)
	h.live = health.NewLiveness(time.Minute, nil)
	newWorker := func() *worker.Worker {
		return worker.New(worker.Config{
			Concurrency:     o.concurrency,
			MaxAttempts:     maxRC,
			Visibility:      o.visibility,
			Wait:            wait,
			RetryBaseDelay:  time.Second,
			RetryMaxDelay:   2 * time.Second,
			ShutdownTimeout: 5 * time.Second,
		}, worker.Deps{
			Queue:       h.queue,
			DeadLetters: deadLetters,
			Store:       store,
			Sender:      h.sender,
			Gate:        h.gate,
			Liveness:    h.live,
			Log:         log,
			Metrics:     o.metrics,
		})
	}
	h.stopped = make(chan struct{})
	close(h.stopped)
	h.stop = func() {}
	h.run = func() {
		w := newWorker()
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		h.stop, h.stopped = cancel, stopped
		go func() {
			defer close(stopped)
			if err := w.Run(ctx); err != nil {
				t.Errorf("worker.Run: %v", err)
			}
		}()
	}
	if !o.manual {
		h.run()
	}
	t.Cleanup(func() {
		h.shutdown()
		h.checkLogFields()
		if t.Failed() {
			t.Logf("worker logs:\n%s", h.logs.String())
		}
	})
	return h
}

// relayOutbox publishes the outbox's due messages and deletes them, as the API's outbox relay
// does (api-svc/internal/outbox, tested there with the real relay); it returns how many.
func (h *harness) relayOutbox() int {
	h.t.Helper()
	ctx := context.Background()
	token, msgs, err := h.store.ClaimOutbox(ctx, 100, time.Minute)
	if err != nil {
		h.t.Fatal(err)
	}
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		h.publish(m.Body)
		ids[i] = m.ID
	}
	if _, err := h.store.DeleteOutbox(ctx, token, ids...); err != nil {
		h.t.Fatal(err)
	}
	return len(msgs)
}

// shutdown stops the worker (as SIGTERM would) and waits for Run to return.
func (h *harness) shutdown() {
	h.stop()
	select {
	case <-h.stopped:
	case <-time.After(time.Minute):
		h.t.Fatal("worker did not stop within a minute")
	}
}

// queued creates n QUEUED gifts, the first forced of them with force_failure, and publishes their
// messages.
func (h *harness) queued(n, forced int) []seed.Send {
	h.t.Helper()
	sends := h.create(n, forced)
	h.publishSends(sends)
	return sends
}

// create creates n QUEUED gifts (the first forced of them with force_failure) without publishing.
func (h *harness) create(n, forced int) []seed.Send {
	h.t.Helper()
	sends := make([]seed.Send, n)
	for i := range sends {
		s, err := seed.Queued(context.Background(), h.store, i < forced)
		if err != nil {
			h.t.Fatal(err)
		}
		sends[i] = s
	}
	return sends
}

func (h *harness) publishSends(sends []seed.Send) {
	h.t.Helper()
	if err := seed.Publish(context.Background(), sqs.NewPublisher(h.queues.Client, h.queues.URL), sends...); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) publish(bodies ...string) {
	h.t.Helper()
	p := sqs.NewPublisher(h.queues.Client, h.queues.URL)
	for _, b := range bodies {
		if err := p.Publish(context.Background(), b); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) gift(id uuid.UUID) gift.Gift {
	h.t.Helper()
	g, err := h.store.GetGift(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return g
}

func (h *harness) depth(url string) queue.Depth {
	h.t.Helper()
	d, err := sqs.QueueDepth(context.Background(), h.queues.Client, url)
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

func (h *harness) statuses() map[gift.Status]int {
	h.t.Helper()
	s, err := seed.Statuses(context.Background(), h.pool)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// eventually polls cond until it holds, failing the test after limit with cond's last report.

// settled waits until the gifts of sends are all SENT or FAILED.
func (h *harness) settled(limit time.Duration, sends []seed.Send) {
	h.t.Helper()
	testenv.Eventually(h.t, limit, "every gift SENT or FAILED", func() (bool, string) {
		s := h.statuses()
		return s[gift.StatusSent]+s[gift.StatusFailed] == len(sends), fmt.Sprint(s)
	})
}

// lines returns the worker's log lines whose fields include every key/value of match.
func (h *harness) lines(match map[string]any) []map[string]any {
	h.t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(h.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			h.t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		ok := true
		for k, v := range match {
			if fmt.Sprint(line[k]) != fmt.Sprint(v) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// checkLogFields holds every log line of the test to docs/requirements.md §8.3: timestamp, level, service and
// status always; the correlation ids together; error_code and error_message on warnings and errors.
func (h *harness) checkLogFields() {
	h.t.Helper()
	for _, l := range h.lines(nil) {
		for _, k := range []string{"timestamp", "level", "msg", "service", "status"} {
			if l[k] == nil || l[k] == "" {
				h.t.Errorf("log line without %s: %v", k, l)
			}
		}
		if (l["gift_id"] == nil) != (l["request_id"] == nil) {
			h.t.Errorf("log line with only one of gift_id and request_id: %v", l)
		}
		if l["message_id"] != nil && l["receive_count"] == nil {
			h.t.Errorf("message log line without its receive_count: %v", l)
		}
		if l["message_id"] != nil && l["gift_id"] != nil && l["series"] == nil {
			h.t.Errorf("message log line without its series: %v", l)
		}
		if (l["msg"] == "gift sent" || l["error_code"] == "SEND_ATTEMPT_FAILED" || l["error_code"] == "SEND_FAILED_FINAL") && l["attempt"] == nil {
			h.t.Errorf("attempt outcome line without its attempt: %v", l)
		}
		if lv := l["level"]; (lv == "WARN" || lv == "ERROR") && (l["error_code"] == nil || l["error_message"] == nil) {
			h.t.Errorf("%s line without error_code and error_message: %v", lv, l)
		}
	}
}

// countingSender counts the send attempts per gift.
type countingSender struct {
	next  send.Sender
	mu    sync.Mutex
	calls map[uuid.UUID]int
}

func (c *countingSender) Send(ctx context.Context, m queue.Message) error {
	c.mu.Lock()
	c.calls[m.GiftID]++
	c.mu.Unlock()
	return c.next.Send(ctx, m)
}

func (c *countingSender) count(id uuid.UUID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

// queueWait as options.wait runs the worker with a wait of 0: the queue's own.
const queueWait = -1

// countingQueue counts the worker's receive calls, knows whether one is under way, and keeps the
// errors of those that failed.
type countingQueue struct {
	*sqs.Consumer
	mu       sync.Mutex
	calls    int
	underWay int
	failed   []error
	after    func([]queue.Received)
}

func (q *countingQueue) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Received, error) {
	q.mu.Lock()
	q.calls++
	q.underWay++
	q.mu.Unlock()
	msgs, err := q.Consumer.Receive(ctx, max, wait, visibility)
	if q.after != nil && len(msgs) > 0 {
		q.after(msgs)
	}
	q.mu.Lock()
	q.underWay--
	if err != nil {
		q.failed = append(q.failed, err)
	}
	q.mu.Unlock()
	return msgs, err
}

// receiveErrors returns the errors of the receives that failed.
func (q *countingQueue) receiveErrors() []error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]error(nil), q.failed...)
}

// receives returns how many receives were made and how many are under way.
func (q *countingQueue) receives() (calls, underWay int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.calls, q.underWay
}
