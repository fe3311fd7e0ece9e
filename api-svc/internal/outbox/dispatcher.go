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

// Deleter removes published messages from the outbox (postgres.Store).
type Deleter interface {
	DeleteOutbox(ctx context.Context, ids ...int64) error
}

// DispatcherConfig tunes the dispatcher.
type DispatcherConfig struct {
	MaxInFlight    int           // publishes at once; beyond, the relay delivers (OUTBOX_MAX_IN_FLIGHT)
	PublishTimeout time.Duration // bound of the SQS call (OUTBOX_PUBLISH_TIMEOUT)
	DeleteTimeout  time.Duration // bound of the outbox delete that follows it (DB_QUERY_TIMEOUT)
}

// Dispatcher publishes freshly committed outbox messages in the background, so the client's 202
// does not wait for SQS. It runs at most MaxInFlight publishes at once; beyond that, and whenever
// a publish fails, the message simply stays in the outbox for the Relay, which leaves it alone for
// the head start (OUTBOX_RELAY_DELAY) the dispatcher has.
type Dispatcher struct {
	publisher Publisher
	store     Deleter
	log       *slog.Logger
	cfg       DispatcherConfig
	slots     chan struct{}
	wg        sync.WaitGroup
	ctx       context.Context
}

// NewDispatcher returns a dispatcher; ctx bounds its background work (cancel it on shutdown after
// Wait).
func NewDispatcher(ctx context.Context, publisher Publisher, store Deleter, log *slog.Logger, cfg DispatcherConfig) *Dispatcher {
	return &Dispatcher{publisher: publisher, store: store, log: log, cfg: cfg,
		slots: make(chan struct{}, cfg.MaxInFlight), ctx: ctx}
}

// Dispatch publishes the message of outbox row id in the background and deletes the row once SQS
// has accepted it. The publish and the delete have a deadline each: a slow SQS call does not eat
// into the delete's time (a published message left in the outbox is published again). trace is
// the trace context stored with the row: the publish joins that trace.
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
		pctx, cancel := context.WithTimeout(d.ctx, d.cfg.PublishTimeout)
		err := d.publisher.PublishTraced(pctx, sqs.Outgoing{Body: body, Trace: trace})
		cancel()
		if err != nil {
			d.log.Warn("immediate publish failed; the relay will retry", logging.KeyStatus, "deferred",
				logging.KeyGiftID, giftID, logging.KeyRequestID, requestID,
				logging.KeyErrorCode, "OUTBOX_PUBLISH_FAILED", logging.Err(err))
			return
		}
		dctx, cancel := context.WithTimeout(d.ctx, d.cfg.DeleteTimeout)
		err = d.store.DeleteOutbox(dctx, id)
		cancel()
		if err != nil {
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
