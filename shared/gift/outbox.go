package gift

import (
	"time"

	"github.com/google/uuid"
)

// OutboxClaim is a lease on an outbox row: the row carries Token, and nobody else publishes it,
// until Lease has passed since the statement that wrote the claim. The relay takes one on due rows
// (ClaimOutbox); the dispatcher writes one with the row it publishes right after commit. The zero
// value is no claim: the row is due at once, for the relay.
type OutboxClaim struct {
	Token uuid.UUID
	Lease time.Duration
	// Until is the end of the lease on the holder's own clock, read before the claim was written,
	// so never later than the end the database sees. The store does not use it.
	Until time.Time
}

// OutboxMessage is the queue message of an accepted send that SQS has not confirmed yet: one row
// of the transactional outbox (docs/architecture.md, "The send path"). The API writes it in the
// transaction that queues the gift and deletes it once SQS has accepted it.
type OutboxMessage struct {
	ID        int64
	Body      string
	CreatedAt time.Time
	Attempts  int // failed publish attempts so far
	// TraceContext is the trace context of the request that accepted the send (tracing.Carrier;
	// "" for none), published with the message so the worker continues that trace.
	TraceContext string
}

// OutboxRetry is an outbox message SQS did not accept: it is due again after Delay.
type OutboxRetry struct {
	ID    int64
	Delay time.Duration
	Err   string // why SQS did not accept it (kept as the row's last_error)
}

// OutboxBacklog is how far SQS is behind the API: sends accepted and not yet on the queue.
type OutboxBacklog struct {
	Pending   int64
	OldestAge time.Duration // zero when Pending is zero
}
