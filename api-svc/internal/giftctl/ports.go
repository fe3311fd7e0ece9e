package giftctl

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

// Store is the part of the gift store the commands use (shared/postgres.Store).
type Store interface {
	History(ctx context.Context, giftID uuid.UUID) ([]gift.Event, error)
	Delivery(ctx context.Context, giftID uuid.UUID) (gift.Delivery, error)
	RetryFailed(ctx context.Context, giftID uuid.UUID, actorName, reason string) (gift.Retry, error)
	Redrive(ctx context.Context, msg queue.Message, actorName, reason string) (gift.Retry, error)
	DLQSettled(ctx context.Context, messageIDs []string) (map[string]gift.Settlement, error)
	QueuedWithoutOutbox(ctx context.Context, olderThan time.Duration, limit int) ([]gift.Orphan, error)
	Reenqueue(ctx context.Context, giftID uuid.UUID, actorName, reason string) (int64, error)
	Overview(ctx context.Context, stuckAfter time.Duration) (gift.Overview, error)
	OutboxBacklog(ctx context.Context) (gift.OutboxBacklog, error)

	// Clients and their keys (client and key commands); every change records its actor in the
	// client's audit.
	CreateClient(ctx context.Context, name string, limit gift.RateLimit, actor string) (gift.Client, error)
	ClientByName(ctx context.Context, name string) (gift.Client, error)
	ListClients(ctx context.Context) ([]gift.ClientSummary, error)
	SetClientLimits(ctx context.Context, clientID uuid.UUID, limit gift.RateLimit, actor string) (gift.Client, error)
	ClientEvents(ctx context.Context, clientID uuid.UUID) ([]gift.ClientEvent, error)
	IssueAPIKey(ctx context.Context, clientID uuid.UUID, actor string) (string, gift.StoredKey, error)
	ListAPIKeys(ctx context.Context, clientID uuid.UUID) ([]gift.StoredKey, error)
	LookupAPIKey(ctx context.Context, id string) (gift.StoredKey, error)
	RevokeAPIKey(ctx context.Context, id, actor string) (gift.StoredKey, error)
}

// DLQ is the dead-letter queue as the commands handle it (shared/sqs.Consumer): browsed, its
// messages released or deleted one by one.
type DLQ interface {
	URL() string
	Browse(ctx context.Context, hold time.Duration, limit int) ([]queue.Received, error)
	Release(ctx context.Context, msgs []queue.Received) error
	Delete(ctx context.Context, receiptHandle string) error
}

// Queues finds the send queue and the DLQ and reads how many messages a queue holds
// (giftctl/connect, over shared/sqs).
type Queues interface {
	// SendQueueURL resolves the send queue (SQS_QUEUE_URL, else SQS_QUEUE_NAME).
	SendQueueURL(ctx context.Context) (string, error)
	// DLQ resolves the DLQ: SQS_DLQ_URL, else the target of the send queue's RedrivePolicy (the
	// queue SQS really dead-letters to, so no second name to keep in sync).
	DLQ(ctx context.Context) (DLQ, error)
	// Depth reads the message counts of the queue at url.
	Depth(ctx context.Context, url string) (queue.Depth, error)
}

// Adapters are what the commands reach besides the API: the store and the queues, and Close, which
// lets go of them. Opening them connects to nothing: each command reaches only what it needs, so
// status can report what it cannot reach.
type Adapters struct {
	Store  Store
	Queues Queues
	Close  func()
}

// Connect opens the adapters for cfg, the SQS client over sqsHTTP (nil: the SDK's default).
// giftctl/connect.Open is the one the command uses.
type Connect func(ctx context.Context, cfg Config, sqsHTTP *http.Client) (Adapters, error)
