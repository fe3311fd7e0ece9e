package config_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/envconfig"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/platform"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/config"
)

func read(env map[string]string) (config.Config, error) {
	return config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

func TestDefaults(t *testing.T) {
	c, err := read(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Concurrency: 10, FailureRate: 0.2, SendLatency: 50 * time.Millisecond,
		RetryBaseDelay: 10 * time.Second, RetryMaxDelay: 5 * time.Minute, ShutdownTimeout: 25 * time.Second,
		HealthAddr: "127.0.0.1:8081", VisibilityTimeout: 30 * time.Second, ReceiveWait: 20 * time.Second, DBRetryInterval: time.Second,
		DLQReconcileInterval: time.Minute,
	}
	want.Database, want.Queue = c.Database, c.Queue // shared/platform's own defaults
	want.Log, want.Settings = c.Log, c.Settings     // checked by TestSettings
	want.Metrics = platform.DogStatsD{Tags: []string{"service:worker"}}
	want.Tracing = tracing.Config{Enabled: true, AgentAddr: "localhost:8126", Service: "worker"}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if c.Database.MaxConns != c.Concurrency+2 {
		t.Fatalf("default pool: %d connections for concurrency %d; want concurrency + 2", c.Database.MaxConns, c.Concurrency)
	}
	if c.Queue.Name != "gift-send" || c.Queue.DLQName != "gift-send-dlq" || c.DLQURL != "" {
		t.Fatalf("queue defaults: %+v, DLQ URL %q", c.Queue, c.DLQURL)
	}
}

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		check func(config.Config) bool
		errs  []string // each must appear in the error; none means valid
	}{
		{
			name: "every worker variable is read",
			env: map[string]string{
				"WORKER_CONCURRENCY": "4", "WORKER_FAILURE_RATE": "0", "WORKER_SEND_LATENCY": "0s",
				"WORKER_RETRY_BASE_DELAY": "1s", "WORKER_RETRY_MAX_DELAY": "4s", "WORKER_SHUTDOWN_TIMEOUT": "5s",
				"WORKER_HEALTH_ADDR": "0.0.0.0:9000", "WORKER_VISIBILITY_TIMEOUT": "2s", "WORKER_DB_RETRY_INTERVAL": "250ms",
				"SQS_DLQ_URL": "http://q/dlq", "WORKER_DLQ_RECONCILE_INTERVAL": "0",
				"SQS_QUEUE_URL": "http://q/main", "WORKER_RECEIVE_WAIT": "1s",
			},
			check: func(c config.Config) bool {
				return c.Concurrency == 4 && c.FailureRate == 0 && c.SendLatency == 0 && c.RetryBaseDelay == time.Second &&
					c.RetryMaxDelay == 4*time.Second && c.ShutdownTimeout == 5*time.Second && c.HealthAddr == "0.0.0.0:9000" &&
					c.VisibilityTimeout == 2*time.Second && c.DBRetryInterval == 250*time.Millisecond && c.DLQURL == "http://q/dlq" &&
					c.DLQReconcileInterval == 0 && c.Queue.URL == "http://q/main" && c.ReceiveWait == time.Second
			},
		},
		{
			name: "every problem is reported at once",
			env: map[string]string{
				"WORKER_CONCURRENCY": "0", "WORKER_FAILURE_RATE": "1.5", "WORKER_SEND_LATENCY": "fast",
				"WORKER_SHUTDOWN_TIMEOUT": "100ms", "WORKER_HEALTH_ADDR": "8081",
			},
			errs: []string{"WORKER_CONCURRENCY", "WORKER_FAILURE_RATE", "WORKER_SEND_LATENCY", "WORKER_SHUTDOWN_TIMEOUT", "WORKER_HEALTH_ADDR"},
		},
		{name: "durations need a unit", env: map[string]string{"WORKER_RETRY_BASE_DELAY": "10"}, errs: []string{"WORKER_RETRY_BASE_DELAY"}},
		{name: "the cap cannot be below the base", env: map[string]string{"WORKER_RETRY_BASE_DELAY": "1m", "WORKER_RETRY_MAX_DELAY": "30s"}, errs: []string{"below WORKER_RETRY_BASE_DELAY"}},
		{name: "the cap fits in SQS's 12 hours", env: map[string]string{"WORKER_RETRY_MAX_DELAY": "13h"}, errs: []string{"WORKER_RETRY_MAX_DELAY"}},
		{name: "visibility is whole seconds", env: map[string]string{"WORKER_VISIBILITY_TIMEOUT": "1500ms"}, errs: []string{"whole seconds"}},
		{name: "visibility fits in SQS's 12 hours", env: map[string]string{"WORKER_VISIBILITY_TIMEOUT": "24h"}, errs: []string{"WORKER_VISIBILITY_TIMEOUT"}},
		{name: "visibility of at least a second", env: map[string]string{"WORKER_VISIBILITY_TIMEOUT": "0s"}, errs: []string{"WORKER_VISIBILITY_TIMEOUT"}},
		{name: "receive wait is at most 20s", env: map[string]string{"WORKER_RECEIVE_WAIT": "21s"}, errs: []string{"WORKER_RECEIVE_WAIT"}},
		{name: "receive wait is whole seconds", env: map[string]string{"WORKER_RECEIVE_WAIT": "500ms"}, errs: []string{"WORKER_RECEIVE_WAIT"}},
		{name: "a base of zero retries at once", env: map[string]string{"WORKER_RETRY_BASE_DELAY": "0s"}, check: func(c config.Config) bool { return c.RetryBaseDelay == 0 }},
		{name: "failure rate one fails every send", env: map[string]string{"WORKER_FAILURE_RATE": "1"}, check: func(c config.Config) bool { return c.FailureRate == 1 }},
		{name: "shared variables are checked too", env: map[string]string{"DB_MAX_CONNS": "0"}, errs: []string{"DB_MAX_CONNS"}},
		{
			name: "a pool smaller than concurrency + 2 is refused", env: map[string]string{"WORKER_CONCURRENCY": "10", "DB_MAX_CONNS": "11"},
			errs: []string{"DB_MAX_CONNS=11", "WORKER_CONCURRENCY=10"},
		},
		{
			name: "a pool of concurrency + 2 is enough", env: map[string]string{"WORKER_CONCURRENCY": "10", "DB_MAX_CONNS": "12"},
			check: func(c config.Config) bool { return c.Database.MaxConns == 12 },
		},
		{
			name: "an unset pool size follows the concurrency", env: map[string]string{"WORKER_CONCURRENCY": "30"},
			check: func(c config.Config) bool { return c.Database.MaxConns == 32 },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := read(tc.env)
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tc.check != nil && !tc.check(c) {
					t.Fatalf("read %+v", c)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			for _, want := range tc.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not mention %q: %v", want, err)
				}
			}
		})
	}
}

// The settings logged at start are what the worker uses: the pool size it derives from the
// concurrency, not the shared default, and the database URL without its password.
func TestSettings(t *testing.T) {
	c, err := read(map[string]string{"WORKER_CONCURRENCY": "4", "DATABASE_URL": "postgres://gift:s3cret@db/gifts"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]envconfig.Setting{}
	for _, s := range c.Settings {
		got[s.Name] = s
	}
	for _, want := range []envconfig.Setting{
		{Name: "WORKER_CONCURRENCY", Value: "4", Set: true},
		{Name: "DB_MAX_CONNS", Value: "6"},
		{Name: "DATABASE_URL", Value: "postgres://gift:*****@db/gifts", Set: true, Secret: true},
		{Name: "WORKER_SHUTDOWN_TIMEOUT", Value: "25s"},
		{Name: "DD_SERVICE", Value: "worker"},
	} {
		if got[want.Name] != want {
			t.Errorf("setting %s: %+v, want %+v", want.Name, got[want.Name], want)
		}
	}
	if c.Log == nil {
		t.Fatal("no logger")
	}
}
