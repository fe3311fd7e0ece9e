package gift

import (
	"errors"
	"fmt"
)

// Kind classifies a domain error; the API turns each kind into one HTTP status in one place.
type Kind int

// The kinds of error the domain and its stores report.
const (
	KindInvalid     Kind = iota + 1 // the request breaks a rule: 400
	KindNotFound                    // no such gift: 404
	KindConflict                    // the gift's state forbids the request: 409
	KindUnavailable                 // a dependency (the database) cannot be reached: 503
	KindKeyReused                   // an Idempotency-Key comes back with a different request: 422
)

// Error is a domain error with a kind and a message that is safe to show to a client.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return e.Message }

// Invalidf returns a KindInvalid error.
func Invalidf(format string, args ...any) error {
	return &Error{Kind: KindInvalid, Message: fmt.Sprintf(format, args...)}
}

// Sentinel errors; match them with errors.Is.
var (
	ErrNotFound = &Error{Kind: KindNotFound, Message: "gift not found"}
	// ErrAlreadyTerminal: the gift is SENT or FAILED and cannot be sent again.
	ErrAlreadyTerminal = &Error{Kind: KindConflict, Message: "gift has already been processed and cannot be sent again"}
	// ErrQueuedByOtherKey: the gift is QUEUED under a different Idempotency-Key.
	ErrQueuedByOtherKey = &Error{Kind: KindConflict, Message: "gift is already queued by a request with a different Idempotency-Key"}
	// ErrIdempotencyKeyReused: a create's Idempotency-Key was first used with a different body.
	ErrIdempotencyKeyReused = &Error{Kind: KindKeyReused, Message: "Idempotency-Key was already used with a different request body"}
	// ErrUnavailable: the database could not be reached in time.
	ErrUnavailable = &Error{Kind: KindUnavailable, Message: "service temporarily unavailable"}
)

// KindOf returns the kind of err, or 0 when err is not a domain error (an internal error).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// Unavailable wraps cause so that errors.Is(err, ErrUnavailable) holds while the cause stays
// available to logs.
func Unavailable(cause error) error { return &unavailable{cause: cause} }

type unavailable struct{ cause error }

func (u *unavailable) Error() string   { return "unavailable: " + u.cause.Error() }
func (u *unavailable) Unwrap() []error { return []error{ErrUnavailable, u.cause} }
