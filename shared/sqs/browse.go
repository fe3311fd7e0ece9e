package sqs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

// SQS has no way to look at a message without receiving it. Browse and Release are the closest
// thing, for queues nobody consumes (the DLQ): take every visible message once, hidden only while
// the caller looks at them, then make the rest visible again at once. Each browse counts as a
// receive of every message it sees (ApproximateReceiveCount).

// Browse receives the messages visible on the queue, each once, up to limit, hiding each for hold
// (a bound in case the caller dies before Release; it must outlast the browse and the caller's
// work). It stops at the first empty receive: a one-second long poll asks every SQS server, so an
// empty answer means nothing visible is left. On error it releases what it took.
func (c *Consumer) Browse(ctx context.Context, hold time.Duration, limit int) ([]queue.Received, error) {
	var out []queue.Received
	seen := map[string]int{}
	for len(out) < limit {
		msgs, err := c.Receive(ctx, min(10, limit-len(out)), time.Second, hold)
		if err != nil {
			_ = c.Release(context.WithoutCancel(ctx), out)
			return nil, fmt.Errorf("browse %s: %w", c.queueURL, err)
		}
		if len(msgs) == 0 {
			break
		}
		fresh := 0
		for _, m := range msgs {
			if i, ok := seen[m.ID]; ok { // back already (hold too short): keep the newest handle
				out[i] = m
				continue
			}
			seen[m.ID] = len(out)
			out = append(out, m)
			fresh++
		}
		if fresh == 0 {
			break
		}
	}
	return out, nil
}

// Release makes received messages visible again at once, in batches of ten. Messages already
// deleted are ignored; the first other error is returned after every batch was tried.
func (c *Consumer) Release(ctx context.Context, msgs []queue.Received) error {
	return c.setVisibility(ctx, msgs, 0)
}

// Hide keeps received messages hidden for d from now (a longer hold than the receive asked for),
// in batches of ten. Messages already deleted, or visible again, are ignored.
func (c *Consumer) Hide(ctx context.Context, msgs []queue.Received, d time.Duration) error {
	return c.setVisibility(ctx, msgs, d)
}

func (c *Consumer) setVisibility(ctx context.Context, msgs []queue.Received, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var errs []error
	for start := 0; start < len(msgs); start += queue.MaxBatch {
		batch := msgs[start:min(start+queue.MaxBatch, len(msgs))]
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(batch))
		for i, m := range batch {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)),
				ReceiptHandle: aws.String(m.ReceiptHandle), VisibilityTimeout: seconds(d)}
		}
		out, err := c.client.ChangeMessageVisibilityBatch(ctx, &awssqs.ChangeMessageVisibilityBatchInput{
			QueueUrl: aws.String(c.queueURL), Entries: entries})
		if err != nil {
			errs = append(errs, fmt.Errorf("change visibility of messages of %s to %s: %w", c.queueURL, d, err))
			continue
		}
		for _, f := range out.Failed {
			if code := aws.ToString(f.Code); code != "ReceiptHandleIsInvalid" && code != "MessageNotInflight" {
				errs = append(errs, fmt.Errorf("change visibility of a message of %s: %s: %s", c.queueURL, code, aws.ToString(f.Message)))
			}
		}
	}
	return errors.Join(errs...)
}
