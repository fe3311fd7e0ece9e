// Package tracing starts Datadog APM (dd-trace-go) for a service and gives the adapters what they
// need to take part in one trace: the span of an HTTP request served (http.go), a pgx tracer
// (pgx.go) and the trace context carried with a queue message (propagation.go).
// docs/observability.md, "Following one send", shows the result.
//
// dd-trace-go keeps its tracer in a package variable: Start is called once, from main, and a
// process that never calls it (tests, DD_TRACE_ENABLED=false) creates no-op spans.
package tracing

import (
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/envconfig"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
)

// Config says whether and where to send traces.
type Config struct {
	Enabled   bool   // DD_TRACE_ENABLED (default true)
	AgentAddr string // DD_AGENT_HOST:DD_TRACE_AGENT_PORT (default localhost:8126)
	Service   string // DD_SERVICE
	Env       string // DD_ENV
	Version   string // DD_VERSION
}

// ReadConfig reads the tracing settings; defaultService names the service when DD_SERVICE is unset.
func ReadConfig(r *envconfig.Reader, defaultService string) Config {
	return Config{
		Enabled:   r.Bool("DD_TRACE_ENABLED", true),
		AgentAddr: net.JoinHostPort(r.String("DD_AGENT_HOST", "localhost"), strconv.Itoa(r.Int("DD_TRACE_AGENT_PORT", 8126, 1, 65535))),
		Service:   r.String("DD_SERVICE", defaultService),
		Env:       r.String("DD_ENV", ""),
		Version:   r.String("DD_VERSION", ""),
	}
}

// Start starts the tracer when cfg.Enabled and returns the function that flushes and stops it.
// Without an Agent the service runs as usual: traces are dropped, and the tracer's complaints go
// to log quietly (quietLogger).
func Start(cfg Config, log *slog.Logger) (stop func()) {
	if !cfg.Enabled {
		log.Info("tracing disabled (DD_TRACE_ENABLED=false)", logging.KeyStatus, "disabled")
		return func() {}
	}
	opts := []tracer.StartOption{
		tracer.WithService(cfg.Service),
		tracer.WithAgentAddr(cfg.AgentAddr),
		tracer.WithLogger(newQuietLogger(log, 10*time.Minute)),
		tracer.WithLogStartup(false),
		tracer.WithRuntimeMetrics(),
		// No profiler runs in these services: skip the pprof labels it would read on every span.
		tracer.WithProfilerCodeHotspots(false),
		tracer.WithProfilerEndpoints(false),
	}
	if cfg.Env != "" {
		opts = append(opts, tracer.WithEnv(cfg.Env))
	}
	if cfg.Version != "" {
		opts = append(opts, tracer.WithServiceVersion(cfg.Version))
	}
	if err := tracer.Start(opts...); err != nil {
		log.Warn("tracing not started; the service runs without traces", logging.KeyStatus, "disabled",
			logging.KeyErrorCode, "TRACING_UNAVAILABLE", logging.Err(err))
		return func() {}
	}
	log.Info("tracing enabled", logging.KeyStatus, "enabled", "agent", cfg.AgentAddr)
	return tracer.Stop
}

// quietLogger receives dd-trace-go's own messages. Without a reachable Agent the tracer reports a
// failed flush every few seconds; the service logs the first one as a warning, then at most one
// line per interval saying how many more there were. Everything else the tracer says is DEBUG.
type quietLogger struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu         sync.Mutex
	lastReport time.Time
	suppressed int
}

func newQuietLogger(log *slog.Logger, interval time.Duration) *quietLogger {
	return &quietLogger{log: log, interval: interval, now: time.Now}
}

func (q *quietLogger) Log(msg string) {
	if !strings.Contains(msg, " ERROR: ") {
		q.log.Debug("tracer: "+strings.TrimSpace(msg), logging.KeyStatus, "tracer")
		return
	}
	q.mu.Lock()
	now := q.now()
	if !q.lastReport.IsZero() && now.Sub(q.lastReport) < q.interval {
		q.suppressed++
		q.mu.Unlock()
		return
	}
	more := q.suppressed
	q.lastReport, q.suppressed = now, 0
	q.mu.Unlock()
	q.log.Warn("traces cannot be sent to the Datadog Agent; the service is unaffected",
		logging.KeyStatus, "degraded", logging.KeyErrorCode, "TRACE_EXPORT_FAILED",
		logging.KeyErrorMessage, strings.TrimSpace(msg), "similar_since_last_report", more,
		"next_report_in", q.interval)
}
