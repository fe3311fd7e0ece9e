package tracing

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/ext"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"
	"github.com/jackc/pgx/v5"
)

// Span names of the database.
const (
	SpanQuery   = "postgres.query"
	SpanBatch   = "postgres.batch"
	SpanConnect = "postgres.connect"
)

// PGX traces PostgreSQL through pgx's tracer hooks: one span per statement, batch and connection,
// child of the span in the caller's context. The resource is the statement's SQL text on one line,
// with its placeholders ($1...), or its prepared-statement name; argument values are never
// recorded. Make one with NewPGX.
type PGX struct{ resources *resources }

var (
	_ pgx.QueryTracer   = PGX{}
	_ pgx.BatchTracer   = PGX{}
	_ pgx.ConnectTracer = PGX{}
)

// NewPGX returns a pgx tracer for one pool.
func NewPGX() PGX { return PGX{resources: &resources{}} }

type spanKey struct{}

// dbSpanOptions are the options every database span has, built once.
var dbSpanOptions = []tracer.StartSpanOption{
	tracer.SpanType(ext.SpanTypeSQL),
	tracer.Tag(ext.DBSystem, ext.DBSystemPostgreSQL),
	tracer.Tag(ext.Component, "jackc/pgx.v5"),
	tracer.Tag(ext.SpanKind, ext.SpanKindClient),
}

func startDB(ctx context.Context, name, resource string) context.Context {
	return startDBWith(ctx, name, dbOptions(resource))
}

// dbOptions are a database span's options for resource.
func dbOptions(resource string) []tracer.StartSpanOption {
	return append(slices.Clip(dbSpanOptions), tracer.ResourceName(resource))
}

// startDBWith starts a database span, unless its trace is already dropped or there is none to
// join: a trace whose sampling priority is not positive is never kept (the tracer or the Agent
// drops it), and a request the head sampler left out (RequestSampler) has no span. A database span
// is neither top-level nor measured, so no trace metric counts it either. Such a span would buy
// nothing and is one of the two spans of a traced POST /gifts (docs/observability.md, "Overhead").
// Its start is remembered instead, and finishDB records it after all if it fails, under the
// request's span (started then if it was not), which also keeps the trace.
func startDBWith(ctx context.Context, name string, opts []tracer.StartSpanOption) context.Context {
	if dropped(ctx) {
		return context.WithValue(ctx, spanKey{}, &unstarted{name: name, opts: opts, start: time.Now()})
	}
	span, ctx := tracer.StartSpanFromContext(ctx, name, opts...)
	return context.WithValue(ctx, spanKey{}, span)
}

// unstarted is a database span not started because its trace was dropped.
type unstarted struct {
	name  string
	opts  []tracer.StartSpanOption
	start time.Time
}

// dropped reports whether the trace of the span in ctx has already been sampled out, or ctx is
// a request's that the head sampler left without a span. Outside a request, a statement with no
// span in ctx starts a trace of its own.
func dropped(ctx context.Context) bool {
	parent, ok := tracer.SpanFromContext(ctx)
	if !ok {
		return requestFrom(ctx) != nil
	}
	p, ok := parent.Context().SamplingPriority()
	return ok && p <= 0
}

func finishDB(ctx context.Context, err error) {
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil // an answer, not a failure
	}
	switch s := ctx.Value(spanKey{}).(type) {
	case *tracer.Span:
		if err != nil {
			failedIn(ctx) // the request weighs 1, as one not sampled that records this failure
		}
		s.Finish(tracer.WithError(err), tracer.NoDebugStack()) // the stack would be pgx's, not the caller's
	case *unstarted:
		if err == nil {
			return
		}
		opts := append(slices.Clip(s.opts), tracer.StartTime(s.start))
		var span *tracer.Span
		if request := failedIn(ctx); request != nil {
			span = request.StartChild(s.name, opts...)
		} else {
			span, _ = tracer.StartSpanFromContext(ctx, s.name, opts...)
		}
		span.Finish(tracer.WithError(err), tracer.NoDebugStack())
	}
}

// maxResources bounds the statements a PGX remembers: the services run a fixed set, and SQL built
// at run time must not grow the map without end.
const maxResources = 256

// resources remembers the one-line text of each statement seen, and its span options: putting it
// on one line on every call cost as much as a fifth of the statement's span.
type resources struct {
	texts sync.Map // SQL as sent -> *resource
	count atomic.Int64
}

type resource struct {
	text string
	opts []tracer.StartSpanOption
}

func (c *resources) lookup(sql string) *resource {
	if c != nil {
		if r, ok := c.texts.Load(sql); ok {
			return r.(*resource)
		}
	}
	text := statement(sql)
	r := &resource{text: text, opts: dbOptions(text)}
	if c != nil && c.count.Add(1) <= maxResources {
		c.texts.Store(sql, r)
	}
	return r
}

func (c *resources) of(sql string) string { return c.lookup(sql).text }

// statement is the resource of a statement: its text on one line.
func statement(sql string) string { return strings.Join(strings.Fields(sql), " ") }

// TraceQueryStart implements pgx.QueryTracer.
func (p PGX) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return startDBWith(ctx, SpanQuery, p.resources.lookup(data.SQL).opts)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (PGX) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	finishDB(ctx, data.Err)
}

// TraceBatchStart implements pgx.BatchTracer: one span for the batch, named by its statements.
func (p PGX) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	resource := "batch"
	if data.Batch != nil {
		stmts := make([]string, 0, len(data.Batch.QueuedQueries))
		for _, q := range data.Batch.QueuedQueries {
			stmts = append(stmts, p.resources.of(q.SQL))
		}
		resource = strings.Join(stmts, "; ")
	}
	return startDB(ctx, SpanBatch, resource)
}

// TraceBatchQuery implements pgx.BatchTracer.
func (PGX) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd implements pgx.BatchTracer.
func (PGX) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	finishDB(ctx, data.Err)
}

// TraceConnectStart implements pgx.ConnectTracer.
func (PGX) TraceConnectStart(ctx context.Context, data pgx.TraceConnectStartData) context.Context {
	resource := "connect"
	if data.ConnConfig != nil {
		resource = "connect " + data.ConnConfig.Database
	}
	return startDB(ctx, SpanConnect, resource)
}

// TraceConnectEnd implements pgx.ConnectTracer.
func (PGX) TraceConnectEnd(ctx context.Context, data pgx.TraceConnectEndData) {
	finishDB(ctx, data.Err)
}
