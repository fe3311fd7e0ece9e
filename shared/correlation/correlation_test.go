package correlation_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
)

func TestNewIsAUUIDv7OfNow(t *testing.T) {
	before := time.Now().UnixMilli()
	id := correlation.New()
	after := time.Now().UnixMilli()
	u, err := uuid.Parse(id)
	if err != nil {
		t.Fatalf("%q is not a UUID: %v", id, err)
	}
	if u.String() != id {
		t.Errorf("%q is not in the canonical lower-case form %q", id, u.String())
	}
	if u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		t.Errorf("%s: version %d variant %v, want 7 and RFC 4122", id, u.Version(), u.Variant())
	}
	if ms := int64(u.Time()/10_000) - 12219292800000; ms < before || ms > after { // 100 ns since 1582 -> Unix ms
		t.Errorf("%s: time %d ms, want between %d and %d", id, ms, before, after)
	}
}

func TestNewIdsDiffer(t *testing.T) {
	seen := map[string]bool{}
	for range 10_000 {
		id := correlation.New()
		if seen[id] {
			t.Fatalf("%s made twice", id)
		}
		seen[id] = true
	}
}

func TestContextCarriesTheID(t *testing.T) {
	if got := correlation.From(context.Background()); got != "" {
		t.Errorf("From(Background) = %q, want none", got)
	}
	type other struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), other{}, "v"))
	ctx := correlation.With(parent, "0193-id")
	child, stop := context.WithTimeout(context.WithValue(ctx, other{}, "w"), time.Hour)
	defer stop()
	if got := correlation.From(child); got != "0193-id" {
		t.Errorf("From(child) = %q, want the id", got)
	}
	if got := ctx.Value(other{}); got != "v" {
		t.Errorf("the parent's values are lost: %v", got)
	}
	cancel()
	<-child.Done() // a child of the id's context is cancelled with its parent
	if correlation.From(correlation.With(ctx, "second")) != "second" {
		t.Error("the innermost id does not win")
	}
}

func TestPlausible(t *testing.T) {
	for s, want := range map[string]bool{
		correlation.New():       true,
		"client-id_42":          true,
		"":                      false,
		"a b":                   false,
		"line\nbreak":           false,
		"\u00e9t\u00e9":         false,
		strings.Repeat("x", 64): true,
		strings.Repeat("x", 65): false,
	} {
		if got := correlation.Plausible(s); got != want {
			t.Errorf("Plausible(%q) = %v, want %v", s, got, want)
		}
	}
}

// BenchmarkNew is the cost of one request's id (reported with -benchmem: one allocation).
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = correlation.New()
	}
}
