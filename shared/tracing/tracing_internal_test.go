package tracing

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/envconfig"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
)

// Without an Agent the tracer complains at every flush: the service logs the first complaint, then
// one line per interval with the count of the others, and the tracer's chatter only at DEBUG.
func TestFailedFlushesAreReportedQuietly(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	q := newQuietLogger(logging.New(&buf, "api", slog.LevelInfo), 10*time.Minute)
	q.now = func() time.Time { return clock }

	flushFailed := "Datadog Tracer v2.12.0 ERROR: lost 3 traces: connection refused"
	q.Log(flushFailed)
	for range 50 { // every 2 s for 100 s
		clock = clock.Add(2 * time.Second)
		q.Log(flushFailed)
	}
	q.Log("Datadog Tracer v2.12.0 INFO: something routine")
	clock = clock.Add(10 * time.Minute)
	q.Log(flushFailed)

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("want 2 lines (the first failure, then one report after the interval), got %d:\n%s", len(lines), buf.String())
	}
	for i, want := range []float64{0, 50} {
		if lines[i]["error_code"] != "TRACE_EXPORT_FAILED" || lines[i]["level"] != "WARN" || lines[i]["similar_since_last_report"] != want {
			t.Errorf("line %d = %v, want a TRACE_EXPORT_FAILED warning counting %v similar failures", i, lines[i], want)
		}
	}
}

func TestTraceEnabledIsReadFromTheEnvironment(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want Config
	}{
		{nil, Config{Enabled: true, AgentAddr: "localhost:8126", Service: "api"}},
		{map[string]string{"DD_TRACE_ENABLED": "false"}, Config{Enabled: false, AgentAddr: "localhost:8126", Service: "api"}},
		{map[string]string{"DD_AGENT_HOST": "10.0.0.1", "DD_TRACE_AGENT_PORT": "9126", "DD_SERVICE": "gift-api", "DD_ENV": "prod", "DD_VERSION": "v1"},
			Config{Enabled: true, AgentAddr: "10.0.0.1:9126", Service: "gift-api", Env: "prod", Version: "v1"}},
	} {
		r := &envconfig.Reader{Lookup: func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }}
		if got := ReadConfig(r, "api"); got != tc.want || r.Err() != nil {
			t.Errorf("env %v: got %+v (%v), want %+v", tc.env, got, r.Err(), tc.want)
		}
	}
}
