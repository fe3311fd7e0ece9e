package gift

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// This file holds what the store reports about the operations on a gift: the API's send and what
// operators do (giftctl): look at a gift's delivery, retry a FAILED one, redrive a DLQ message,
// re-enqueue a QUEUED one whose message was lost, count gifts. The store (shared/postgres)
// returns these types; the use cases that call it declare the interfaces they need.

// SendOutcome is what the store's Send did (the API accepting a send request).
type SendOutcome struct {
	// Replayed is true when (gift, request id) was already accepted: Response is then the body
	// stored by the first acceptance and nothing was changed.
	Replayed bool
	Response []byte
	// OutboxID is the outbox row holding the queue message (zero when Replayed).
	OutboxID int64
	// TraceContext is the trace context stored with that row (OutboxMessage.TraceContext).
	TraceContext string
}

// Delivery is a gift's delivery state as operators see it.
type Delivery struct {
	Status    Status
	LastError *string
	// RequestID is the gift's send request ("" when it was never sent), Retries how many operator
	// retries and redrives it has had: the attempt series its current queue message carries.
	RequestID string
	Retries   int
	// Attempts counts the attempts begun in the current series (send_requests.attempts).
	Attempts int
	// Outboxed is true while the current message waits in the outbox for SQS.
	Outboxed bool
}

// Retry is what an operator retry or a DLQ redrive did.
type Retry struct {
	RequestID string
	// Series is the new attempt series (send_requests.retries), carried by the new message.
	Series   int
	OutboxID int64
}

// ErrNotRedrivable: the store's Redrive found the gift no longer QUEUED under the message's send request and
// attempt series (it was finished, failed or retried meanwhile).
var ErrNotRedrivable = errors.New("the gift is no longer QUEUED under this message's request and attempt series")

// Orphan is a QUEUED gift with no message in the outbox, so its message should be on SQS.
type Orphan struct {
	GiftID    uuid.UUID
	RequestID string
	Series    int
	// QueuedFor is how long ago the gift last changed status or was re-enqueued.
	QueuedFor time.Duration
}

// ErrNotOrphaned: the store's Reenqueue found the gift no longer QUEUED, or with an outbox message again.
var ErrNotOrphaned = errors.New("the gift is no longer QUEUED without an outbox message")

// Overview is the database's part of `giftctl status`.
type Overview struct {
	ByStatus map[Status]int64
	// OldestQueued is how long the longest-waiting QUEUED gift has waited (zero when none).
	OldestQueued time.Duration
	// Stuck counts QUEUED gifts older than the threshold the store was asked about.
	Stuck int64
}
