package outbox

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// BatchPublisher puts up to queue.MaxBatch messages on the queue in one call, each with its trace
// context, and reports per message nil or why SQS did not accept it (sqs.Publisher).
type BatchPublisher interface {
	PublishBatchTraced(ctx context.Context, msgs []queue.Outgoing) []error
}

// RelayStore is the outbox side of the store (postgres.Store). Every call is one short statement:
// the relay never holds a transaction while it talks to SQS.
type RelayStore interface {
	// ClaimOutbox leases up to limit due messages to a new token until lease ends.
	ClaimOutbox(ctx context.Context, limit int, lease time.Duration) (uuid.UUID, []gift.OutboxMessage, error)
	// DeleteOutbox removes messages SQS accepted that still carry token; it returns how many.
	DeleteOutbox(ctx context.Context, token uuid.UUID, ids ...int64) (int64, error)
	// RetryOutbox records a failed attempt on each message and makes it due after its delay.
	RetryOutbox(ctx context.Context, token uuid.UUID, retries []gift.OutboxRetry) error
	// ReleaseOutbox makes messages the relay did not try due again at once.
	ReleaseOutbox(ctx context.Context, token uuid.UUID, ids []int64) error
	OutboxBacklog(ctx context.Context) (gift.OutboxBacklog, error)
}

// Gauges receives the backlog figures (dogstatsd.Client).
type Gauges interface {
	Gauge(name string, value float64)
}

// RelayConfig tunes the relay.
type RelayConfig struct {
	Interval       time.Duration // pause when nothing is due, first retry delay of a row (OUTBOX_POLL_INTERVAL)
	BatchSize      int           // messages claimed at once (OUTBOX_BATCH_SIZE)
	Lease          time.Duration // how long a claim keeps other relays off its messages (OUTBOX_CLAIM_LEASE)
	MaxBackoff     time.Duration // longest relay pause, and longest wait of a row between attempts (OUTBOX_MAX_BACKOFF)
	PublishTimeout time.Duration // bound of one SQS call (OUTBOX_PUBLISH_TIMEOUT)
	StoreTimeout   time.Duration // bound of one database call, the delete after a publish (DB_QUERY_TIMEOUT)
	ReportInterval time.Duration // how often the backlog is measured and reported
	StaleAfter     time.Duration // backlog age that is logged as an error (OUTBOX_STALE_AFTER)
}

// Relay publishes what the Dispatcher could not. Each pass claims up to BatchSize due messages
// with a lease (one short statement), then, outside any transaction, sends them to SQS chunk by
// chunk (SendMessageBatch, queue.MaxBatch each) and deletes each chunk's accepted messages as soon
// as SQS has answered. Messages SQS did not accept wait their own backoff (doubling per attempt,
// up to MaxBackoff), so a message that keeps failing does not hold up the others.
//
// Delivery is at least once, with duplicates bounded: a message is deleted only after SQS
// accepted it, so a crash (or a failed delete) at any point leaves it to be published again when
// the lease ends; what can be published twice is the one chunk whose publish had succeeded and
// whose delete had not. The relay never starts a chunk unless its publish and its delete both fit
// in what is left of the lease, so another relay cannot claim a chunk that is still in flight.
//
// While SQS or the database fails, the relay pauses between passes exponentially up to MaxBackoff
// and resumes at full speed once a chunk goes through.
type Relay struct {
	store     RelayStore
	publisher BatchPublisher
	gauges    Gauges
	log       *slog.Logger
	cfg       RelayConfig
}

// NewRelay returns a relay.
func NewRelay(store RelayStore, publisher BatchPublisher, gauges Gauges, log *slog.Logger, cfg RelayConfig) *Relay {
	return &Relay{store: store, publisher: publisher, gauges: gauges, log: log, cfg: cfg}
}

// Run relays until ctx is done.
func (r *Relay) Run(ctx context.Context) {
	go r.report(ctx)
	backoff := time.Duration(0)
	for {
		p := r.pass(ctx)
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			return
		case p.err != nil || (p.claimed > 0 && p.published == 0):
			backoff = nextBackoff(backoff, r.cfg.Interval, r.cfg.MaxBackoff)
			wait = backoff
			if p.err != nil {
				r.log.Warn("outbox relay failed; backing off", logging.KeyStatus, "retrying",
					logging.KeyErrorCode, "OUTBOX_RELAY_FAILED", logging.Err(p.err), "backoff", backoff.String())
			} else {
				r.log.Warn("outbox relay could not publish; backing off", logging.KeyStatus, "retrying",
					logging.KeyErrorCode, "OUTBOX_PUBLISH_FAILED", "claimed", p.claimed, "failed", p.failed,
					logging.Err(p.lastPublishErr), "backoff", backoff.String())
			}
		case p.claimed == r.cfg.BatchSize:
			backoff = 0 // a full batch: more is probably due, go on at once
			r.logPass(p)
			continue
		default:
			backoff = 0
			wait = r.cfg.Interval
			r.logPass(p)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (r *Relay) logPass(p pass) {
	if p.published > 0 || p.failed > 0 {
		r.log.Info("outbox messages relayed", logging.KeyStatus, "published", "published", p.published, "failed", p.failed)
	}
}

// nextBackoff doubles the previous pause, from base up to limit.
func nextBackoff(prev, base, limit time.Duration) time.Duration {
	next := prev * 2
	if next < base {
		next = base
	}
	if next > limit {
		next = limit
	}
	return next
}

// retryDelay is how long a message waits after its attempts-th failed attempt: base, doubling
// per attempt, up to limit. The dispatcher's failed publish is attempt 1.
func retryDelay(attempts int, base, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < attempts && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// lease is a claim on outbox rows as its holder sees it: the token the rows carry and the end of
// the lease on this process's clock, read before the statement that took the lease (so never
// later than the end the database sees). The dispatcher and the relay follow the same rule with
// it: start a publish only when that publish and the delete after it, each run to its deadline,
// end before the lease does; delete only rows that still carry the token. Then no two holders
// ever publish one row, whatever SQS's or PostgreSQL's latency: the next claim is possible only
// after the lease, by which time the previous holder's calls have all ended.
type lease struct {
	token uuid.UUID
	until time.Time
}

// fits reports whether a publish and the delete that follows it, bounded by publish and store,
// end within the lease.
func (l lease) fits(publish, store time.Duration) bool {
	return time.Until(l.until) >= publish+store
}

// pass is what one claim came to.
type pass struct {
	claimed, published, failed int
	lastPublishErr             error
	err                        error // the database failed
}

// pass claims due messages and publishes them chunk by chunk, outside any transaction.
func (r *Relay) pass(ctx context.Context) (p pass) {
	claimedAt := time.Now() // before the claim: the database's lease ends later than this one
	token, msgs, err := r.store.ClaimOutbox(ctx, r.cfg.BatchSize, r.cfg.Lease)
	if err != nil {
		p.err = err
		return p
	}
	p.claimed = len(msgs)
	held := lease{token: token, until: claimedAt.Add(r.cfg.Lease)}
	for start := 0; start < len(msgs); start += queue.MaxBatch {
		if ctx.Err() != nil || !held.fits(r.cfg.PublishTimeout, r.cfg.StoreTimeout) {
			// Stopping, or another chunk might outlast the lease: hand the rest back untried.
			r.release(ctx, token, msgs[start:])
			return p
		}
		chunk := msgs[start:min(start+queue.MaxBatch, len(msgs))]
		accepted, retries := r.publish(ctx, chunk)
		p.published += len(accepted)
		p.failed += len(retries)
		if len(retries) > 0 {
			p.lastPublishErr = retries[0].err
		}
		// The delete has its own deadline, not what the publish left of one.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.StoreTimeout)
		deleted, err := r.store.DeleteOutbox(dctx, token, accepted...)
		cancel()
		if err == nil && deleted < int64(len(accepted)) {
			r.log.Warn("published messages were no longer held by this relay; they may be delivered twice",
				logging.KeyStatus, "published", logging.KeyErrorCode, "OUTBOX_LEASE_LOST", "count", int64(len(accepted))-deleted)
		}
		if err != nil {
			// On the queue but still in the outbox: published again when the lease ends (the
			// duplicate the bound allows). The database is failing: stop this pass.
			r.log.Warn("published messages not removed from the outbox; they will be delivered twice",
				logging.KeyStatus, "published", logging.KeyErrorCode, "OUTBOX_DELETE_FAILED", "count", len(accepted), logging.Err(err))
			p.err = err
			return p
		}
		if len(retries) > 0 && ctx.Err() != nil {
			// Cut short by the shutdown, not refused by SQS: no attempt to record.
			rest := make([]gift.OutboxMessage, len(retries))
			for i, f := range retries {
				rest[i] = f.msg
			}
			r.release(ctx, token, append(rest, msgs[start+len(chunk):]...))
			return p
		}
		if len(retries) > 0 {
			rs := make([]gift.OutboxRetry, len(retries))
			for i, f := range retries {
				rs[i] = gift.OutboxRetry{ID: f.msg.ID, Delay: retryDelay(f.msg.Attempts+1, r.cfg.Interval, r.cfg.MaxBackoff), Err: f.err.Error()}
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.StoreTimeout)
			err := r.store.RetryOutbox(rctx, token, rs)
			cancel()
			if err != nil {
				// The messages stay leased: they are tried again when the lease ends.
				p.err = err
				return p
			}
		}
		if len(accepted) == 0 {
			// SQS took nothing: it is failing, not these messages. Hand the rest back untried
			// and let Run back off.
			r.release(ctx, token, msgs[start+len(chunk):])
			return p
		}
	}
	return p
}

// failure is a message SQS did not accept, with why.
type failure struct {
	msg gift.OutboxMessage
	err error
}

// publish sends one chunk and splits it into the accepted ids and the failures.
func (r *Relay) publish(ctx context.Context, chunk []gift.OutboxMessage) (accepted []int64, failed []failure) {
	out := make([]queue.Outgoing, len(chunk))
	for i, m := range chunk {
		out[i] = outgoing(m)
	}
	pctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	errs := r.publisher.PublishBatchTraced(pctx, out)
	cancel()
	for i, err := range errs {
		if err != nil {
			failed = append(failed, failure{msg: chunk[i], err: err})
		} else {
			accepted = append(accepted, chunk[i].ID)
		}
	}
	return accepted, failed
}

// release hands untried messages back, under a deadline of its own (it also runs at shutdown).
func (r *Relay) release(ctx context.Context, token uuid.UUID, msgs []gift.OutboxMessage) {
	if len(msgs) == 0 {
		return
	}
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.StoreTimeout)
	defer cancel()
	if err := r.store.ReleaseOutbox(rctx, token, ids); err != nil {
		// Harmless: they are due again when the lease ends.
		r.log.Warn("claimed outbox messages not released; they wait for the end of the lease",
			logging.KeyStatus, "retrying", logging.KeyErrorCode, "OUTBOX_RELAY_FAILED", "count", len(ids), logging.Err(err))
	}
}

// report measures the backlog every ReportInterval: gauges for the dashboard and the outbox
// monitor, and an error log line while the oldest message is older than StaleAfter.
func (r *Relay) report(ctx context.Context) {
	t := time.NewTicker(r.cfg.ReportInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, err := r.store.OutboxBacklog(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("outbox backlog unreadable", logging.KeyStatus, "unknown", logging.KeyErrorCode, "OUTBOX_BACKLOG_UNREADABLE", logging.Err(err))
			}
			continue
		}
		r.gauges.Gauge("gift.outbox.pending", float64(b.Pending))
		r.gauges.Gauge("gift.outbox.oldest_age_seconds", b.OldestAge.Seconds())
		if b.Pending > 0 && b.OldestAge > r.cfg.StaleAfter {
			r.log.Error("outbox backlog is stale: accepted sends are not reaching SQS", logging.KeyStatus, "stale",
				logging.KeyErrorCode, "OUTBOX_STALE", "pending", b.Pending, "oldest_age_seconds", b.OldestAge.Seconds())
		}
	}
}

// outgoing is the message of an outbox row with the trace context stored with it, so the publish
// joins the trace of the request that accepted the send, however late it happens.
func outgoing(m gift.OutboxMessage) queue.Outgoing {
	return queue.Outgoing{Body: m.Body, Trace: tracing.Carrier(m.TraceContext)}
}
