// Package workerserver is the worker's composition root: it logs the effective configuration,
// builds the worker's dependencies (store, queues, database gate, DLQ reconciler, health
// endpoint, metrics) from config.Config, runs package worker until the context ends and shuts
// down. api-svc/internal/apiserver is the API's.
package workerserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/dogstatsd"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/envconfig"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/config"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/dbgate"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/health"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/reconcile"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/send"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/worker"
)

// livenessLimit is how long the receive loop may go without progress before /healthz reports it
// stuck: longer than the longest receive (a 20s long poll plus its 10s guard).
const livenessLimit = time.Minute

// Serve logs the effective configuration, builds the worker's dependencies, runs it until ctx
// is cancelled (SIGTERM/SIGINT) and shuts it down: in-flight messages finish within
// cfg.ShutdownTimeout, then the health endpoint and the pool close. ready, when not nil, receives
// the health endpoint's listening address once the worker is about to receive. It returns an
// error when the worker cannot start (a queue pair it cannot use, no listener) or its run fails.
func Serve(ctx context.Context, cfg config.Config, ready chan<- string) error {
	log := cfg.Log
	envconfig.LogConfiguration(log, cfg.Settings)
	if cfg.Tracing.Enabled {
		cfg.Database.Tracer = tracing.NewPGX()
	}
	pool, store, err := cfg.Database.Open(ctx, cfg.Queue.Region)
	if err != nil {
		return err
	}
	defer pool.Close()
	metrics, err := dogstatsd.New(cfg.Metrics.Addr, cfg.Metrics.Tags...)
	if err != nil {
		return err
	}
	defer metrics.Close()

	startup, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client, queueURL, err := cfg.Queue.Connect(startup)
	if err != nil {
		return err
	}
	redrive, err := sqs.ReadRedrivePolicy(startup, client, queueURL)
	if err != nil {
		return err
	}
	// The DLQ is needed with or without the reconciler: the worker moves the messages of the gifts
	// it fails there itself.
	dlqURL, err := deadLetterQueue(startup, client, cfg, redrive.DeadLetterTargetARN)
	if err != nil {
		return err
	}
	var reconciler *reconcile.Reconciler
	if cfg.DLQReconcileInterval > 0 {
		reconciler = reconcile.New(sqs.NewConsumer(client, dlqURL), store, cfg.DLQReconcileInterval, redrive.MaxReceiveCount, log)
	}

	gate := dbgate.New(store.Ping, cfg.DBRetryInterval, log)
	live := health.NewLiveness(livenessLimit, nil)
	listener, err := net.Listen("tcp", cfg.HealthAddr)
	if err != nil {
		return fmt.Errorf("listen for /healthz on %s: %w", cfg.HealthAddr, err)
	}
	srv := &http.Server{Handler: health.Handler(live, paused(gate)), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("health endpoint stopped: ECS will find the task unhealthy", slog.String(logging.KeyStatus, "RUNNING"),
				slog.String(logging.KeyErrorCode, "HEALTH_ENDPOINT_FAILED"), logging.Err(err))
		}
	}()

	// The database gate keeps running while in-flight messages drain (they may be waiting for it).
	background, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	go gate.Run(background)
	go postgres.ReportPool(background, pool, metrics, 10*time.Second)
	go reportGate(background, gate, metrics, 10*time.Second)
	if reconciler != nil {
		go reconciler.Run(ctx)
	}

	w := worker.New(worker.Config{
		Concurrency:     cfg.Concurrency,
		MaxAttempts:     redrive.MaxReceiveCount,
		Visibility:      cfg.VisibilityTimeout,
		Wait:            cfg.ReceiveWait,
		RetryBaseDelay:  cfg.RetryBaseDelay,
		RetryMaxDelay:   cfg.RetryMaxDelay,
		ShutdownTimeout: cfg.ShutdownTimeout,
	}, worker.Deps{
		Queue:       sqs.NewConsumer(client, queueURL),
		DeadLetters: sqs.NewPublisher(client, dlqURL),
		Store:       store,
		Sender:      send.NewPseudo(cfg.FailureRate, cfg.SendLatency, nil),
		Gate:        gate,
		Liveness:    live,
		Log:         log,
		Metrics:     metrics,
	})
	log.Info("worker started", slog.String(logging.KeyStatus, "RUNNING"),
		slog.String("queue_url", queueURL), slog.String("dlq_url", dlqURL), slog.Int("max_receive_count", redrive.MaxReceiveCount),
		slog.Int("concurrency", cfg.Concurrency), slog.Int("db_max_conns", cfg.Database.MaxConns), slog.Float64("failure_rate", cfg.FailureRate),
		slog.Duration("visibility_timeout", cfg.VisibilityTimeout), slog.Duration("retry_base_delay", cfg.RetryBaseDelay),
		slog.Duration("retry_max_delay", cfg.RetryMaxDelay), slog.String("health_addr", listener.Addr().String()))
	if ready != nil {
		ready <- listener.Addr().String()
	}
	err = w.Run(ctx)

	stopBackground()
	shutdown, cancelShutdown := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelShutdown()
	_ = srv.Shutdown(shutdown)
	return err
}

// deadLetterQueue resolves the DLQ (SQS_DLQ_URL, else SQS_DLQ_NAME) and checks that it is the
// queue the main queue's RedrivePolicy sends to: a reconciler reading another queue would silently
// leave gifts QUEUED, and the worker would put failed gifts' messages where no one looks.
func deadLetterQueue(ctx context.Context, client *awssqs.Client, cfg config.Config, target string) (string, error) {
	dlqURL, err := sqs.QueueURL(ctx, client, cfg.DLQURL, cfg.Queue.DLQName)
	if err != nil {
		return "", fmt.Errorf("DLQ (SQS_DLQ_URL or SQS_DLQ_NAME): %w", err)
	}
	arn, err := sqs.QueueARN(ctx, client, dlqURL)
	if err != nil {
		return "", err
	}
	if arn != target {
		return "", fmt.Errorf("the DLQ %s (SQS_DLQ_URL or SQS_DLQ_NAME) is %s, but the queue's RedrivePolicy sends to %s", dlqURL, arn, target)
	}
	return dlqURL, nil
}

// reportGate sends gift.worker.gate.open every interval: 1 while receiving, 0 while paused
// because PostgreSQL is unreachable.
func reportGate(ctx context.Context, g *dbgate.Gate, m *dogstatsd.Client, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		open := 0.0
		if g.State().Open {
			open = 1
		}
		m.Gauge("gift.worker.gate.open", open)
	}
}

// paused says why receiving is paused, for /healthz.
func paused(g *dbgate.Gate) health.Paused {
	return func() string {
		if st := g.State(); !st.Open {
			return fmt.Sprintf("%s (since %s)", st.Reason, st.Since.UTC().Format(time.RFC3339))
		}
		return ""
	}
}
