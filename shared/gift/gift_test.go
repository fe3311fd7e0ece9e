package gift_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

func ptr(s string) *string { return &s }

func TestNewGiftValidate(t *testing.T) {
	tests := []struct {
		name    string
		in      gift.NewGift
		wantErr string
	}{
		{"smallest amount", gift.NewGift{Amount: 1}, ""},
		{"largest amount (PostgreSQL INTEGER)", gift.NewGift{Amount: 2147483647}, ""},
		{"zero amount", gift.NewGift{Amount: 0}, "amount must be"},
		{"negative amount", gift.NewGift{Amount: -5}, "amount must be"},
		{"amount past INTEGER", gift.NewGift{Amount: 2147483648}, "amount must be"},
		{"500 Japanese characters (1500 bytes)", gift.NewGift{Amount: 1, Message: ptr(strings.Repeat("あ", 500))}, ""},
		{"501 characters", gift.NewGift{Amount: 1, Message: ptr(strings.Repeat("a", 501))}, "at most 500 characters"},
		{"empty message", gift.NewGift{Amount: 1, Message: ptr("")}, ""},
		{"invalid UTF-8", gift.NewGift{Amount: 1, Message: ptr("\xff")}, "UTF-8"},
		{"a NUL character", gift.NewGift{Amount: 1, Message: ptr("a\x00b")}, "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || gift.KindOf(err) != gift.KindInvalid {
				t.Fatalf("got %v, want an invalid error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateIdempotencyKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{strings.Repeat("k", 255), true},
		{"550e8400-e29b-41d4-a716-446655440000", true},
		{"!~#$%&'()*+,-./:;<=>?@[]^_`{|}", true},
		{"", false},
		{strings.Repeat("k", 256), false},
		{"with space", false},
		{"tab\tkey", false},
		{"キー", false},
		{"del\x7f", false},
	}
	for _, tt := range tests {
		if got := gift.IsValidIdempotencyKey(tt.key); got != tt.ok {
			t.Errorf("IsValidIdempotencyKey(%q) = %v, want %v", tt.key, got, tt.ok)
		}
	}
}

func TestTransitions(t *testing.T) {
	all := []gift.Status{gift.StatusCreated, gift.StatusQueued, gift.StatusSent, gift.StatusFailed}
	allowed := map[[2]gift.Status]bool{
		{gift.StatusCreated, gift.StatusQueued}: true,
		{gift.StatusQueued, gift.StatusSent}:    true,
		{gift.StatusQueued, gift.StatusFailed}:  true,
	}
	for _, from := range all {
		for _, to := range all {
			if got := from.CanTransition(to); got != allowed[[2]gift.Status{from, to}] {
				t.Errorf("%s -> %s allowed = %v", from, to, got)
			}
		}
	}
	for _, s := range all {
		if s.Terminal() != (s == gift.StatusSent || s == gift.StatusFailed) {
			t.Errorf("%s.Terminal() = %v", s, s.Terminal())
		}
	}
}

func TestNewMakesDistinctIDAndCode(t *testing.T) {
	a, err := gift.New(uuid.Nil, gift.NewGift{Amount: 10}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := gift.New(uuid.Nil, gift.NewGift{Amount: 10}, time.Now())
	if a.ID == b.ID || a.Code == b.Code || a.Code == a.ID.String() || a.Status != gift.StatusCreated {
		t.Fatalf("gifts not distinct or not CREATED: %+v %+v", a, b)
	}
	if a.ID.Version() != 7 {
		t.Fatalf("id version %d, want 7", a.ID.Version())
	}
	if _, err := gift.New(uuid.Nil, gift.NewGift{Amount: 0}, time.Now()); gift.KindOf(err) != gift.KindInvalid {
		t.Fatalf("New accepted an invalid gift: %v", err)
	}
}

func TestUnavailableWrapsCauseAndSentinel(t *testing.T) {
	cause := errors.New("connection refused")
	err := gift.Unavailable(cause)
	if !errors.Is(err, gift.ErrUnavailable) || !errors.Is(err, cause) || gift.KindOf(err) != gift.KindUnavailable {
		t.Fatalf("Unavailable(%v) = %v: lost the sentinel or the cause", cause, err)
	}
}

func TestParseIdempotencyKey(t *testing.T) {
	tests := []struct {
		name, raw, key string // key "" means refused
	}{
		{"bare key", "abc", "abc"},
		{"quoted form names the bare key", `"abc"`, "abc"},
		{"quoted UUID", `"550e8400-e29b-41d4-a716-446655440000"`, "550e8400-e29b-41d4-a716-446655440000"},
		{"lone quote is a bare key", `"`, `"`},
		{"quote inside a bare key", `a"b`, `a"b`},
		{"quote only at the start is bare", `"abc`, `"abc`},
		{"empty quoted string", `""`, ""},
		{"escaped quote in quoted form", `"a\"b"`, ""},
		{"backslash in quoted form", `"a\\b"`, ""},
		{"space in quoted form", `"a b"`, ""},
		{"empty", "", ""},
		{"too long", strings.Repeat("k", 256), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := gift.ParseIdempotencyKey(tt.raw)
			if tt.key == "" {
				if err == nil || gift.KindOf(err) != gift.KindInvalid {
					t.Fatalf("ParseIdempotencyKey(%q) = %q, %v; want an invalid error", tt.raw, key, err)
				}
				return
			}
			if err != nil || key != tt.key {
				t.Fatalf("ParseIdempotencyKey(%q) = %q, %v; want %q", tt.raw, key, err, tt.key)
			}
			// A key is its own canonical form: parsing it again changes nothing.
			if again, err := gift.ParseIdempotencyKey(key); err != nil || again != key {
				t.Fatalf("ParseIdempotencyKey(%q) = %q, %v; want it unchanged", key, again, err)
			}
		})
	}
}

func TestFingerprintIsOfTheValuesNotTheBytes(t *testing.T) {
	msg, empty, other := "hi", "", "ho"
	fp := func(n gift.NewGift) [32]byte {
		t.Helper()
		f, err := n.Fingerprint()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	base := fp(gift.NewGift{Amount: 500, Message: &msg})
	if again := fp(gift.NewGift{Amount: 500, Message: &msg}); again != base {
		t.Error("the same request has two fingerprints")
	}
	for name, n := range map[string]gift.NewGift{
		"other amount":  {Amount: 501, Message: &msg},
		"other message": {Amount: 500, Message: &other},
		"no message":    {Amount: 500},
		"empty message": {Amount: 500, Message: &empty},
	} {
		if fp(n) == base {
			t.Errorf("%s has the fingerprint of the base request", name)
		}
	}
	if fp(gift.NewGift{Amount: 500}) == fp(gift.NewGift{Amount: 500, Message: &empty}) {
		t.Error("a missing message and an empty one have the same fingerprint")
	}
}
