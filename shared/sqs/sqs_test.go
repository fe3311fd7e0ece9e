package sqs_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, testenv.Needs{SQS: true}, &env) }

func TestEnsureQueuesSetsRedriveAndIsRepeatable(t *testing.T) {
	ctx := context.Background()
	q := env.NewQueues(t, 5)
	if p, err := sqs.ReadRedrivePolicy(ctx, q.Client, q.URL); err != nil || p.MaxReceiveCount != 5 {
		t.Fatalf("maxReceiveCount = %d, %v; want 5", p.MaxReceiveCount, err)
	}
	// Again with another count: the existing pair is updated, not duplicated.
	q.Pair.MaxReceiveCount = 3
	urls, err := sqs.EnsureQueues(ctx, q.Client, q.Pair)
	if err != nil || urls != q.QueuePairURLs {
		t.Fatalf("second ensure: %+v, %v; want %+v", urls, err, q.QueuePairURLs)
	}
	if p, _ := sqs.ReadRedrivePolicy(ctx, q.Client, q.URL); p.MaxReceiveCount != 3 {
		t.Fatalf("maxReceiveCount after update = %d, want 3", p.MaxReceiveCount)
	}
	if _, err := sqs.ReadRedrivePolicy(ctx, q.Client, q.DLQURL); err == nil {
		t.Fatal("a queue without RedrivePolicy was accepted")
	}
	if url, err := sqs.QueueURL(ctx, q.Client, "", q.Pair.Name); err != nil || url != q.URL {
		t.Fatalf("QueueURL by name = %q, %v", url, err)
	}
}

func TestPublishAndPublishBatchDeliver(t *testing.T) {
	ctx := context.Background()
	q := env.NewQueues(t, 5)
	p := sqs.NewPublisher(q.Client, q.URL)
	if err := p.Publish(ctx, "single"); err != nil {
		t.Fatal(err)
	}
	bodies := make([]string, queue.MaxBatch)
	for i := range bodies {
		bodies[i] = fmt.Sprintf("batch-%d", i)
	}
	for i, err := range p.PublishBatch(ctx, bodies) {
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	for i, err := range p.PublishBatch(ctx, make([]string, queue.MaxBatch+1)) {
		if err == nil {
			t.Fatalf("entry %d of an oversized batch was accepted", i)
		}
	}

	got := map[string]bool{}
	for len(got) < 1+queue.MaxBatch {
		out, err := q.Client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			t.Fatalf("queue ran dry after %d of %d messages", len(got), 1+queue.MaxBatch)
		}
		for _, m := range out.Messages {
			got[aws.ToString(m.Body)] = true
		}
	}
	if !got["single"] || !got["batch-9"] {
		t.Fatalf("received %v", got)
	}
}

func TestPublishToMissingQueueFails(t *testing.T) {
	q := env.NewQueues(t, 5)
	p := sqs.NewPublisher(q.Client, q.URL+"-missing")
	if err := p.Publish(context.Background(), "x"); err == nil {
		t.Fatal("publishing to a queue that does not exist succeeded")
	}
}
