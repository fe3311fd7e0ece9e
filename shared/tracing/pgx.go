package tracing

import (
	"context"
	"errors"
	"strings"

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
// child of the span in the caller's context. The resource is the statement's SQL text with its
// placeholders ($1...) or its prepared-statement name; argument values are never recorded.
type PGX struct{}

var (
	_ pgx.QueryTracer   = PGX{}
	_ pgx.BatchTracer   = PGX{}
	_ pgx.ConnectTracer = PGX{}
)

type spanKey struct{}

func startDB(ctx context.Context, name, resource string) context.Context {
	span, ctx := tracer.StartSpanFromContext(ctx, name,
		tracer.ResourceName(resource),
		tracer.SpanType(ext.SpanTypeSQL),
		tracer.Tag(ext.DBSystem, ext.DBSystemPostgreSQL),
		tracer.Tag(ext.Component, "jackc/pgx.v5"),
		tracer.Tag(ext.SpanKind, ext.SpanKindClient),
	)
	return context.WithValue(ctx, spanKey{}, span)
}

func finishDB(ctx context.Context, err error) {
	span, ok := ctx.Value(spanKey{}).(*tracer.Span)
	if !ok {
		return
	}
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil // an answer, not a failure
	}
	span.Finish(tracer.WithError(err))
}

// statement is the resource of a statement: its text on one line.
func statement(sql string) string { return strings.Join(strings.Fields(sql), " ") }

// TraceQueryStart implements pgx.QueryTracer.
func (PGX) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return startDB(ctx, SpanQuery, statement(data.SQL))
}

// TraceQueryEnd implements pgx.QueryTracer.
func (PGX) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	finishDB(ctx, data.Err)
}

// TraceBatchStart implements pgx.BatchTracer: one span for the batch, named by its statements.
func (PGX) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	resource := "batch"
	if data.Batch != nil {
		stmts := make([]string, 0, len(data.Batch.QueuedQueries))
		for _, q := range data.Batch.QueuedQueries {
			stmts = append(stmts, statement(q.SQL))
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
