package sqs

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// Publisher puts message bodies on one queue.
type Publisher struct {
	client   *awssqs.Client
	queueURL string
}

// NewPublisher returns a publisher for queueURL.
func NewPublisher(client *awssqs.Client, queueURL string) *Publisher {
	return &Publisher{client: client, queueURL: queueURL}
}

// Publish sends one message.
func (p *Publisher) Publish(ctx context.Context, body string) error {
	return p.PublishTraced(ctx, queue.Outgoing{Body: body})
}

// PublishTraced sends one message in an sqs.send span, child of m.Trace (or of ctx's span), whose
// context travels with the message (TraceAttribute) for the consumer to continue.
func (p *Publisher) PublishTraced(ctx context.Context, m queue.Outgoing) error {
	span, carrier := tracing.StartPublish(ctx, m.Trace, queueName(p.queueURL))
	_, err := p.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(p.queueURL), MessageBody: aws.String(m.Body),
		MessageAttributes: traceAttributes(carrier)})
	if err != nil {
		err = fmt.Errorf("send message to %s: %w", p.queueURL, err)
	}
	finish(span, err)
	return err
}

// PublishBatch sends up to MaxBatch messages in one call and returns, per input index, nil or the
// error of that entry (SQS accepts or rejects each entry of a batch separately).
func (p *Publisher) PublishBatch(ctx context.Context, bodies []string) []error {
	msgs := make([]queue.Outgoing, len(bodies))
	for i, b := range bodies {
		msgs[i] = queue.Outgoing{Body: b}
	}
	return p.PublishBatchTraced(ctx, msgs)
}

// PublishBatchTraced is PublishBatch with one sqs.send span per message, each in the trace of its
// own m.Trace (PublishTraced).
func (p *Publisher) PublishBatchTraced(ctx context.Context, msgs []queue.Outgoing) []error {
	bodies := make([]string, len(msgs))
	spans := make([]*tracer.Span, len(msgs))
	carriers := make([]tracing.Carrier, len(msgs))
	for i, m := range msgs {
		bodies[i] = m.Body
		spans[i], carriers[i] = tracing.StartPublish(ctx, m.Trace, queueName(p.queueURL))
	}
	errs := p.publishBatch(ctx, bodies, carriers)
	for i := range spans {
		finish(spans[i], errs[i])
	}
	return errs
}

func (p *Publisher) publishBatch(ctx context.Context, bodies []string, carriers []tracing.Carrier) []error {
	errs := make([]error, len(bodies))
	if len(bodies) > queue.MaxBatch {
		for i := range errs {
			errs[i] = fmt.Errorf("batch of %d messages exceeds %d", len(bodies), queue.MaxBatch)
		}
		return errs
	}
	entries := make([]types.SendMessageBatchRequestEntry, len(bodies))
	for i, b := range bodies {
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b),
			MessageAttributes: traceAttributes(carriers[i])}
	}
	out, err := p.client.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(p.queueURL), Entries: entries})
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("send message batch to %s: %w", p.queueURL, err)
		}
		return errs
	}
	seen := make([]bool, len(bodies))
	for _, ok := range out.Successful {
		if i, err := strconv.Atoi(aws.ToString(ok.Id)); err == nil && i >= 0 && i < len(bodies) {
			seen[i] = true
		}
	}
	for _, f := range out.Failed {
		if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i >= 0 && i < len(bodies) {
			errs[i] = fmt.Errorf("send message to %s: %s: %s", p.queueURL, aws.ToString(f.Code), aws.ToString(f.Message))
			seen[i] = true
		}
	}
	for i := range errs {
		if !seen[i] {
			errs[i] = errors.New("SQS did not report this batch entry")
		}
	}
	return errs
}
