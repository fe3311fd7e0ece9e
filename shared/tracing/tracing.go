// Package tracing starts Datadog APM (dd-trace-go) for a service and gives the adapters what they
// need to take part in one trace: the span of an HTTP request served (http.go), a pgx tracer
// (pgx.go) and the trace context carried with a queue message (propagation.go).
// docs/observability.md, "Following one send", shows the result.
//
// dd-trace-go keeps its tracer in a package variable: Start is called once, from main, and a
// process that never calls it (tests, DD_TRACE_ENABLED=false) creates no-op spans.
package tracing

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
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

	// RequestsPerSecond is how many requests a second, per task, a service that serves HTTP
	// samples before their spans start (RequestSampler; TRACE_REQUESTS_PER_SECOND, read by
	// ReadRequestSampling). Zero: the service samples none of its own (the worker), and
	// dd-trace-go computes APM's trace metrics itself. Otherwise the Agent computes them, so that
	// each sampled span counts with its weight.
	RequestsPerSecond int
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

// ReadRequestSampling reads TRACE_REQUESTS_PER_SECOND into cfg: the API samples about that many
// requests a second per task before their spans start (RequestSampler), 100 by default. Above the
// Agent's own ingestion target (10 traces a second), so the Agent still chooses what is kept, and
// enough that APM's trace metrics, scaled from the sample, are within a few per cent a minute.
func ReadRequestSampling(r *envconfig.Reader, cfg *Config) {
	cfg.RequestsPerSecond = r.Int("TRACE_REQUESTS_PER_SECOND", 100, 1, 1_000_000)
}

// RequestSampler is the head sampler of the service's requests: nil when tracing is off or the
// service samples none of its own.
func (c Config) RequestSampler() *RequestSampler {
	if !c.Enabled || c.RequestsPerSecond == 0 {
		return nil
	}
	return NewRequestSampler(c.RequestsPerSecond)
}

// How Start looks for the Agent: one GET of its /info at start, then one every agentProbeInterval
// until it answers.
const (
	agentProbeTimeout  = time.Second
	agentProbeInterval = 10 * time.Second
)

// Start starts the tracer when cfg.Enabled and returns the function that flushes and stops it.
//
// The tracer starts only once the Agent answers (agentAnswers). Without an answer from the Agent's
// /info, dd-trace-go cannot learn that it may drop the traces the Agent's sampling does not keep,
// so it would encode and try to send every trace: tracing without an Agent (`make run`) would cost
// more than with one. So when no Agent answers at start, Start logs that once, the service runs
// with no-op spans, and a background probe starts the tracer when an Agent appears (a sidecar
// that comes up after the service).
func Start(cfg Config, log *slog.Logger) (stop func()) {
	if !cfg.Enabled {
		log.Info("tracing disabled (DD_TRACE_ENABLED=false)", logging.KeyStatus, "disabled")
		return func() {}
	}
	if agentAnswers(cfg.AgentAddr) {
		return startTracer(cfg, log)
	}
	log.Warn("no Datadog Agent answers; tracing waits for one (no spans are recorded meanwhile)",
		logging.KeyStatus, "degraded", logging.KeyErrorCode, "TRACE_AGENT_ABSENT",
		logging.KeyErrorMessage, "no answer from http://"+cfg.AgentAddr+"/info", "agent", cfg.AgentAddr,
		"probe_interval", agentProbeInterval.String())
	quit, done := make(chan struct{}), make(chan struct{})
	var stopTracer func()
	go func() {
		defer close(done)
		t := time.NewTicker(agentProbeInterval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if agentAnswers(cfg.AgentAddr) {
					stopTracer = startTracer(cfg, log)
					return
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		if stopTracer != nil {
			stopTracer()
		}
	}
}

// agentAnswers reports whether a Datadog Agent answers HTTP at addr (any answer of its /info: an
// old Agent without that endpoint still takes traces).
func agentAnswers(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), agentProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/info", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	return true
}

// startTracer starts dd-trace-go and returns the function that flushes and stops it.
func startTracer(cfg Config, log *slog.Logger) (stop func()) {
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
	if cfg.RequestsPerSecond > 0 {
		// dd-trace-go's client-side stats count each span once, whatever its _sample_rate; the
		// Agent's weigh it. Without them the tracer sends the Agent every trace it has, which the
		// head sampler keeps to about RequestsPerSecond.
		opts = append(opts, tracer.WithStatsComputation(false))
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
