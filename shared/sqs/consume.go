package sqs

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// Consumer receives, deletes and hides messages of one queue.
type Consumer struct {
	client   *awssqs.Client
	queueURL string
}

// NewConsumer returns a consumer of queueURL.
func NewConsumer(client *awssqs.Client, queueURL string) *Consumer {
	return &Consumer{client: client, queueURL: queueURL}
}

// URL is the queue's URL.
func (c *Consumer) URL() string { return c.queueURL }

// Receive takes up to max messages (1 to 10), long-polling up to wait, and hides each for
// visibility. Every receive of a message increments its ApproximateReceiveCount, which the
// queue's RedrivePolicy compares with maxReceiveCount. A zero wait or visibility is left out of
// the request (the SDK omits zero values), so the queue's own ReceiveMessageWaitTimeSeconds or
// VisibilityTimeout applies.
func (c *Consumer) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Received, error) {
	if max < 1 || max > 10 {
		return nil, fmt.Errorf("receive from %s: max %d is not between 1 and 10", c.queueURL, max)
	}
	out, err := c.client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
		QueueUrl:            aws.String(c.queueURL),
		MaxNumberOfMessages: int32(max),
		WaitTimeSeconds:     seconds(min(wait, queue.MaxWait)),
		VisibilityTimeout:   seconds(visibility),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount,
			types.MessageSystemAttributeNameSentTimestamp},
		MessageAttributeNames: []string{TraceAttribute},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", c.queueURL, err)
	}
	msgs := make([]queue.Received, 0, len(out.Messages))
	for _, m := range out.Messages {
		r := queue.Received{ID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Queue: queueName(c.queueURL)}
		if a, ok := m.MessageAttributes[TraceAttribute]; ok {
			r.Trace = tracing.Carrier(aws.ToString(a.StringValue))
		}
		if n, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]); err == nil {
			r.ReceiveCount = n
		}
		if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
			r.SentAt = time.UnixMilli(ms)
		}
		msgs = append(msgs, r)
	}
	return msgs, nil
}

// Delete removes a received message for good (an sqs.delete span when ctx has a span).
func (c *Consumer) Delete(ctx context.Context, receiptHandle string) error {
	span, ctx := c.queueCall(ctx, tracing.SpanDelete)
	_, err := c.client.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(c.queueURL), ReceiptHandle: aws.String(receiptHandle)})
	if err != nil {
		err = fmt.Errorf("delete message from %s: %w", c.queueURL, err)
	}
	finish(span, err)
	return err
}

// ChangeVisibility makes a received message visible again after d from now: 0 releases it at
// once, a longer d hides it (a retry delay, or a heartbeat while it is being processed). d is
// rounded up to whole seconds and capped at MaxVisibility. Changing visibility does not count as
// a receive.
func (c *Consumer) ChangeVisibility(ctx context.Context, receiptHandle string, d time.Duration) error {
	span, ctx := c.queueCall(ctx, "sqs.change_visibility")
	_, err := c.client.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(c.queueURL), ReceiptHandle: aws.String(receiptHandle), VisibilityTimeout: seconds(d)})
	if err != nil {
		err = fmt.Errorf("change visibility of a message of %s to %s: %w", c.queueURL, d, err)
	}
	finish(span, err)
	return err
}

// seconds rounds d up to whole seconds within [0, MaxVisibility], as SQS wants them.
func seconds(d time.Duration) int32 {
	d = max(0, min(d, queue.MaxVisibility))
	return int32(math.Ceil(d.Seconds()))
}

// QueueDepth reads the queue's message counts (approximate in SQS; exact in the emulator).
func QueueDepth(ctx context.Context, c *awssqs.Client, queueURL string) (queue.Depth, error) {
	out, err := c.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible, types.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		return queue.Depth{}, fmt.Errorf("read depth of %s: %w", queueURL, err)
	}
	n := func(name types.QueueAttributeName) int {
		v, _ := strconv.Atoi(out.Attributes[string(name)])
		return v
	}
	return queue.Depth{
		Visible:  n(types.QueueAttributeNameApproximateNumberOfMessages),
		InFlight: n(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		Delayed:  n(types.QueueAttributeNameApproximateNumberOfMessagesDelayed),
	}, nil
}
