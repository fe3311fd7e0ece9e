// Package keyprune deletes the Idempotency-Keys of POST /gifts once their retention has passed
// (docs/architecture.md, "Decision: idempotency keys are kept 7 days, pruned by the API").
package keyprune

import (
	"context"
	"log/slog"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
)

// Store deletes expired create requests (postgres.Store).
type Store interface {
	PruneCreateRequests(ctx context.Context, retention time.Duration, limit int) (int64, error)
}

// Config tunes the pruner.
type Config struct {
	Retention time.Duration // keys older than this are deleted
	Interval  time.Duration // time between rounds
	BatchSize int           // rows per DELETE: bounds each statement's locks and duration
}

// Pruner runs rounds of pruning, one every Interval, in every API task, without coordination: two
// tasks that pick the same batch at once delete it once, and the later one ends its round early.
type Pruner struct {
	store Store
	cfg   Config
	log   *slog.Logger
}

// New returns a pruner of store's expired keys.
func New(store Store, log *slog.Logger, cfg Config) *Pruner {
	return &Pruner{store: store, cfg: cfg, log: log}
}

// Run prunes a round at start and then every Interval, until ctx is done.
func (p *Pruner) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		p.Round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Round deletes expired keys batch by batch until a batch comes back short, and logs what it
// deleted; it returns how many. An error ends the round (logged); the next round starts over.
func (p *Pruner) Round(ctx context.Context) int64 {
	start := time.Now()
	var total int64
	batches := 0
	for ctx.Err() == nil {
		n, err := p.store.PruneCreateRequests(ctx, p.cfg.Retention, p.cfg.BatchSize)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				p.log.WarnContext(ctx, "idempotency key pruning failed", logging.KeyStatus, "failed",
					logging.KeyErrorCode, "IDEMPOTENCY_PRUNE_FAILED", "pruned", total, logging.Err(err))
			}
			return total
		}
		batches++
		if n < int64(p.cfg.BatchSize) {
			break
		}
	}
	if total > 0 {
		p.log.InfoContext(ctx, "idempotency keys pruned", logging.KeyStatus, "pruned", "pruned", total,
			"batches", batches, "retention", p.cfg.Retention.String(), logging.Since("duration_ms", start))
	}
	return total
}
