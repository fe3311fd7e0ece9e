package outbox

import (
	"context"
	"log/slog"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// BatchPublisher puts up to sqs.MaxBatch messages on the queue in one call, each with its trace
// context (sqs.Publisher).
type BatchPublisher interface {
	PublishBatchTraced(ctx context.Context, msgs []sqs.Outgoing) []error
}

// RelayStore is the outbox side of the store (postgres.Store).
type RelayStore interface {
	RelayOutbox(ctx context.Context, limit int, publish func(context.Context, []postgres.OutboxMessage) postgres.PublishResult) (claimed, published int, err error)
	OutboxBacklog(ctx context.Context) (postgres.OutboxBacklog, error)
}

// Gauges receives the backlog figures (dogstatsd.Client).
type Gauges interface {
	Gauge(name string, value float64)
}

// RelayConfig tunes the relay.
type RelayConfig struct {
	Interval       time.Duration // pause when the outbox has nothing due (OUTBOX_POLL_INTERVAL)
	BatchSize      int           // messages claimed per transaction (OUTBOX_BATCH_SIZE)
	MaxBackoff     time.Duration // longest pause while SQS or the database fails (OUTBOX_MAX_BACKOFF)
	PublishTimeout time.Duration // bound of one SQS call
	ReportInterval time.Duration // how often the backlog is measured and reported
	StaleAfter     time.Duration // backlog age that is logged as an error (OUTBOX_STALE_AFTER)
}

// Relay publishes what the Dispatcher could not: it claims due outbox messages in batches
// (FOR UPDATE SKIP LOCKED, so several API tasks share the work), publishes them with
// SendMessageBatch and deletes what SQS accepted. While SQS or the database fails it backs off
// exponentially up to MaxBackoff, and resumes at full speed once a batch goes through.
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
		claimed, published, err := r.store.RelayOutbox(ctx, r.cfg.BatchSize, r.publish)
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			return
		case err != nil || (claimed > 0 && published == 0):
			backoff = nextBackoff(backoff, r.cfg.Interval, r.cfg.MaxBackoff)
			wait = backoff
			if err != nil {
				r.log.Warn("outbox relay failed; backing off", logging.KeyStatus, "retrying",
					logging.KeyErrorCode, "OUTBOX_RELAY_FAILED", logging.Err(err), "backoff", backoff.String())
			} else {
				r.log.Warn("outbox relay could not publish; backing off", logging.KeyStatus, "retrying",
					logging.KeyErrorCode, "OUTBOX_PUBLISH_FAILED", "claimed", claimed, "backoff", backoff.String())
			}
		case claimed == r.cfg.BatchSize:
			backoff = 0 // a full batch: more is probably due, go on at once
			if published > 0 {
				r.log.Info("outbox messages relayed", logging.KeyStatus, "published", "published", published)
			}
			continue
		default:
			backoff = 0
			wait = r.cfg.Interval
			if published > 0 {
				r.log.Info("outbox messages relayed", logging.KeyStatus, "published", "published", published)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
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

func (r *Relay) publish(ctx context.Context, msgs []postgres.OutboxMessage) postgres.PublishResult {
	res := postgres.PublishResult{Failed: map[int64]error{}}
	for start := 0; start < len(msgs); start += sqs.MaxBatch {
		batch := msgs[start:min(start+sqs.MaxBatch, len(msgs))]
		out := make([]sqs.Outgoing, len(batch))
		for i, m := range batch {
			out[i] = outgoing(m)
		}
		pctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
		errs := r.publisher.PublishBatchTraced(pctx, out)
		cancel()
		failed := 0
		for i, err := range errs {
			if err != nil {
				res.Failed[batch[i].ID] = err
				failed++
			} else {
				res.Published = append(res.Published, batch[i].ID)
			}
		}
		if failed == len(batch) {
			// SQS is failing: record an attempt on the rest and let Run back off.
			for _, m := range msgs[start+len(batch):] {
				res.Failed[m.ID] = errs[0]
			}
			break
		}
	}
	return res
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
func outgoing(m postgres.OutboxMessage) sqs.Outgoing {
	return sqs.Outgoing{Body: m.Body, Trace: tracing.Carrier(m.TraceContext)}
}
