// Package config reads the API's settings from the environment (README, "Configuration").
package config

import (
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/envconfig"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/platform"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// Config is everything the API binary reads at start-up.
type Config struct {
	Addr             string        // API_HOST:API_PORT
	ShutdownTimeout  time.Duration // SHUTDOWN_TIMEOUT: drain budget after SIGTERM
	MaxBodyBytes     int64         // MAX_BODY_BYTES
	FailureInjection bool          // FAILURE_INJECTION_ENABLED: honour X-Force-Failure

	Outbox      Outbox
	Idempotency Idempotency
	Keys        Keys

	Database platform.Database
	Queue    platform.Queue

	// DogStatsDAddr is DD_AGENT_HOST:DD_DOGSTATSD_PORT, empty when DD_AGENT_HOST is unset.
	DogStatsDAddr string
	MetricTags    []string // env, service, version from DD_ENV, DD_SERVICE, DD_VERSION

	Tracing tracing.Config // DD_TRACE_ENABLED, DD_AGENT_HOST, DD_TRACE_AGENT_PORT, TRACE_REQUESTS_PER_SECOND

	// Log is the JSON logger (LOG_LEVEL, DD_SERVICE); Load sets it even when it returns an error,
	// so that main can report the error as a log line.
	Log *slog.Logger
	// Settings are the effective values of the variables read, secrets masked, for the
	// "configuration" line logged at start (envconfig.LogConfiguration).
	Settings []envconfig.Setting
}

// Outbox tunes the outbox dispatcher and relay.
type Outbox struct {
	PollInterval   time.Duration // OUTBOX_POLL_INTERVAL
	BatchSize      int           // OUTBOX_BATCH_SIZE
	ClaimLease     time.Duration // OUTBOX_CLAIM_LEASE
	MaxBackoff     time.Duration // OUTBOX_MAX_BACKOFF
	PublishTimeout time.Duration // OUTBOX_PUBLISH_TIMEOUT
	StaleAfter     time.Duration // OUTBOX_STALE_AFTER
	MaxInFlight    int           // OUTBOX_MAX_IN_FLIGHT: concurrent immediate publishes
}

// Idempotency is the retention of POST /gifts' Idempotency-Keys and its pruner.
type Idempotency struct {
	// Retention (IDEMPOTENCY_KEY_RETENTION): keys are kept at least this long. openapi.yaml
	// publishes 7 days, so it cannot be set lower.
	Retention     time.Duration
	PruneInterval time.Duration // IDEMPOTENCY_PRUNE_INTERVAL: time between pruning rounds
	PruneBatch    int           // IDEMPOTENCY_PRUNE_BATCH: keys deleted per statement
}

// Keys is the cache of the API-key check (api-svc/internal/auth).
type Keys struct {
	// CacheTTL (API_KEY_CACHE_TTL): how long a key's lookup is reused, so how long a revoked key
	// may still work. openapi.yaml promises 30 s at most.
	CacheTTL  time.Duration
	CacheSize int // API_KEY_CACHE_SIZE: the most key ids cached
}

// MaxKeyCacheTTL is the longest a revoked key may keep working, as openapi.yaml publishes it.
const MaxKeyCacheTTL = 30 * time.Second

// MinKeyRetention is the retention of create keys that openapi.yaml publishes.
const MinKeyRetention = 7 * 24 * time.Hour

// Load reads the configuration through lookup (os.LookupEnv in main) and reports every problem at
// once. The worker's and giftctl's config packages have the same shape.
func Load(lookup func(string) (string, bool)) (Config, error) {
	r := &envconfig.Reader{Lookup: lookup}
	c := Config{
		Addr:             net.JoinHostPort(r.String("API_HOST", "127.0.0.1"), strconv.Itoa(r.Int("API_PORT", 8080, 0, 65535))),
		ShutdownTimeout:  r.Duration("SHUTDOWN_TIMEOUT", 20*time.Second, 0),
		MaxBodyBytes:     int64(r.Int("MAX_BODY_BYTES", 16<<10, 1024, 1<<20)),
		FailureInjection: r.Bool("FAILURE_INJECTION_ENABLED", false),
		Outbox: Outbox{
			PollInterval:   r.Duration("OUTBOX_POLL_INTERVAL", time.Second, 10*time.Millisecond),
			BatchSize:      r.Int("OUTBOX_BATCH_SIZE", 100, 1, 1000),
			ClaimLease:     r.Duration("OUTBOX_CLAIM_LEASE", 30*time.Second, time.Second),
			MaxBackoff:     r.Duration("OUTBOX_MAX_BACKOFF", 30*time.Second, 10*time.Millisecond),
			PublishTimeout: r.Duration("OUTBOX_PUBLISH_TIMEOUT", 3*time.Second, 10*time.Millisecond),
			StaleAfter:     r.Duration("OUTBOX_STALE_AFTER", 5*time.Minute, time.Second),
			MaxInFlight:    r.Int("OUTBOX_MAX_IN_FLIGHT", 64, 1, 10000),
		},
		Idempotency: Idempotency{
			Retention:     r.Duration("IDEMPOTENCY_KEY_RETENTION", MinKeyRetention, MinKeyRetention),
			PruneInterval: r.Duration("IDEMPOTENCY_PRUNE_INTERVAL", 10*time.Minute, 10*time.Millisecond),
			PruneBatch:    r.Int("IDEMPOTENCY_PRUNE_BATCH", 1000, 1, 10000),
		},
		Keys: Keys{
			CacheTTL:  r.Duration("API_KEY_CACHE_TTL", MaxKeyCacheTTL, 0),
			CacheSize: r.Int("API_KEY_CACHE_SIZE", 10000, 1, 1000000),
		},
		Database: platform.ReadDatabase(r),
		Queue:    platform.ReadQueue(r),
	}
	metrics := platform.ReadDogStatsD(r, "api")
	c.DogStatsDAddr, c.MetricTags = metrics.Addr, metrics.Tags
	c.Tracing = tracing.ReadConfig(r, "api")
	tracing.ReadRequestSampling(r, &c.Tracing)
	c.Log = platform.Logger(r, "api")
	// The dispatcher's lease covers the send's transaction, its publish and its delete (each
	// bounded by its own timeout); the relay's covers a chunk's publish and delete. Both check at
	// run time that what they start fits in what is left, so no setting lets two of them publish
	// one row; a lease shorter than this would only leave every send to the relay.
	dispatcherWorstCase := c.Database.QueryTimeout + c.Outbox.PublishTimeout + c.Database.QueryTimeout
	r.Check(c.Outbox.ClaimLease <= dispatcherWorstCase,
		"OUTBOX_CLAIM_LEASE (%s) must be longer than DB_QUERY_TIMEOUT + OUTBOX_PUBLISH_TIMEOUT + DB_QUERY_TIMEOUT (%s): the lease must hold the send transaction, the publish and the outbox delete",
		c.Outbox.ClaimLease, dispatcherWorstCase)
	r.Check(c.Keys.CacheTTL > MaxKeyCacheTTL,
		"API_KEY_CACHE_TTL (%s) must be at most %s: openapi.yaml promises that a revoked key stops working within it",
		c.Keys.CacheTTL, MaxKeyCacheTTL)
	_, relayDelaySet := lookup("OUTBOX_RELAY_DELAY")
	r.Check(relayDelaySet,
		"OUTBOX_RELAY_DELAY was removed: the dispatcher now holds a lease of OUTBOX_CLAIM_LEASE on the rows it publishes, so the relay needs no delay; unset OUTBOX_RELAY_DELAY")
	c.Settings = r.Settings()
	return c, r.Err()
}
