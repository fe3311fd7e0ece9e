package logging

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
)

// Keys of Datadog's log-trace correlation: a line with them links to its trace in APM.
const (
	KeyTraceID = "dd.trace_id"
	KeySpanID  = "dd.span_id"
)

// traceHandler adds dd.trace_id and dd.span_id to every line logged while a span is active: the
// span in the context of the call (InfoContext and friends), else the span of the context the
// logger was bound to (Bind). Likewise correlation_id, the API request's id (shared/correlation),
// to every line logged with a context that carries one: the request's lines need not pass it.
type traceHandler struct {
	slog.Handler
	bound context.Context
}

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	span, ok := tracer.SpanFromContext(ctx)
	if !ok && h.bound != nil {
		span, ok = tracer.SpanFromContext(h.bound)
	}
	if ok {
		r.AddAttrs(TraceAttrs(span)...)
	}
	id := correlation.From(ctx)
	if id == "" && h.bound != nil {
		id = correlation.From(h.bound)
	}
	if id != "" {
		r.AddAttrs(slog.String(KeyCorrelationID, id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{Handler: h.Handler.WithAttrs(attrs), bound: h.bound}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{Handler: h.Handler.WithGroup(name), bound: h.bound}
}

// Bind returns log with ctx's span attached: every line it writes carries that span's ids, even
// through calls without a context (log.Info). A logger not built by New is returned unchanged.
func Bind(ctx context.Context, log *slog.Logger) *slog.Logger {
	h, ok := log.Handler().(traceHandler)
	if !ok {
		return log
	}
	return slog.New(traceHandler{Handler: h.Handler, bound: ctx})
}

// TraceAttrs are span's correlation ids as the tracer writes them: the 128-bit trace id in hex
// when it has upper bits, else the 64-bit id in decimal; the span id in decimal.
func TraceAttrs(span *tracer.Span) []slog.Attr {
	sc := span.Context()
	traceID := strconv.FormatUint(sc.TraceIDLower(), 10)
	if sc.TraceIDUpper() != 0 {
		traceID = sc.TraceID()
	}
	return []slog.Attr{slog.String(KeyTraceID, traceID), slog.String(KeySpanID, strconv.FormatUint(sc.SpanID(), 10))}
}
