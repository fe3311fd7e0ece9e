// Package worker takes send requests off the SQS queue and runs each through work.Runner
// (docs/requirements.md §5.1.2, §6.3): it receives as many messages as it has free slots while the
// database is reachable, keeps each hidden while in hand (heartbeat), tells SQS the outcome work
// decided (settle), reports it (observe), and on shutdown finishes in-flight work within a budget.
//
// Retries are SQS redeliveries (no retry loop here), spaced by changing the message's visibility;
// a message is deleted only after work has stored its outcome.
//
// Files, in the order a message passes: receive.go (the loop and its slots), handle.go (one
// message through work.Runner), heartbeat.go, settle.go, observe.go; shutdown.go (the budget).
package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/health"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/send"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/work"
)

// CodeQueueUnavailable (WARN): a call to SQS failed; the message comes back after its visibility
// timeout, or receiving is retried. The other codes of the worker's lines are work's.
const CodeQueueUnavailable = work.CodeQueueUnavailable

// Queue is the SQS queue the worker consumes (shared/sqs.Consumer).
type Queue interface {
	Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]queue.Received, error)
	Delete(ctx context.Context, receiptHandle string) error
	ChangeVisibility(ctx context.Context, receiptHandle string, d time.Duration) error
}

// DeadLetters is the DLQ (shared/sqs.Publisher), where work puts the message of a gift it fails.
type DeadLetters = work.DeadLetters

// Store is the part of the gift store the worker uses (shared/postgres.Store): work's calls and
// the heartbeat's lease renewal. Every change is conditional on the gift's status and the
// message's send request and attempt series.
type Store interface {
	work.Store
	RenewAttempt(ctx context.Context, a gift.Attempt, lease time.Duration) (bool, error)
}

// Gate says whether the database can be reached (dbgate.Gate).
type Gate interface {
	// Wait returns nil once the database is reachable, or ctx's error.
	Wait(ctx context.Context) error
	// Do runs op, waiting out outages of the database.
	Do(ctx context.Context, op func(context.Context) error) error
}

// Config tunes the worker.
type Config struct {
	Concurrency     int           // messages processed at once (and the most held at once)
	MaxAttempts     int           // attempts per series before FAILED: the queue's RedrivePolicy maxReceiveCount, read at start-up
	Visibility      time.Duration // asked on receive and renewed by heartbeats while a message is in hand; also an attempt's lease
	Wait            time.Duration // long-poll wait of a receive (queue.MaxWait in production); 0: the queue's own
	RetryBaseDelay  time.Duration // visibility after the first failed attempt, doubled per attempt
	RetryMaxDelay   time.Duration // cap of that delay
	ShutdownTimeout time.Duration // budget for in-flight work after the context ends (SIGTERM)
}

// Deps are the worker's collaborators.
type Deps struct {
	Queue       Queue
	DeadLetters DeadLetters
	Store       Store
	Sender      send.Sender
	Gate        Gate
	Liveness    *health.Liveness
	Log         *slog.Logger
	Metrics     Metrics // nil: none
}

// Worker consumes the send queue.
type Worker struct {
	cfg Config
	Deps
	runner *work.Runner
}

// New returns a worker.
func New(cfg Config, deps Deps) *Worker {
	return &Worker{cfg: cfg, Deps: deps, runner: &work.Runner{
		MaxAttempts:    cfg.MaxAttempts,
		Lease:          cfg.Visibility,
		RetryBaseDelay: cfg.RetryBaseDelay,
		RetryMaxDelay:  cfg.RetryMaxDelay,
		Store:          deps.Store,
		DeadLetters:    deps.DeadLetters,
		Sender:         deps.Sender,
		Database:       deps.Gate,
	}}
}

// Run receives and processes messages until ctx ends, then shuts down gracefully (shutdown.go): it
// stops receiving, lets in-flight messages finish within ShutdownTimeout, makes the ones still
// unfinished visible again, and returns nil.
func (w *Worker) Run(ctx context.Context) error {
	// In-flight work ends when the shutdown budget is spent, not when ctx ends.
	inHand, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stop(nil)
	b := w.startBudget(ctx, stop)

	var inflight sync.WaitGroup
	slots := make(chan struct{}, w.cfg.Concurrency)
	w.receiveLoop(ctx, inHand, slots, &inflight)

	w.drain(b, slots, &inflight)
	return nil
}
