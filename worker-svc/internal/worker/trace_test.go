package worker_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/mocktracer"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"
	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/dogstatsd"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// accept does what the API does with a send inside its request span: the send request, the
// status change and the outbox row (with the span's trace context) in one transaction, due at once.
func accept(t *testing.T, ctx context.Context, store *postgres.Store) queue.Message {
	t.Helper()
	g, err := gift.New(uuid.Nil, gift.NewGift{Amount: 700}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateGift(ctx, g); err != nil {
		t.Fatal(err)
	}
	msg := queue.Message{GiftID: g.ID, RequestID: uuid.NewString(), AcceptedAt: time.Now().UTC()}
	body, err := msg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Send(ctx, gift.SendRequest{GiftID: g.ID, RequestID: msg.RequestID}, []byte(`{}`), body, gift.OutboxClaim{}); err != nil {
		t.Fatal(err)
	}
	return msg
}

// relay publishes the due outbox rows as the API's relay does, later and outside the request:
// each message with the trace context stored with its row.
func relay(t *testing.T, store *postgres.Store, p *sqs.Publisher) {
	t.Helper()
	ctx := context.Background()
	token, msgs, err := store.ClaimOutbox(ctx, 10, time.Minute)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("relay: claimed %d, %v", len(msgs), err)
	}
	out := make([]queue.Outgoing, len(msgs))
	for i, m := range msgs {
		out[i] = queue.Outgoing{Body: m.Body, Trace: tracing.Carrier(m.TraceContext)}
	}
	for _, err := range p.PublishBatchTraced(ctx, out) {
		if err != nil {
			t.Fatalf("relay: publish: %v", err)
		}
	}
	if _, err := store.DeleteOutbox(ctx, token, msgs[0].ID); err != nil {
		t.Fatalf("relay: delete: %v", err)
	}
}

// One send is one trace: the request that accepted it, the relay's publish (from the context
// stored with the outbox row, outside the request), the worker's receipt and processing, and the
// delete, each span the child of the one before; the worker's "gift sent" line carries the ids
// of its processing span.
func TestOneTraceFromAcceptedSendToWorker(t *testing.T) {
	mt := mocktracer.Start()
	defer mt.Stop()
	h := newHarness(t, options{failureRate: 0})

	request, ctx := tracer.StartSpanFromContext(context.Background(), "http.request")
	msg := accept(t, ctx, h.store)
	request.Finish() // the API has answered 202; the message is published later
	relay(t, h.store, sqs.NewPublisher(h.queues.Client, h.queues.URL))

	testenv.Eventually(t, 20*time.Second, "the gift SENT and its message deleted", func() (bool, string) {
		spans := byName(mt.FinishedSpans())
		return h.gift(msg.GiftID).Status == gift.StatusSent && spans[tracing.SpanProcess] != nil, fmt.Sprint(len(mt.FinishedSpans()), " spans")
	})
	h.shutdown()

	spans := byName(mt.FinishedSpans())
	root := mocktracer.MockSpan(request)
	chain := []string{tracing.SpanSend, tracing.SpanReceive, tracing.SpanProcess, tracing.SpanDelete}
	parent := root
	for _, name := range chain {
		s := spans[name]
		switch {
		case s == nil:
			t.Fatalf("no %s span; finished: %v", name, mt.FinishedSpans())
		case s.TraceID() != root.TraceID():
			t.Errorf("%s is in trace %d, not the request's %d", name, s.TraceID(), root.TraceID())
		case s.ParentID() != parent.SpanID():
			t.Errorf("%s's parent is %d, want %s %d", name, s.ParentID(), parent.OperationName(), parent.SpanID())
		}
		parent = s
	}
	if got := spans[tracing.SpanProcess].Tag(logging.KeyRequestID); got != msg.RequestID {
		t.Errorf("gift.process request_id tag = %v, want %s", got, msg.RequestID)
	}

	sent := h.lines(map[string]any{"msg": "gift sent", logging.KeyGiftID: msg.GiftID})
	if len(sent) != 1 {
		t.Fatalf("want one 'gift sent' line, got %v", sent)
	}
	process := spans[tracing.SpanProcess]
	if sent[0][logging.KeyTraceID] != strconv.FormatUint(root.TraceID(), 10) && sent[0][logging.KeyTraceID] != root.Context().TraceID() {
		t.Errorf("'gift sent' line has dd.trace_id %v, want the request's trace %d", sent[0][logging.KeyTraceID], root.TraceID())
	}
	if sent[0][logging.KeySpanID] != strconv.FormatUint(process.SpanID(), 10) {
		t.Errorf("'gift sent' line has dd.span_id %v, want gift.process %d", sent[0][logging.KeySpanID], process.SpanID())
	}
}

func byName(spans []*mocktracer.Span) map[string]*mocktracer.Span {
	out := map[string]*mocktracer.Span{}
	for _, s := range spans {
		out[s.OperationName()] = s
	}
	return out
}

// The worker's result metrics reach a DogStatsD listener with the tags the freshness SLO reads.
func TestWorkerMetricsReachTheAgent(t *testing.T) {
	agent := testenv.NewAgent(t)
	metrics, err := dogstatsd.New(agent.Host()+":"+agent.Port(), "service:gift-worker", "env:test")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, options{failureRate: 0, metrics: metrics})
	sends := h.queued(2, 1) // one forced to fail: retried, then failed on the last attempt
	h.settled(90*time.Second, sends)
	h.shutdown()
	if err := metrics.Close(); err != nil {
		t.Fatal(err)
	}
	unified := []string{"service:gift-worker", "env:test"}
	agent.WaitFor(t, 10*time.Second, "gift.worker.results", append(unified, "outcome:sent", "fresh:true")...)
	agent.WaitFor(t, 10*time.Second, "gift.worker.results", append(unified, "outcome:retried")...)
	agent.WaitFor(t, 10*time.Second, "gift.worker.results", append(unified, "outcome:failed", "fresh:false")...)
	agent.WaitFor(t, 10*time.Second, "gift.worker.attempt.duration", append(unified, "outcome:sent")...)
	agent.WaitFor(t, 10*time.Second, "gift.worker.send.age", append(unified, "outcome:sent")...)
	agent.WaitFor(t, 10*time.Second, "gift.worker.receive_count", unified...)
}
