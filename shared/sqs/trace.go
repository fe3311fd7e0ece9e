package sqs

import (
	"context"
	"strings"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// TraceAttribute is the message attribute that carries the trace context of a message (a
// tracing.Carrier), under the name Datadog's own SQS integrations use.
const TraceAttribute = "_datadog"

// queueName is the last element of a queue URL, the resource of queue spans.
func queueName(url string) string { return url[strings.LastIndexByte(url, '/')+1:] }

// traceAttributes is the message attribute holding c; nil when c is empty.
func traceAttributes(c tracing.Carrier) map[string]types.MessageAttributeValue {
	if c == "" {
		return nil
	}
	return map[string]types.MessageAttributeValue{
		TraceAttribute: {DataType: aws.String("String"), StringValue: aws.String(string(c))},
	}
}

// finish ends span (nil: nothing) with err.
func finish(span *tracer.Span, err error) {
	if span != nil {
		span.Finish(tracer.WithError(err))
	}
}

// queueCall starts the span of a delete or visibility change made while a message is handled.
func (c *Consumer) queueCall(ctx context.Context, name string) (*tracer.Span, context.Context) {
	return tracing.StartQueueCall(ctx, name, queueName(c.queueURL))
}
