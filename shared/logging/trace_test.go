package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/mocktracer"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
)

func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %v: %s", err, l)
		}
		out = append(out, m)
	}
	return out
}

func wantIDs(t *testing.T, line map[string]any, span *tracer.Span) {
	t.Helper()
	sc := span.Context()
	traceID := strconv.FormatUint(sc.TraceIDLower(), 10)
	if sc.TraceIDUpper() != 0 {
		traceID = sc.TraceID()
	}
	if line[logging.KeyTraceID] != traceID || line[logging.KeySpanID] != strconv.FormatUint(sc.SpanID(), 10) {
		t.Errorf("line %v: want dd.trace_id %s, dd.span_id %d", line, traceID, sc.SpanID())
	}
}

// A line logged inside a span carries that span's ids; outside one it carries none.
func TestLinesInsideASpanCarryItsIDs(t *testing.T) {
	mt := mocktracer.Start()
	defer mt.Stop()
	var buf bytes.Buffer
	log := logging.New(&buf, "api", slog.LevelInfo)

	span, ctx := tracer.StartSpanFromContext(context.Background(), "http.request")
	log.InfoContext(ctx, "send accepted")
	child, childCtx := tracer.StartSpanFromContext(ctx, "postgres.query")
	log.With("gift_id", "g").WarnContext(childCtx, "slow")
	child.Finish()
	span.Finish()
	log.InfoContext(context.Background(), "no span")

	got := lines(t, &buf)
	wantIDs(t, got[0], span)
	wantIDs(t, got[1], child)
	if _, ok := got[2][logging.KeyTraceID]; ok {
		t.Errorf("a line outside any span has a trace id: %v", got[2])
	}
}

// Bind attaches a span to a logger, so lines logged without a context carry its ids (the
// worker logs a message's lines that way).
func TestBoundLoggerCarriesTheSpanWithoutAContext(t *testing.T) {
	mt := mocktracer.Start()
	defer mt.Stop()
	var buf bytes.Buffer
	log := logging.New(&buf, "worker", slog.LevelInfo).With("message_id", "m1")

	span, ctx := tracer.StartSpanFromContext(context.Background(), "gift.process")
	bound := logging.Bind(ctx, log)
	bound.Info("gift sent")
	span.Finish()
	log.Info("unbound")

	got := lines(t, &buf)
	wantIDs(t, got[0], span)
	if got[0]["message_id"] != "m1" {
		t.Errorf("Bind lost the logger's attributes: %v", got[0])
	}
	if _, ok := got[1][logging.KeyTraceID]; ok {
		t.Errorf("the unbound logger has a trace id: %v", got[1])
	}
}

// A line logged with a context that carries a request's correlation id carries it once, with or
// without a span; a logger bound to such a context carries it without one.
func TestLinesOfARequestCarryItsCorrelationID(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, "api", slog.LevelInfo)
	ctx := correlation.With(context.Background(), "0193aaaa-0000-7000-8000-000000000001")

	log.InfoContext(ctx, "send accepted")
	log.With("gift_id", "g").WarnContext(ctx, "slow")
	logging.Bind(ctx, log).Info("bound")
	log.InfoContext(context.Background(), "another request")

	got := lines(t, &buf)
	for i, line := range got[:3] {
		if line[logging.KeyCorrelationID] != "0193aaaa-0000-7000-8000-000000000001" {
			t.Errorf("line %d has no correlation id: %v", i, line)
		}
	}
	if n := strings.Count(strings.SplitN(buf.String(), "\n", 2)[0], `"correlation_id"`); n != 1 {
		t.Errorf("the id is written %d times in one line: %s", n, buf.String())
	}
	if _, ok := got[3][logging.KeyCorrelationID]; ok {
		t.Errorf("a line of no request has a correlation id: %v", got[3])
	}
}
