package sqs_test

import (
	"context"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
)

// receiveOne long-polls until one message arrives (within 30s) and returns it.
func receiveOne(t *testing.T, c *sqs.Consumer, visibility time.Duration) queue.Received {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := c.Receive(context.Background(), 10, time.Second, visibility)
		if err != nil {
			t.Fatal(err)
		}
		switch len(msgs) {
		case 0:
			continue
		case 1:
			return msgs[0]
		default:
			t.Fatalf("received %d messages, want 1", len(msgs))
		}
	}
	t.Fatal("no message arrived within 30s")
	return queue.Received{}
}

// The redrive semantics the worker relies on, as SQS documents them: every receive counts, a
// visibility change does not, and the receive after the maxReceiveCount-th moves the message to
// the DLQ instead of returning it.
func TestConsumerReceiveCountAndRedrive(t *testing.T) {
	ctx := context.Background()
	q := env.NewQueues(t, 2)
	if err := sqs.NewPublisher(q.Client, q.URL).Publish(ctx, "body"); err != nil {
		t.Fatal(err)
	}
	c := sqs.NewConsumer(q.Client, q.URL)
	mainDepth := func() queue.Depth { d, err := sqs.QueueDepth(ctx, q.Client, q.URL); must(t, err); return d }
	dlqDepth := func() queue.Depth { d, err := sqs.QueueDepth(ctx, q.Client, q.DLQURL); must(t, err); return d }

	first := receiveOne(t, c, time.Minute)
	if first.Body != "body" || first.ReceiveCount != 1 || first.ID == "" {
		t.Fatalf("first receive: %+v", first)
	}
	if d := mainDepth(); d.InFlight != 1 || d.Visible != 0 {
		t.Fatalf("depth while in flight: %+v", d)
	}
	// Heartbeats (visibility changes) do not count as receives.
	must(t, c.ChangeVisibility(ctx, first.ReceiptHandle, time.Minute))
	must(t, c.ChangeVisibility(ctx, first.ReceiptHandle, 0))

	second := receiveOne(t, c, time.Minute)
	if second.ReceiveCount != 2 {
		t.Fatalf("second receive count = %d, want 2", second.ReceiveCount)
	}
	must(t, c.ChangeVisibility(ctx, second.ReceiptHandle, 0))

	// The third receive exceeds maxReceiveCount=2: the message moves to the DLQ.
	msgs, err := c.Receive(ctx, 10, time.Second, time.Minute)
	must(t, err)
	if len(msgs) != 0 {
		t.Fatalf("receive past maxReceiveCount returned %+v", msgs)
	}
	if d := mainDepth(); d.Total() != 0 {
		t.Fatalf("main queue after redrive: %+v", d)
	}
	if d := dlqDepth(); d.Visible != 1 {
		t.Fatalf("DLQ after redrive: %+v", d)
	}

	dlq := sqs.NewConsumer(q.Client, q.DLQURL)
	inDLQ := receiveOne(t, dlq, time.Minute)
	if inDLQ.Body != "body" {
		t.Fatalf("DLQ message %+v", inDLQ)
	}
	must(t, dlq.Delete(ctx, inDLQ.ReceiptHandle))
	if d := dlqDepth(); d.Total() != 0 {
		t.Fatalf("DLQ after delete: %+v", d)
	}
}

func TestConsumerRetryDelayHidesTheMessage(t *testing.T) {
	ctx := context.Background()
	q := env.NewQueues(t, 5)
	must(t, sqs.NewPublisher(q.Client, q.URL).Publish(ctx, "later"))
	c := sqs.NewConsumer(q.Client, q.URL)
	m := receiveOne(t, c, time.Minute)
	// Hidden now, back after the delay, with the receive counted once more.
	must(t, c.ChangeVisibility(ctx, m.ReceiptHandle, 1200*time.Millisecond))
	if msgs, err := c.Receive(ctx, 10, 0, time.Minute); err != nil || len(msgs) != 0 {
		t.Fatalf("hidden message was received at once: %+v, %v", msgs, err)
	}
	again := receiveOne(t, c, time.Minute) // long poll until it reappears
	if again.ReceiveCount != 2 {
		t.Fatalf("receive count after the delay = %d, want 2", again.ReceiveCount)
	}
	must(t, c.Delete(ctx, again.ReceiptHandle))
	if d, err := sqs.QueueDepth(ctx, q.Client, q.URL); err != nil || d.Total() != 0 {
		t.Fatalf("depth after delete: %+v, %v", d, err)
	}
}

func TestConsumerValidatesAndResolvesTheDeadLetterTarget(t *testing.T) {
	ctx := context.Background()
	q := env.NewQueues(t, 5)
	c := sqs.NewConsumer(q.Client, q.URL)
	// Zero would be left out of the request (the SDK omits zero values) and silently mean one.
	if _, err := c.Receive(ctx, 0, 0, time.Second); err == nil {
		t.Fatal("receive of 0 messages was accepted")
	}
	redrive, err := sqs.ReadRedrivePolicy(ctx, q.Client, q.URL)
	must(t, err)
	target := redrive.DeadLetterTargetARN
	dlqARN, err := sqs.QueueARN(ctx, q.Client, q.DLQURL)
	must(t, err)
	if target != dlqARN || dlqARN == "" {
		t.Fatalf("dead-letter target %q, DLQ ARN %q", target, dlqARN)
	}
	if _, err := sqs.ReadRedrivePolicy(ctx, q.Client, q.DLQURL); err == nil {
		t.Fatal("a queue without a redrive policy reported a dead-letter target")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
