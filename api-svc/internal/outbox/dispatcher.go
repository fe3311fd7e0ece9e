// Package outbox delivers the queue messages the API commits to the outbox table: at once after
// commit (Dispatcher, the fast path), and later for whatever is left (Relay), so every accepted
// send reaches SQS once SQS is reachable, without an operator.
package outbox

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// Publisher puts one message on the queue with its trace context (sqs.Publisher).
type Publisher interface {
	PublishTraced(ctx context.Context, m sqs.Outgoing) error
}

// Deleter removes a published message from the outbox (postgres.Store).
type Deleter interface {
	DeleteOutbox(ctx context.Context, id int64) error
}

// Dispatcher publishes freshly committed outbox messages in the background, so the client's 202
// does not wait for SQS. It runs at most limit publishes at once; beyond that, and whenever a
// publish fails, the message simply stays in the outbox for the Relay.
type Dispatcher struct {
	publisher Publisher
	store     Deleter
	log       *slog.Logger
	timeout   time.Duration
	slots     chan struct{}
	wg        sync.WaitGroup
	ctx       context.Context
}

// NewDispatcher returns a dispatcher; ctx bounds its background work (cancel it on shutdown after
// Wait), timeout bounds each publish.
func NewDispatcher(ctx context.Context, publisher Publisher, store Deleter, log *slog.Logger, limit int, timeout time.Duration) *Dispatcher {
	return &Dispatcher{publisher: publisher, store: store, log: log, timeout: timeout,
		slots: make(chan struct{}, limit), ctx: ctx}
}

// Dispatch publishes the message of outbox row id in the background and deletes the row once SQS
// has accepted it. trace is the trace context stored with the row: the publish joins that trace.
func (d *Dispatcher) Dispatch(id int64, body string, giftID uuid.UUID, requestID string, trace tracing.Carrier) {
	select {
	case d.slots <- struct{}{}:
	default:
		d.log.Warn("immediate publish skipped: too many in flight; the relay will deliver it",
			logging.KeyStatus, "deferred", logging.KeyGiftID, giftID, logging.KeyRequestID, requestID)
		return
	}
	d.wg.Add(1)
	go func() {
		defer func() { <-d.slots; d.wg.Done() }()
		ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
		defer cancel()
		if err := d.publisher.PublishTraced(ctx, sqs.Outgoing{Body: body, Trace: trace}); err != nil {
			d.log.Warn("immediate publish failed; the relay will retry", logging.KeyStatus, "deferred",
				logging.KeyGiftID, giftID, logging.KeyRequestID, requestID,
				logging.KeyErrorCode, "OUTBOX_PUBLISH_FAILED", logging.Err(err))
			return
		}
		if err := d.store.DeleteOutbox(ctx, id); err != nil {
			// Published but still in the outbox: the relay publishes it again; the worker
			// tolerates the duplicate (at-least-once).
			d.log.Warn("published message not removed from the outbox; it may be delivered twice",
				logging.KeyStatus, "published", logging.KeyGiftID, giftID, logging.KeyRequestID, requestID,
				logging.KeyErrorCode, "OUTBOX_DELETE_FAILED", logging.Err(err))
			return
		}
		d.log.Debug("message published", logging.KeyStatus, "published", logging.KeyGiftID, giftID, logging.KeyRequestID, requestID)
	}()
}

// Wait blocks until every background publish has finished.
func (d *Dispatcher) Wait() { d.wg.Wait() }
