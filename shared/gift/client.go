package gift

import (
	"time"

	"github.com/google/uuid"
)

// Client is an API client: a team calling the Gift API with its own keys. Every gift belongs to
// the client that created it; another client's gift does not exist for a client.
type Client struct {
	ID   uuid.UUID
	Name string
	// Limit is the client's token bucket in each API task.
	Limit RateLimit
}

// RateLimit is a token bucket: PerSecond tokens a second, at most Burst at once; a request takes one.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// LegacyClientID owns the gifts created before clients existed (API 1.x). It has no key.
var LegacyClientID = uuid.MustParse("00000000-0000-7000-8000-000000000000")

// StoredKey is an API key as stored: its public id, the hash of its secret, its client, and when
// it was revoked (zero while active).
type StoredKey struct {
	ID         string
	Client     Client
	SecretHash []byte
	Slot       int
	CreatedAt  time.Time
	CreatedBy  string
	RevokedAt  time.Time
	RevokedBy  string
}

// Active reports whether the key is not revoked.
func (k StoredKey) Active() bool { return k.RevokedAt.IsZero() }

// MaxActiveKeys is how many keys a client may have active at once: two, so a key is rotated
// without downtime (issue the second, move the callers, revoke the first).
const MaxActiveKeys = 2

// Errors of client and key administration.
var (
	ErrClientNotFound = &Error{Kind: KindNotFound, Message: "client not found"}
	ErrKeyNotFound    = &Error{Kind: KindNotFound, Message: "API key not found"}
	ErrClientExists   = &Error{Kind: KindConflict, Message: "a client with this name exists"}
	ErrTooManyKeys    = &Error{Kind: KindConflict, Message: "the client has two active keys already: revoke one first"}
)
