package apikey_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
)

func TestNewKeysParseAndMatchOnlyTheirOwnHash(t *testing.T) {
	text, k, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	if len(text) != apikey.Len || !strings.HasPrefix(text, "gk_"+k.ID+"_") {
		t.Fatalf("key %q (id %q): want gk_<id>_<secret> of %d characters", text, k.ID, apikey.Len)
	}
	got, err := apikey.FromAuthorization("Bearer " + text)
	if err != nil {
		t.Fatalf("FromAuthorization(Bearer <new key>): %v", err)
	}
	h := k.Hash()
	if got.ID != k.ID || !got.Matches(h[:]) {
		t.Fatalf("parsed key %v does not match the hash of the key made", got)
	}
	other, _, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	o, err := apikey.Parse(other)
	if err != nil {
		t.Fatal(err)
	}
	if o.Matches(h[:]) || o.ID == k.ID {
		t.Fatalf("two new keys share an id or a hash: %v, %v", k, o)
	}
	if strings.Contains(k.String(), text[len("gk_")+9:]) {
		t.Fatalf("String() shows the secret: %s", k.String())
	}
}

func TestAuthorizationHeaders(t *testing.T) {
	text, _, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		header string
		want   error
	}{
		{"Bearer " + text, nil},
		{"bearer " + text, nil},
		{"BEARER   " + text, nil},
		{"", apikey.ErrMissing},
		{"Bearer", apikey.ErrMissing},
		{"Bearer ", apikey.ErrMissing},
		{"Basic " + text, apikey.ErrMissing},
		{text, apikey.ErrMissing},
		{"Bearer " + text + " ", apikey.ErrMalformed},
		{"Bearer " + text[:len(text)-1], apikey.ErrMalformed},
		{"Bearer " + strings.ToUpper(text), apikey.ErrMalformed},
		{"Bearer xk_" + text[3:], apikey.ErrMalformed},
		{"Bearer " + text[:11] + "-" + text[12:], apikey.ErrMalformed},
		{"Bearer gk_0123456g_" + text[12:], apikey.ErrMalformed},
		{"Bearer " + text[:len(text)-1] + "=", apikey.ErrMalformed},
	} {
		_, err := apikey.FromAuthorization(c.header)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("FromAuthorization(%q) = %v, want %v", c.header, err, c.want)
		}
	}
}

// FuzzFromAuthorization: whatever the header, the answer is a key whose text round-trips or one of
// the two errors; never a panic, never a key that is not of the format.
func FuzzFromAuthorization(f *testing.F) {
	text, _, err := apikey.New()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"Bearer " + text, "", "Bearer", "Basic abc", "bearer  gk_", "Bearer gk_00000000_" + strings.Repeat("A", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		k, err := apikey.FromAuthorization(header)
		switch {
		case errors.Is(err, apikey.ErrMissing), errors.Is(err, apikey.ErrMalformed):
			return
		case err != nil:
			t.Fatalf("FromAuthorization(%q): unexpected error %v", header, err)
		}
		if len(k.ID) != 8 || !strings.Contains(header, "gk_"+k.ID+"_") {
			t.Fatalf("FromAuthorization(%q) = %v: not a key of the header", header, k)
		}
	})
}
