// Package outbox delivers the queue messages the API commits to the outbox table: at once after
// commit (Dispatcher, the fast path), and later for whatever is left (Relay), so every accepted
// send reaches SQS once SQS is reachable, without an operator. Both hold a lease on the rows they
// publish (the same columns, the same rule: type lease), so they never publish one row twice.
package outbox

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// Publisher puts one message on the queue with its trace context (sqs.Publisher).
type Publisher interface {
	PublishTraced(ctx context.Context, m queue.Outgoing) error
}

// DispatcherStore is the outbox side of the store the dispatcher uses (postgres.Store): the
// relay's own calls, conditional on the claim token.
type DispatcherStore interface {
	DeleteOutbox(ctx context.Context, token uuid.UUID, ids ...int64) (int64, error)
	RetryOutbox(ctx context.Context, token uuid.UUID, retries []gift.OutboxRetry) error
	ReleaseOutbox(ctx context.Context, token uuid.UUID, ids []int64) error
}

// DispatcherConfig tunes the dispatcher.
type DispatcherConfig struct {
	MaxInFlight    int           // publishes at once; beyond, the relay delivers (OUTBOX_MAX_IN_FLIGHT)
	Lease          time.Duration // how long the row is the dispatcher's after it is written (OUTBOX_CLAIM_LEASE)
	PublishTimeout time.Duration // bound of the SQS call (OUTBOX_PUBLISH_TIMEOUT)
	StoreTimeout   time.Duration // bound of the outbox delete (or retry, release) that follows it (DB_QUERY_TIMEOUT)
	RetryDelay     time.Duration // wait of a row whose publish failed before the relay tries it (OUTBOX_POLL_INTERVAL)
}

// Dispatcher publishes freshly committed outbox messages in the background, so the client's 202
// does not wait for SQS. A send first takes a claim (Claim): a publish slot and a lease token,
// written with the outbox row in the send's transaction, so the relay leaves the row alone until
// the lease ends. After commit, Dispatch publishes the row only while its publish and delete fit
// in the lease, and deletes it only while it still carries the token. When all MaxInFlight slots
// are busy the row is written without a claim and the relay delivers it at once; when a publish
// fails the row is handed to the relay with the failed attempt recorded.
type Dispatcher struct {
	publisher Publisher
	store     DispatcherStore
	log       *slog.Logger
	cfg       DispatcherConfig
	slots     chan struct{}
	wg        sync.WaitGroup
	ctx       context.Context
}

// NewDispatcher returns a dispatcher; ctx bounds its background work (cancel it on shutdown after
// Wait).
func NewDispatcher(ctx context.Context, publisher Publisher, store DispatcherStore, log *slog.Logger, cfg DispatcherConfig) *Dispatcher {
	return &Dispatcher{publisher: publisher, store: store, log: log, cfg: cfg,
		slots: make(chan struct{}, cfg.MaxInFlight), ctx: ctx}
}

// Claim reserves a publish slot for a send about to be committed and returns the lease to write
// with its outbox row; call it right before the send's transaction (the lease is counted from
// here). The zero claim means no slot was free: the row is then the relay's at once. Every
// non-zero claim must end in Dispatch or Cancel.
func (d *Dispatcher) Claim() gift.OutboxClaim {
	select {
	case d.slots <- struct{}{}:
	default:
		return gift.OutboxClaim{}
	}
	token, err := uuid.NewRandom()
	if err != nil {
		<-d.slots
		return gift.OutboxClaim{}
	}
	return gift.OutboxClaim{Token: token, Lease: d.cfg.Lease, Until: time.Now().Add(d.cfg.Lease)}
}

// Cancel frees the slot of a claim whose row was not written (a replay, a failed transaction).
func (d *Dispatcher) Cancel(claim gift.OutboxClaim) {
	if claim.Token != uuid.Nil {
		<-d.slots
	}
}

// Dispatch publishes the message of outbox row id, written with claim, in the background, and
// deletes the row once SQS has accepted it. The publish and the delete have a deadline each and
// both end within the lease. trace is the trace context stored with the row: the publish joins
// that trace. With the zero claim (no slot was free) it only logs that the relay delivers it.
// ctx is the accepting request's: only its values are used (the lines of this publish carry the
// request's correlation id), never its deadline or cancellation.
func (d *Dispatcher) Dispatch(ctx context.Context, claim gift.OutboxClaim, id int64, body string, giftID uuid.UUID, requestID string, trace tracing.Carrier) {
	if claim.Token == uuid.Nil {
		d.log.WarnContext(ctx, "immediate publish skipped: too many in flight; the relay will deliver it",
			logging.KeyStatus, "deferred", logging.KeyGiftID, giftID, logging.KeyRequestID, requestID)
		return
	}
	attrs := []any{logging.KeyGiftID, giftID, logging.KeyRequestID, requestID}
	if cid := correlation.From(ctx); cid != "" {
		attrs = append(attrs, logging.KeyCorrelationID, cid)
	}
	d.wg.Add(1)
	go func() {
		defer func() { <-d.slots; d.wg.Done() }()
		d.publish(lease{token: claim.Token, until: claim.Until}, id, queue.Outgoing{Body: body, Trace: trace}, attrs...)
	}()
}

func (d *Dispatcher) publish(held lease, id int64, m queue.Outgoing, logAttrs ...any) {
	if !held.fits(d.cfg.PublishTimeout, d.cfg.StoreTimeout) {
		// The send's transaction took most of the lease: hand the row to the relay untried.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(d.ctx), d.cfg.StoreTimeout)
		err := d.store.ReleaseOutbox(sctx, held.token, []int64{id})
		cancel()
		d.log.Warn("immediate publish skipped: too little of its lease left; the relay will deliver it",
			append([]any{logging.KeyStatus, "deferred", logging.Err(err)}, logAttrs...)...)
		return
	}
	pctx, cancel := context.WithTimeout(d.ctx, d.cfg.PublishTimeout)
	err := d.publisher.PublishTraced(pctx, m)
	cancel()
	if err != nil {
		// The relay retries after RetryDelay, with the attempt recorded, as for its own failures.
		// (If SQS did accept it and only the answer was lost, that is the duplicate the bound allows.)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(d.ctx), d.cfg.StoreTimeout)
		rerr := d.store.RetryOutbox(sctx, held.token, []gift.OutboxRetry{{ID: id, Delay: d.cfg.RetryDelay, Err: err.Error()}})
		cancel()
		if rerr != nil {
			d.log.Warn("failed publish not recorded; the relay retries it when the lease ends",
				append([]any{logging.KeyStatus, "deferred", logging.KeyErrorCode, "OUTBOX_RELAY_FAILED", logging.Err(rerr)}, logAttrs...)...)
		}
		d.log.Warn("immediate publish failed; the relay will retry",
			append([]any{logging.KeyStatus, "deferred", logging.KeyErrorCode, "OUTBOX_PUBLISH_FAILED", logging.Err(err)}, logAttrs...)...)
		return
	}
	dctx, cancel := context.WithTimeout(d.ctx, d.cfg.StoreTimeout)
	deleted, err := d.store.DeleteOutbox(dctx, held.token, id)
	cancel()
	switch {
	case err != nil:
		// Published but still in the outbox: the relay publishes it again when the lease ends;
		// the worker tolerates the duplicate (at-least-once).
		d.log.Warn("published message not removed from the outbox; it may be delivered twice",
			append([]any{logging.KeyStatus, "published", logging.KeyErrorCode, "OUTBOX_DELETE_FAILED", logging.Err(err)}, logAttrs...)...)
	case deleted == 0:
		// Someone else holds the row by now (the lease ended early on the database's clock) or
		// an operator removed it.
		d.log.Warn("published message was no longer held by the dispatcher; it may be delivered twice",
			append([]any{logging.KeyStatus, "published", logging.KeyErrorCode, "OUTBOX_LEASE_LOST"}, logAttrs...)...)
	default:
		d.log.Debug("message published", append([]any{logging.KeyStatus, "published"}, logAttrs...)...)
	}
}

// Wait blocks until every background publish has finished.
func (d *Dispatcher) Wait() { d.wg.Wait() }
