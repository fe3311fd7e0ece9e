// Package connect is giftctl's composition root: it opens the adapters the commands use (the
// store of shared/postgres, the queues of shared/sqs) behind the interfaces package giftctl
// declares, so the commands themselves compile against no adapter.
package connect

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/giftctl"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
)

var _ giftctl.Connect = Open

// Open opens the store and an SQS client (over sqsHTTP; nil: the SDK's default) for cfg. Nothing
// connects yet: the pool dials on first use, and the queues are resolved when a command asks.
func Open(ctx context.Context, cfg giftctl.Config, sqsHTTP *http.Client) (giftctl.Adapters, error) {
	pool, store, err := cfg.Database.Open(ctx, cfg.Queue.Region)
	if err != nil {
		return giftctl.Adapters{}, err
	}
	client, err := sqs.NewClient(ctx, sqs.ClientConfig{Region: cfg.Queue.Region, Endpoint: cfg.Queue.Endpoint, HTTPClient: sqsHTTP})
	if err != nil {
		pool.Close()
		return giftctl.Adapters{}, err
	}
	return giftctl.Adapters{Store: store, Queues: &queues{cfg: cfg, sqs: client}, Close: pool.Close}, nil
}

// queues implements giftctl.Queues over SQS.
type queues struct {
	cfg giftctl.Config
	sqs *awssqs.Client
}

func (q *queues) SendQueueURL(ctx context.Context) (string, error) {
	return sqs.QueueURL(ctx, q.sqs, q.cfg.Queue.URL, q.cfg.Queue.Name)
}

func (q *queues) DLQ(ctx context.Context) (giftctl.DLQ, error) {
	if q.cfg.DLQURL != "" {
		return sqs.NewConsumer(q.sqs, q.cfg.DLQURL), nil
	}
	main, err := q.SendQueueURL(ctx)
	if err != nil {
		return nil, err
	}
	policy, err := sqs.ReadRedrivePolicy(ctx, q.sqs, main)
	if err != nil {
		return nil, err
	}
	// arn:aws:sqs:REGION:ACCOUNT:NAME
	parts := strings.Split(policy.DeadLetterTargetARN, ":")
	if len(parts) != 6 {
		return nil, fmt.Errorf("dead-letter target %q is not an SQS queue ARN", policy.DeadLetterTargetARN)
	}
	url, err := sqs.QueueURL(ctx, q.sqs, "", parts[5])
	if err != nil {
		return nil, fmt.Errorf("DLQ from the RedrivePolicy of %s: %w", main, err)
	}
	return sqs.NewConsumer(q.sqs, url), nil
}

func (q *queues) Depth(ctx context.Context, url string) (queue.Depth, error) {
	return sqs.QueueDepth(ctx, q.sqs, url)
}
