package tracing

import (
	"fmt"
	"testing"
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
