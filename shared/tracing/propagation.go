package tracing

import (
	"context"
	"encoding/json"
	"time"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/ext"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"
)

// A trace context travels as a Carrier: the propagation headers of a span (x-datadog-trace-id,
// x-datadog-parent-id, traceparent...) as one JSON object. The API stores it with the outbox row
// of an accepted send, the publisher sends it as an SQS message attribute, and the worker
// continues the trace from it, so one send is one trace however late the relay publishes.
type Carrier string

// Span names of the queue.
const (
	SpanSend    = "sqs.send"
	SpanReceive = "sqs.receive"
	SpanDelete  = "sqs.delete"
	SpanProcess = "gift.process"
)

// Inject is the carrier of span ("" for none).
func Inject(span *tracer.Span) Carrier {
	if span == nil {
		return ""
	}
	m := tracer.TextMapCarrier{}
	if err := tracer.Inject(span.Context(), m); err != nil || len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(map[string]string(m))
	if err != nil {
		return ""
	}
	return Carrier(b)
}

// FromContext is the carrier of the span active in ctx ("" when none).
func FromContext(ctx context.Context) Carrier {
	span, ok := tracer.SpanFromContext(ctx)
	if !ok {
		return ""
	}
	return Inject(span)
}

// Extract reads a carrier; nil when it holds no trace context.
func Extract(c Carrier) *tracer.SpanContext {
	if c == "" {
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(c), &m); err != nil {
		return nil
	}
	sc, err := tracer.Extract(tracer.TextMapCarrier(m))
	if err != nil {
		return nil
	}
	return sc
}

// parentOf is the span a queue span hangs under: the carried context when there is one, else the
// span of ctx (none: a new trace).
func parentOf(ctx context.Context, c Carrier) []tracer.StartSpanOption {
	if sc := Extract(c); sc != nil {
		return []tracer.StartSpanOption{childOf(sc)}
	}
	if span, ok := tracer.SpanFromContext(ctx); ok {
		return []tracer.StartSpanOption{childOf(span.Context())}
	}
	return nil
}

// childOf makes a span the child of a context read off the wire (Extract), which is not a Span
// whose StartChild could be called.
func childOf(sc *tracer.SpanContext) tracer.StartSpanOption {
	return func(cfg *tracer.StartSpanConfig) { cfg.Parent = sc }
}

func queueTags(queue string) []tracer.StartSpanOption {
	return []tracer.StartSpanOption{
		tracer.ResourceName(queue),
		tracer.Tag(ext.MessagingSystem, ext.MessagingSystemSQS),
		tracer.Tag(ext.Component, "aws/aws-sdk-go-v2/sqs"),
		tracer.Tag("queuename", queue),
	}
}

// StartPublish starts the sqs.send span of one message, child of the stored carrier (the request
// that accepted the send) or of ctx's span, and returns the carrier to send with the message.
func StartPublish(ctx context.Context, stored Carrier, queue string) (*tracer.Span, Carrier) {
	opts := append(parentOf(ctx, stored), queueTags(queue)...)
	opts = append(opts, tracer.SpanType(ext.SpanTypeMessageProducer), tracer.Tag(ext.SpanKind, ext.SpanKindProducer))
	span := tracer.StartSpan(SpanSend, opts...)
	return span, Inject(span)
}

// StartConsume continues the trace of a received message: an sqs.receive span, child of the
// producer's sqs.send, covering the time from receivedAt to now, and a gift.process span under it
// for the work, returned with a context that carries it.
func StartConsume(ctx context.Context, c Carrier, queue string, receivedAt time.Time) (*tracer.Span, context.Context) {
	opts := append(parentOf(context.Background(), c), queueTags(queue)...)
	opts = append(opts, tracer.SpanType(ext.SpanTypeMessageConsumer), tracer.Tag(ext.SpanKind, ext.SpanKindConsumer),
		tracer.StartTime(receivedAt))
	receive := tracer.StartSpan(SpanReceive, opts...)
	process := receive.StartChild(SpanProcess, tracer.ResourceName(queue), tracer.Tag(ext.SpanKind, ext.SpanKindConsumer))
	receive.Finish()
	if process != nil {
		ctx = tracer.ContextWithSpan(ctx, process)
	}
	return process, ctx
}

// StartQueueCall starts the span of a queue call made while handling a message (delete, visibility
// change), child of ctx's span; nil when ctx has none, so background calls (heartbeats) add no
// traces of their own.
func StartQueueCall(ctx context.Context, name, queue string) (*tracer.Span, context.Context) {
	if _, ok := tracer.SpanFromContext(ctx); !ok {
		return nil, ctx
	}
	opts := append(queueTags(queue), tracer.Tag(ext.SpanKind, ext.SpanKindClient))
	return tracer.StartSpanFromContext(ctx, name, opts...)
}
