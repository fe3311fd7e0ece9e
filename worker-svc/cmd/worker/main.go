// Command worker takes gift send requests off the SQS queue and finishes each gift's lifecycle
// (QUEUED -> SENT, or FAILED once the queue's delivery attempts are used up).
//
//	worker [run]        run until SIGTERM or SIGINT, then shut down gracefully (exit 0); exit 2 on
//	                    invalid configuration, 1 when the worker cannot start
//	worker healthcheck  exit 0 when http://$WORKER_HEALTH_ADDR/healthz answers 200; the ECS
//	                    container health check (the image has no shell or curl)
//
// Configuration is read from the environment (README, "Configuration"); the wiring is
// internal/workerserver.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/platform"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/config"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/health"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/workerserver"
)

func main() {
	cmd := "run"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	switch cmd {
	case "run":
		os.Exit(run())
	case "healthcheck":
		os.Exit(healthcheck())
	default:
		fmt.Fprintln(os.Stderr, "usage: worker [run|healthcheck]")
		os.Exit(2)
	}
}

// run is `worker run`: 0 after a graceful shutdown, 1 when the worker cannot start, 2 on invalid
// configuration.
func run() int {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		platform.ConfigInvalid(cfg.Log, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	stopTracing := tracing.Start(cfg.Tracing, cfg.Log)
	defer stopTracing()
	if err := workerserver.Serve(ctx, cfg, nil); err != nil {
		cfg.Log.Error("cannot start", slog.String(logging.KeyStatus, "STOPPED"), slog.String(logging.KeyErrorCode, "STARTUP_FAILED"), logging.Err(err))
		return 1
	}
	return 0
}

// healthcheck is `worker healthcheck`.
func healthcheck() int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := health.Probe(ctx, config.HealthAddr(os.LookupEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "worker healthcheck:", err)
		return 1
	}
	return 0
}
