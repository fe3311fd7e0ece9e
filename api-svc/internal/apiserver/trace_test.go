package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/mocktracer"
	ddtracer "github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// traceOfSend sends one gift, with extra request headers if any, and returns the request's span, as
// the mock tracer recorded it, and the gift's id.
func traceOfSend(t *testing.T, mt mocktracer.Tracer, s *stack, headers ...string) (*mocktracer.Span, string) {
	t.Helper()
	g := s.createGift(t)
	withHeaders := func(_ context.Context, r *http.Request) error {
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		return nil
	}
	resp, err := s.Client.SendGiftWithResponse(context.Background(), g.GiftId, sendParams(uuid.NewString()), withHeaders)
	if err != nil || resp.StatusCode() != http.StatusAccepted {
		t.Fatalf("send: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	var request *mocktracer.Span
	testenv.Eventually(t, 5*time.Second, "the send request's span", func() (bool, string) {
		for _, sp := range mt.FinishedSpans() {
			if sp.OperationName() == "http.request" && sp.Tag("resource.name") == "POST /gifts/{gift_id}/send" {
				request = sp
			}
		}
		return request != nil, ""
	})
	return request, g.GiftId.String()
}

// queuedTrace receives the one message on q and returns the trace context it carries.
func queuedTrace(t *testing.T, client *awssqs.Client, url string) (traceID, parentID uint64) {
	t.Helper()
	sc := tracing.Extract(queuedCarrier(t, client, url))
	return sc.TraceIDLower(), sc.SpanID()
}

// queuedCarrier receives the one message on q and returns the trace context it carries.
func queuedCarrier(t *testing.T, client *awssqs.Client, url string) tracing.Carrier {
	t.Helper()
	var carrier string
	testenv.Eventually(t, 30*time.Second, "the message on the queue", func() (bool, string) {
		out, err := client.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url),
			MaxNumberOfMessages: 1, WaitTimeSeconds: 1, MessageAttributeNames: []string{sqs.TraceAttribute}})
		if err != nil || len(out.Messages) == 0 {
			return false, "no message yet"
		}
		a, ok := out.Messages[0].MessageAttributes[sqs.TraceAttribute]
		if !ok {
			t.Fatalf("message without the %s attribute: %+v", sqs.TraceAttribute, out.Messages[0])
		}
		carrier = aws.ToString(a.StringValue)
		return true, ""
	})
	if tracing.Extract(tracing.Carrier(carrier)) == nil {
		t.Fatalf("attribute %s holds no trace context: %s", sqs.TraceAttribute, carrier)
	}
	return tracing.Carrier(carrier)
}

// checkPublished holds the request span, its database spans, the sqs.send span and the message's
// attribute to one trace: sqs.send is the request's child, and the message carries sqs.send.
func checkPublished(t *testing.T, mt mocktracer.Tracer, request *mocktracer.Span, giftID string, traceID, parentID uint64) {
	t.Helper()
	// SQS holds the message a moment before the publish's span finishes: wait for the span the
	// message names as its parent (it never finishes if the message carries another context).
	testenv.Eventually(t, 5*time.Second, "the sqs.send span the message carries, finished", func() (bool, string) {
		for _, sp := range mt.FinishedSpans() {
			if sp.OperationName() == tracing.SpanSend && sp.SpanID() == parentID {
				return true, ""
			}
		}
		return false, fmt.Sprintf("parent %d", parentID)
	})
	// Each publish attempt is an sqs.send span (a failed immediate publish and failed relay passes
	// come before the one SQS accepted): all are the request's children, and the message carries
	// one of them as its parent.
	var sends []*mocktracer.Span
	db := 0
	for _, sp := range mt.FinishedSpans() {
		if sp.TraceID() != request.TraceID() {
			continue
		}
		switch sp.OperationName() {
		case tracing.SpanSend:
			sends = append(sends, sp)
		case tracing.SpanQuery:
			db++
			if sp.ParentID() != request.SpanID() {
				t.Errorf("postgres span %v is not the request's child", sp.Tag("resource.name"))
			}
			if r, _ := sp.Tag("resource.name").(string); strings.Contains(r, giftID) {
				t.Errorf("a database span records a parameter value: %s", r)
			}
		}
	}
	if db == 0 {
		t.Error("no postgres.query span in the request's trace")
	}
	if len(sends) == 0 {
		t.Fatal("no sqs.send span in the request's trace")
	}
	carried := false
	for _, send := range sends {
		if send.ParentID() != request.SpanID() {
			t.Errorf("sqs.send's parent is %d, want the request %d", send.ParentID(), request.SpanID())
		}
		carried = carried || parentID == send.SpanID()
	}
	if traceID != request.TraceID() || !carried {
		t.Errorf("the message carries trace %d / parent %d, want trace %d / one of the %d sqs.send spans", traceID, parentID, request.TraceID(), len(sends))
	}
	if code := request.Tag("http.status_code"); code != "202" {
		t.Errorf("request span http.status_code = %v", code)
	}
}

// The request that accepts a send, and the immediate publish after it, are one trace, and the
// message carries it on to the worker. The "send accepted" line has the request's trace id.
func TestSendRequestAndItsPublishAreOneTrace(t *testing.T) {
	mt := mocktracer.Start()
	defer mt.Stop()
	s := startStack(t)

	request, giftID := traceOfSend(t, mt, s)
	traceID, parentID := queuedTrace(t, s.Queues.Client, s.Queues.URL)
	checkPublished(t, mt, request, giftID, traceID, parentID)

	var accepted map[string]any
	for _, l := range strings.Split(s.Logs.String(), "\n") {
		if strings.Contains(l, `"send accepted"`) && strings.Contains(l, giftID) {
			if err := json.Unmarshal([]byte(l), &accepted); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := strconv.FormatUint(request.TraceID(), 10)
	if request.Context().TraceIDUpper() != 0 {
		want = request.Context().TraceID()
	}
	if accepted[logging.KeyTraceID] != want {
		t.Errorf("'send accepted' line has dd.trace_id %v, want %s: %v", accepted[logging.KeyTraceID], want, accepted)
	}
}

// A client cannot choose the trace or its sampling: a send request carrying a caller's trace id and
// sampling priority 2 (keep) starts a trace of its own, the message carries that trace, and the
// worker's span, continued from the message, is in it too, with the tracer's own priority.
func TestACallersTraceContextReachesNeitherTheRequestNorTheWorker(t *testing.T) {
	mt := mocktracer.Start()
	defer mt.Stop()
	s := startStack(t)

	request, _ := traceOfSend(t, mt, s, "X-Datadog-Trace-Id", "1234", "X-Datadog-Parent-Id", "5678",
		"X-Datadog-Sampling-Priority", "2", "Traceparent", "00-000000000000000000000000000004d2-000000000000162e-01")
	if request.TraceID() == 1234 || request.ParentID() != 0 {
		t.Errorf("request span: trace %d parent %d, want the root of a trace of its own", request.TraceID(), request.ParentID())
	}
	carrier := queuedCarrier(t, s.Queues.Client, s.Queues.URL)
	process, _ := tracing.StartConsume(context.Background(), carrier, "gifts", time.Now())
	process.Finish()
	for name, sc := range map[string]*ddtracer.SpanContext{"request": request.Context(), "message": tracing.Extract(carrier), "worker": process.Context()} {
		if sc.TraceIDLower() != request.TraceID() {
			t.Errorf("%s: trace %d, want the request's %d", name, sc.TraceIDLower(), request.TraceID())
		}
		if p, ok := sc.SamplingPriority(); ok && p == 2 {
			t.Errorf("%s: sampling priority 2 came from the caller", name)
		}
	}
}

// With SQS down the relay publishes the message later, from the outbox, outside the request: it
// still joins the request's trace, from the context stored with the outbox row.
func TestRelayedPublishJoinsTheRequestsTrace(t *testing.T) {
	mt := mocktracer.Start()
	defer mt.Stop()
	ctx := context.Background()
	q := startOwnSQS(t, "traced")
	s := startStack(t, withEnv("SQS_ENDPOINT", q.Endpoint()), withEnv("SQS_QUEUE_URL", q.URLs.URL),
		withEnv("OUTBOX_PUBLISH_TIMEOUT", "500ms"))

	q.Down()
	request, giftID := traceOfSend(t, mt, s)
	testenv.Eventually(t, 10*time.Second, "a failed relay attempt", func() (bool, string) {
		var tried int
		_ = s.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox_messages WHERE attempts > 0 AND trace_context IS NOT NULL`).Scan(&tried)
		return tried == 1, ""
	})
	q.Up(t)
	traceID, parentID := queuedTrace(t, q.Client, q.URLs.URL)
	checkPublished(t, mt, request, giftID, traceID, parentID)
}
