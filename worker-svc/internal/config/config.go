// Package config reads the worker's settings from the environment (README, "Configuration"):
// its own WORKER_* variables plus the database, queue and logging variables it shares with the
// API (shared/platform). Durations use Go syntax (1s, 250ms).
package config

import (
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/envconfig"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/platform"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// Defaults of the WORKER_* variables.
const (
	DefaultConcurrency          = 10
	DefaultFailureRate          = 0.2 // docs/requirements.md §14 decision 5
	DefaultSendLatency          = 50 * time.Millisecond
	DefaultRetryBaseDelay       = 10 * time.Second
	DefaultRetryMaxDelay        = 5 * time.Minute
	DefaultShutdownTimeout      = 25 * time.Second // ECS stopTimeout is 30s
	DefaultHealthAddr           = "127.0.0.1:8081"
	DefaultVisibilityTimeout    = 30 * time.Second
	DefaultDBRetryInterval      = time.Second
	DefaultDLQReconcileInterval = time.Minute
	DefaultReceiveWait          = 20 * time.Second // SQS's longest long poll
)

// ReservedConns are the pool connections the worker needs besides one per message in hand: the
// database gate's ping and the DLQ reconciler. A pool smaller than WORKER_CONCURRENCY +
// ReservedConns lets busy message slots starve the ping, which then reports an outage that is not
// one and pauses receiving.
const ReservedConns = 2

// Config is everything the worker reads from the environment.
type Config struct {
	Concurrency       int           // WORKER_CONCURRENCY: messages processed at once
	FailureRate       float64       // WORKER_FAILURE_RATE: chance that a pseudo send fails
	SendLatency       time.Duration // WORKER_SEND_LATENCY: simulated time of one send
	RetryBaseDelay    time.Duration // WORKER_RETRY_BASE_DELAY: wait after the first failed attempt
	RetryMaxDelay     time.Duration // WORKER_RETRY_MAX_DELAY: longest wait between attempts
	ShutdownTimeout   time.Duration // WORKER_SHUTDOWN_TIMEOUT: budget to finish in-flight work on SIGTERM
	HealthAddr        string        // WORKER_HEALTH_ADDR: listen address of /healthz
	VisibilityTimeout time.Duration // WORKER_VISIBILITY_TIMEOUT: asked on receive, renewed by heartbeats
	ReceiveWait       time.Duration // WORKER_RECEIVE_WAIT: long-poll wait of one receive (0s to 20s)
	DBRetryInterval   time.Duration // WORKER_DB_RETRY_INTERVAL: database ping interval (while down: how soon receiving resumes)
	// DLQURL is SQS_DLQ_URL; when empty the DLQ is resolved from Queue.DLQName (SQS_DLQ_NAME).
	DLQURL string
	// DLQReconcileInterval (WORKER_DLQ_RECONCILE_INTERVAL) is how often the DLQ reconciler looks
	// at the DLQ; 0 turns it off.
	DLQReconcileInterval time.Duration

	Database platform.Database
	Queue    platform.Queue
	Metrics  platform.DogStatsD // DD_AGENT_HOST, DD_DOGSTATSD_PORT, DD_SERVICE, DD_ENV, DD_VERSION
	Tracing  tracing.Config     // DD_TRACE_ENABLED, DD_AGENT_HOST, DD_TRACE_AGENT_PORT

	// Log is the JSON logger (LOG_LEVEL, DD_SERVICE); Load sets it even when it returns an error,
	// so that main can report the error as a log line.
	Log *slog.Logger
	// Settings are the effective values of the variables read, secrets masked, for the
	// "configuration" line logged at start (envconfig.LogConfiguration).
	Settings []envconfig.Setting
}

// Load reads the configuration through lookup (os.LookupEnv in main) and reports every problem at
// once: the same shape as the API's config.Load.
func Load(lookup func(string) (string, bool)) (Config, error) {
	r := &envconfig.Reader{Lookup: lookup}
	c := Config{
		Log:                  platform.Logger(r, "worker"),
		Concurrency:          r.Int("WORKER_CONCURRENCY", DefaultConcurrency, 1, 1000),
		FailureRate:          r.Float("WORKER_FAILURE_RATE", DefaultFailureRate, 0, 1),
		SendLatency:          r.Duration("WORKER_SEND_LATENCY", DefaultSendLatency, 0),
		RetryBaseDelay:       r.Duration("WORKER_RETRY_BASE_DELAY", DefaultRetryBaseDelay, 0),
		RetryMaxDelay:        r.Duration("WORKER_RETRY_MAX_DELAY", DefaultRetryMaxDelay, 0),
		ShutdownTimeout:      r.Duration("WORKER_SHUTDOWN_TIMEOUT", DefaultShutdownTimeout, time.Second),
		HealthAddr:           r.String("WORKER_HEALTH_ADDR", DefaultHealthAddr),
		VisibilityTimeout:    r.Duration("WORKER_VISIBILITY_TIMEOUT", DefaultVisibilityTimeout, time.Second),
		ReceiveWait:          r.Duration("WORKER_RECEIVE_WAIT", DefaultReceiveWait, 0),
		DBRetryInterval:      r.Duration("WORKER_DB_RETRY_INTERVAL", DefaultDBRetryInterval, 10*time.Millisecond),
		DLQURL:               r.String("SQS_DLQ_URL", ""),
		DLQReconcileInterval: r.Duration("WORKER_DLQ_RECONCILE_INTERVAL", DefaultDLQReconcileInterval, 0),
		Database:             platform.ReadDatabase(r),
		Queue:                platform.ReadQueue(r),
		Metrics:              platform.ReadDogStatsD(r, "worker"),
		Tracing:              tracing.ReadConfig(r, "worker"),
	}
	if r.Derive("DB_MAX_CONNS", strconv.Itoa(c.Concurrency+ReservedConns)) {
		// Unset: the pool the worker needs, rather than the API's default.
		c.Database.MaxConns = c.Concurrency + ReservedConns
	}
	r.Check(c.Database.MaxConns < c.Concurrency+ReservedConns,
		"DB_MAX_CONNS=%d is below WORKER_CONCURRENCY=%d + %d (one connection per message in hand, plus the database ping and the DLQ reconciler)",
		c.Database.MaxConns, c.Concurrency, ReservedConns)
	r.Check(c.RetryMaxDelay < c.RetryBaseDelay, "WORKER_RETRY_MAX_DELAY=%s is below WORKER_RETRY_BASE_DELAY=%s", c.RetryMaxDelay, c.RetryBaseDelay)
	r.Check(c.RetryMaxDelay > queue.MaxVisibility, "WORKER_RETRY_MAX_DELAY=%s: SQS hides a message for at most %s", c.RetryMaxDelay, queue.MaxVisibility)
	r.Check(c.VisibilityTimeout > queue.MaxVisibility, "WORKER_VISIBILITY_TIMEOUT=%s: SQS allows at most %s", c.VisibilityTimeout, queue.MaxVisibility)
	r.Check(c.ReceiveWait > queue.MaxWait || c.ReceiveWait%time.Second != 0, "WORKER_RECEIVE_WAIT=%s: SQS takes whole seconds up to %s", c.ReceiveWait, queue.MaxWait)
	r.Check(c.VisibilityTimeout%time.Second != 0, "WORKER_VISIBILITY_TIMEOUT=%s: SQS takes whole seconds", c.VisibilityTimeout)
	if _, _, err := net.SplitHostPort(c.HealthAddr); err != nil {
		r.Check(true, "WORKER_HEALTH_ADDR=%q: want host:port (like 127.0.0.1:8081): %v", c.HealthAddr, err)
	}
	c.Settings = r.Settings()
	return c, r.Err()
}

// HealthAddr reads WORKER_HEALTH_ADDR alone, for `worker healthcheck`, which needs nothing else
// (and must not fail on a setting only `worker run` uses).
func HealthAddr(lookup func(string) (string, bool)) string {
	r := &envconfig.Reader{Lookup: lookup}
	return r.String("WORKER_HEALTH_ADDR", DefaultHealthAddr)
}
