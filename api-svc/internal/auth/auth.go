// Package auth decides who calls the API: it checks a client's API key against the stored keys,
// through a small in-process cache, and answers with the client or why not.
//
// The cache holds what the store said about a key id, found or not, for TTL; a key revoked (or
// issued) meanwhile is seen at the latest TTL later (docs/clients-2.0.md). It holds at most Size
// ids; when full, expired entries go first, then arbitrary ones. The secret is checked against
// the stored hash on every request, never cached as valid.
package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// KeyStore reads a stored key by its public id (postgres.Store); gift.ErrKeyNotFound when there
// is none.
type KeyStore interface {
	LookupAPIKey(ctx context.Context, id string) (gift.StoredKey, error)
}

// ErrInvalidKey: the key is unknown, revoked, or its secret is not the stored one. The three are
// one answer, so a caller learns nothing about which keys exist.
var ErrInvalidKey = errors.New("the API key is not valid")

// Config sizes the cache.
type Config struct {
	TTL  time.Duration // how long an answer of the store is reused (API_KEY_CACHE_TTL)
	Size int           // the most key ids kept (API_KEY_CACHE_SIZE)
}

// Checker checks keys. It is safe for concurrent use.
type Checker struct {
	store KeyStore
	cfg   Config
	now   func() time.Time

	mu      sync.Mutex
	entries map[string]entry
}

type entry struct {
	key     gift.StoredKey
	found   bool
	expires time.Time
}

// NewChecker returns a checker over store.
func NewChecker(store KeyStore, cfg Config) *Checker {
	return NewCheckerWithClock(store, cfg, time.Now)
}

// NewCheckerWithClock returns a checker over store reading time from now.
func NewCheckerWithClock(store KeyStore, cfg Config, now func() time.Time) *Checker {
	return &Checker{store: store, cfg: cfg, now: now, entries: make(map[string]entry)}
}

// Len is how many key ids are cached.
func (c *Checker) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Check returns the client of key k, ErrInvalidKey, or an error of the store (gift.ErrUnavailable
// when the database cannot be reached: the caller answers 503, not 401).
func (c *Checker) Check(ctx context.Context, k apikey.Key) (gift.Client, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[k.ID]
	c.mu.Unlock()
	if !ok || !now.Before(e.expires) {
		stored, err := c.store.LookupAPIKey(ctx, k.ID)
		switch {
		case errors.Is(err, gift.ErrKeyNotFound):
			e = entry{}
		case err != nil:
			return gift.Client{}, fmt.Errorf("look up API key %s: %w", k.ID, err)
		default:
			e = entry{key: stored, found: true}
		}
		e.expires = now.Add(c.cfg.TTL)
		c.put(k.ID, e, now)
	}
	if !e.found || !e.key.Active() || !k.Matches(e.key.SecretHash) {
		return gift.Client{}, ErrInvalidKey
	}
	return e.key.Client, nil
}

func (c *Checker) put(id string, e entry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; !ok && len(c.entries) >= c.cfg.Size {
		for old, oe := range c.entries {
			if !now.Before(oe.expires) {
				delete(c.entries, old)
			}
		}
		for old := range c.entries { // still full: any one goes (map order is random)
			if len(c.entries) < c.cfg.Size {
				break
			}
			delete(c.entries, old)
		}
	}
	c.entries[id] = e
}
