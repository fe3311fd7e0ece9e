package tracing

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/ext"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/mocktracer"
	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"
	"github.com/jackc/pgx/v5"
)

// A statement's resource is its text on one line, remembered for the next call; a PGX stops
// remembering after maxResources statements (SQL built at run time must not grow it forever) and
// still names the others correctly.
func TestStatementResourcesAreOneLineAndBounded(t *testing.T) {
	p := NewPGX()
	sql := "SELECT id,\n\t       status\n  FROM gifts\n WHERE id = $1"
	want := "SELECT id, status FROM gifts WHERE id = $1"
	for range 2 {
		if got := p.resources.of(sql); got != want {
			t.Fatalf("resource %q, want %q", got, want)
		}
	}
	for i := range 2 * maxResources {
		q := fmt.Sprintf("SELECT\n %d", i)
		if got := p.resources.of(q); got != fmt.Sprintf("SELECT %d", i) {
			t.Fatalf("resource of %q = %q", q, got)
		}
	}
	kept := 0
	p.resources.texts.Range(func(_, _ any) bool { kept++; return true })
	if kept != maxResources {
		t.Errorf("%d statements remembered, want the bound %d", kept, maxResources)
	}
	if got := (PGX{}).resources.of(sql); got != want {
		t.Errorf("zero PGX: resource %q, want %q", got, want)
	}
}

// A statement of a dropped trace gets no span unless it fails; a statement of a kept trace, or of
// no trace, always gets one. The failed one is a child of the request and makes the tracer keep
// the trace.
func TestStatementSpansOnlyWhereTheyCanBeSeen(t *testing.T) {
	mt := mocktracer.Start()
	defer mt.Stop()
	p := NewPGX()
	statement := func(ctx context.Context, err error) {
		ctx = p.TraceQueryStart(ctx, nil, pgx.TraceQueryStartData{SQL: "SELECT 1"})
		p.TraceQueryEnd(ctx, nil, pgx.TraceQueryEndData{Err: err})
	}
	queries := func() (spans []*mocktracer.Span) {
		for _, s := range mt.FinishedSpans() {
			if s.OperationName() == SpanQuery {
				spans = append(spans, s)
			}
		}
		mt.Reset()
		return spans
	}
	failure := errors.New("connection reset")

	for _, tc := range []struct {
		name      string
		priority  string // ext.ManualDrop, ext.ManualKeep or none
		err       error
		wantSpans int
	}{
		{"dropped trace, statement succeeds", ext.ManualDrop, nil, 0},
		{"dropped trace, no rows is an answer", ext.ManualDrop, pgx.ErrNoRows, 0},
		{"dropped trace, statement fails", ext.ManualDrop, failure, 1},
		{"kept trace, statement succeeds", ext.ManualKeep, nil, 1},
		{"no trace, statement succeeds", "", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var parent *tracer.Span
			if tc.priority != "" {
				parent, ctx = tracer.StartSpanFromContext(ctx, SpanRequest, tracer.Tag(tc.priority, true))
				defer parent.Finish()
			}
			statement(ctx, tc.err)
			spans := queries()
			if len(spans) != tc.wantSpans {
				t.Fatalf("%d statement spans, want %d", len(spans), tc.wantSpans)
			}
			if tc.wantSpans == 0 {
				return
			}
			s := spans[0]
			if parent != nil && s.ParentID() != parent.Context().SpanID() {
				t.Errorf("statement span's parent %d, want the request %d", s.ParentID(), parent.Context().SpanID())
			}
			if tc.err != nil && s.Tag(ext.ErrorMsg) != tc.err.Error() {
				t.Errorf("error message %v, want %q", s.Tag(ext.ErrorMsg), tc.err)
			}
		})
	}
}
