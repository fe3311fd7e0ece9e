// Package gift is the domain of the system: a gift, its lifecycle and the rules for changing it.
// It imports nothing that talks to the outside world; the API and the worker both build on it, so
// each rule is written once.
package gift

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Status is where a gift is in its lifecycle (docs/requirements.md §4.2):
// CREATED -> QUEUED -> SENT | FAILED. SENT and FAILED are terminal.
type Status string

// The four statuses a gift can have.
const (
	StatusCreated Status = "CREATED"
	StatusQueued  Status = "QUEUED"
	StatusSent    Status = "SENT"
	StatusFailed  Status = "FAILED"
)

// Terminal reports whether no transition leaves s.
func (s Status) Terminal() bool { return s == StatusSent || s == StatusFailed }

// CanTransition reports whether the lifecycle allows moving from s to next (docs/requirements.md §6.2).
func (s Status) CanTransition(next Status) bool {
	switch s {
	case StatusCreated:
		return next == StatusQueued
	case StatusQueued:
		return next == StatusSent || next == StatusFailed
	default:
		return false
	}
}

// Gift is a gift code with its amount, message and delivery state.
type Gift struct {
	ID uuid.UUID
	// ClientID is the API client that created the gift and owns it; uuid.Nil is LegacyClientID
	// (a gift made without a client: the worker's seeds, tests).
	ClientID  uuid.UUID
	Code      string
	Amount    int32
	Message   *string
	Status    Status
	LastError *string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewGift is what a client asks to create.
type NewGift struct {
	Amount  int64
	Message *string
}

// SendRequest asks for a gift to be sent, deduplicated by (GiftID, RequestID); RequestID is the
// client's Idempotency-Key. ForceFailure makes the worker fail every attempt (DLQ rehearsal).
// ClientID, when set, is the client asking: another client's gift is ErrNotFound.
type SendRequest struct {
	GiftID       uuid.UUID
	ClientID     uuid.UUID
	RequestID    string
	ForceFailure bool
}

// New makes a CREATED gift from a validated request: a time-ordered UUIDv7 id (kind to the primary
// key index) and a random UUIDv4 code (docs/requirements.md §14 decision 4: UUID), unrelated to the id so one
// cannot be guessed from the other.
func New(clientID uuid.UUID, n NewGift, now time.Time) (Gift, error) {
	if err := n.Validate(); err != nil {
		return Gift{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Gift{}, fmt.Errorf("generate gift id: %w", err)
	}
	code, err := uuid.NewRandom()
	if err != nil {
		return Gift{}, fmt.Errorf("generate gift code: %w", err)
	}
	now = now.UTC().Truncate(time.Microsecond) // PostgreSQL keeps microseconds
	return Gift{
		ID:        id,
		ClientID:  clientID,
		Code:      code.String(),
		Amount:    int32(n.Amount), //nolint:gosec // Validate bounds it to [MinAmount, MaxAmount]
		Message:   n.Message,
		Status:    StatusCreated,
		CreatedAt: now,
		UpdatedAt: now,
	}, nil
}
