// Package apiserver is the API's composition root: it logs the effective configuration and wires
// the process together (store, queue, outbox, HTTP server), then runs it until the graceful
// shutdown that ECS's SIGTERM starts. worker-svc/internal/workerserver is the worker's.
package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/auth"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/config"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/gifts"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/httpapi"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/keyprune"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/outbox"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/ratelimit"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/dogstatsd"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/envconfig"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// Timeouts of the HTTP server. IdleTimeout is longer than the ALB's 60 s idle timeout, so the
// load balancer, not the task, closes idle keep-alive connections (no 502 on a reused socket).
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 15 * time.Second
	idleTimeout       = 75 * time.Second
)

// Serve runs the API until ctx is cancelled (SIGTERM/SIGINT), then drains: it stops accepting,
// lets in-flight requests finish within cfg.ShutdownTimeout, waits for immediate publishes, stops
// the relay and closes the pool. ready, when not nil, receives the listening address.
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

	sqsClient, queueURL, err := cfg.Queue.Connect(ctx)
	if err != nil {
		return err
	}
	publisher := sqs.NewPublisher(sqsClient, queueURL)

	metrics, err := dogstatsd.New(cfg.DogStatsDAddr, cfg.MetricTags...)
	if err != nil {
		return err
	}
	defer metrics.Close()

	// Background work outlives the HTTP drain: it is cancelled only after in-flight requests and
	// their immediate publishes are done.
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	dispatcher := outbox.NewDispatcher(bgCtx, publisher, store, log, outbox.DispatcherConfig{
		MaxInFlight: cfg.Outbox.MaxInFlight, Lease: cfg.Outbox.ClaimLease, PublishTimeout: cfg.Outbox.PublishTimeout,
		StoreTimeout: cfg.Database.QueryTimeout, RetryDelay: cfg.Outbox.PollInterval,
	})
	relay := outbox.NewRelay(store, publisher, metrics, log, outbox.RelayConfig{
		Interval: cfg.Outbox.PollInterval, BatchSize: cfg.Outbox.BatchSize, Lease: cfg.Outbox.ClaimLease,
		MaxBackoff: cfg.Outbox.MaxBackoff, PublishTimeout: cfg.Outbox.PublishTimeout, StoreTimeout: cfg.Database.QueryTimeout,
		ReportInterval: 10 * time.Second, StaleAfter: cfg.Outbox.StaleAfter,
	})
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); relay.Run(bgCtx) }()
	go postgres.ReportPool(bgCtx, pool, metrics, 10*time.Second)
	pruner := keyprune.New(store, log, keyprune.Config{
		Retention: cfg.Idempotency.Retention, Interval: cfg.Idempotency.PruneInterval, BatchSize: cfg.Idempotency.PruneBatch,
	})
	prunerDone := make(chan struct{})
	go func() { defer close(prunerDone); pruner.Run(bgCtx) }()

	handler, err := httpapi.NewHandler(httpapi.Options{
		Gifts:            gifts.NewService(store, dispatcher, log),
		Ready:            store.Ping,
		Log:              log,
		MaxBodyBytes:     cfg.MaxBodyBytes,
		FailureInjection: cfg.FailureInjection,
		Metrics:          metrics,
		Tracing:          cfg.Tracing.RequestSampler(),
		Keys:             auth.NewChecker(store, auth.Config{TTL: cfg.Keys.CacheTTL, Size: cfg.Keys.CacheSize}),
		Limiter:          ratelimit.New(),
	})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    16 << 10,
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	log.Info("api listening", logging.KeyStatus, "ready", "addr", ln.Addr().String(),
		"failure_injection", cfg.FailureInjection)
	if ready != nil {
		ready <- ln.Addr().String()
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down: draining in-flight requests", logging.KeyStatus, "draining", "budget", cfg.ShutdownTimeout.String())
	drainCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(drainCtx)
	if shutdownErr != nil && !errors.Is(shutdownErr, http.ErrServerClosed) {
		log.Warn("drain budget exhausted; closing remaining connections", logging.KeyStatus, "forced", logging.Err(shutdownErr))
		_ = srv.Close()
	}
	dispatcher.Wait()
	stopBackground()
	<-relayDone
	<-prunerDone
	log.Info("api stopped", logging.KeyStatus, "stopped")
	return nil
}
