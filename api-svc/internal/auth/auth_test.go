package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/auth"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// keys is a key store in memory that counts its lookups; the checker over the real store is
// tested in apiserver (TestKeysAreCheckedOnEveryOperation and the revocation test).
type keys struct {
	mu      sync.Mutex
	stored  map[string]gift.StoredKey
	lookups int
	err     error
}

func (k *keys) LookupAPIKey(_ context.Context, id string) (gift.StoredKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lookups++
	if k.err != nil {
		return gift.StoredKey{}, k.err
	}
	if s, ok := k.stored[id]; ok {
		return s, nil
	}
	return gift.StoredKey{}, gift.ErrKeyNotFound
}

func newKey(t *testing.T, store *keys, client gift.Client) apikey.Key {
	t.Helper()
	text, _, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	k, err := apikey.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	h := k.Hash()
	store.stored[k.ID] = gift.StoredKey{ID: k.ID, Client: client, SecretHash: h[:]}
	return k
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestAKeyIsLookedUpOncePerTTLAndARevocationCountsAfterIt(t *testing.T) {
	store := &keys{stored: map[string]gift.StoredKey{}}
	client := gift.Client{ID: uuid.New(), Name: "acme"}
	k := newKey(t, store, client)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	checker := auth.NewCheckerWithClock(store, auth.Config{TTL: 30 * time.Second, Size: 10}, c.now)

	for range 3 {
		got, err := checker.Check(context.Background(), k)
		if err != nil || got.ID != client.ID {
			t.Fatalf("Check = %v, %v; want client %s", got, err, client.ID)
		}
	}
	if store.lookups != 1 {
		t.Fatalf("%d lookups for 3 checks within the TTL, want 1", store.lookups)
	}

	revoked := store.stored[k.ID]
	revoked.RevokedAt = c.t
	store.stored[k.ID] = revoked
	c.t = c.t.Add(29 * time.Second)
	if _, err := checker.Check(context.Background(), k); err != nil {
		t.Fatalf("within the TTL the cached answer stands: %v", err)
	}
	c.t = c.t.Add(time.Second)
	if _, err := checker.Check(context.Background(), k); !errors.Is(err, auth.ErrInvalidKey) {
		t.Fatalf("a revoked key after the TTL: %v, want ErrInvalidKey", err)
	}
}

func TestWrongSecretsUnknownIdsAndStoreFailures(t *testing.T) {
	store := &keys{stored: map[string]gift.StoredKey{}}
	k := newKey(t, store, gift.Client{ID: uuid.New(), Name: "acme"})
	checker := auth.NewChecker(store, auth.Config{TTL: time.Minute, Size: 10})

	// Same id, another secret: the stored hash does not match.
	text, _, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	forged, err := apikey.Parse("gk_" + k.ID + text[11:])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checker.Check(context.Background(), forged); !errors.Is(err, auth.ErrInvalidKey) {
		t.Fatalf("a key with a known id and another secret: %v, want ErrInvalidKey", err)
	}
	unknown, err := apikey.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := checker.Check(context.Background(), unknown); !errors.Is(err, auth.ErrInvalidKey) {
			t.Fatalf("an unknown key: %v, want ErrInvalidKey", err)
		}
	}
	if store.lookups != 2 {
		t.Fatalf("%d lookups, want 2: an unknown id is cached too", store.lookups)
	}

	down := &keys{stored: map[string]gift.StoredKey{}, err: gift.Unavailable(errors.New("dial tcp: refused"))}
	if _, err := auth.NewChecker(down, auth.Config{TTL: time.Minute, Size: 10}).Check(context.Background(), k); !errors.Is(err, gift.ErrUnavailable) || errors.Is(err, auth.ErrInvalidKey) {
		t.Fatalf("store unreachable: %v, want ErrUnavailable and not ErrInvalidKey", err)
	}
}

func TestTheCacheKeepsAtMostSizeIds(t *testing.T) {
	store := &keys{stored: map[string]gift.StoredKey{}}
	client := gift.Client{ID: uuid.New(), Name: "acme"}
	checker := auth.NewChecker(store, auth.Config{TTL: time.Hour, Size: 3})
	var all []apikey.Key
	for range 10 {
		k := newKey(t, store, client)
		all = append(all, k)
		if _, err := checker.Check(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	if n := checker.Len(); n != 3 {
		t.Fatalf("%d ids cached, want 3 (the size)", n)
	}
	before := store.lookups
	for _, k := range all {
		if _, err := checker.Check(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	if store.lookups-before < 7 {
		t.Fatalf("%d lookups for 10 keys with 3 cached, want at least 7", store.lookups-before)
	}
}
