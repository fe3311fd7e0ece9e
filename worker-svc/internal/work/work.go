// Package work decides what happens to one received send request (docs/requirements.md §5.1.2,
// §6.3): Runner.Work judges the gift's state, runs at most one attempt, stores its outcome, and
// returns what to tell the queue (Outcome). Receiving, heartbeats, settling with SQS and shutdown
// are the caller's (package worker), as River keeps Work(ctx, job) apart from fetching and
// retrying.
//
// Every decision is safe to repeat: a message acts only for its gift's current series (an earlier
// one is superseded and deleted), attempts are counted in the database when they begin (not by
// SQS's receive count), at most one attempt of a gift runs at a time (a lease), the database
// changes are conditional on status, send request and series, and a message is deleted only after
// its outcome is stored.
package work

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/send"
)

// Error codes of the worker's log lines (docs/observability.md; the Datadog monitors use them).
const (
	// CodeSendAttemptFailed (WARN): an attempt failed; SQS delivers the message again after a delay.
	CodeSendAttemptFailed = "SEND_ATTEMPT_FAILED"
	// CodeSendFailedFinal (ERROR): the last attempt failed; the gift is FAILED and the message goes
	// to the DLQ.
	CodeSendFailedFinal = "SEND_FAILED_FINAL"
	// CodeMessageInvalid (ERROR): the body is not a send request; the message goes to the DLQ.
	CodeMessageInvalid = "MESSAGE_INVALID"
	// CodeGiftUnknown (ERROR): no such gift or send request; the message goes to the DLQ.
	CodeGiftUnknown = "GIFT_UNKNOWN"
	// CodeProcessingFailed (ERROR): an unexpected error (not an outage); retried like a failed
	// attempt.
	CodeProcessingFailed = "PROCESSING_FAILED"
	// CodeStatementTimeout (WARN): one database statement ran out of time while the database
	// answers (a lock wait, a slow query); retried like a failed attempt while receiving goes on.
	CodeStatementTimeout = "DB_STATEMENT_TIMEOUT"
	// CodeQueueUnavailable (WARN): a call to SQS failed; the message comes back after its visibility
	// timeout, or receiving is retried.
	CodeQueueUnavailable = "QUEUE_UNAVAILABLE"
)

// Statuses of log lines about messages whose gift status is not the point.
const (
	StatusInvalid = "INVALID" // the message is not a send request
	StatusUnknown = "UNKNOWN" // the gift or send request does not exist
	// StatusNotStored: the outcome was not stored because the gift had left the state this message
	// acts on (another delivery finished it first, or a retry superseded the message). Logged as
	// "DUPLICATE", the value dashboards and tests read.
	StatusNotStored  = "DUPLICATE"
	StatusSuperseded = "SUPERSEDED" // the message belongs to an earlier attempt series
)

// DeadLetters is the DLQ (shared/sqs.Publisher): Work puts the message of a gift it fails there
// itself, before it stores FAILED, since attempts are counted in the database and the message's
// own receives need not have reached maxReceiveCount.
type DeadLetters interface {
	PublishTraced(ctx context.Context, m queue.Outgoing) error
}

// Store is the part of the gift store Work uses (shared/postgres.Store). Every change is
// conditional on the gift's status and the message's send request and attempt series.
type Store interface {
	SendState(ctx context.Context, giftID uuid.UUID, requestID string) (gift.SendState, error)
	BeginAttempt(ctx context.Context, series gift.Series, by uuid.UUID, maxAttempts int, lease time.Duration) (gift.Attempt, bool, error)
	EndAttempt(ctx context.Context, a gift.Attempt) error
	MarkSent(ctx context.Context, series gift.Series) (bool, error)
	MarkFailed(ctx context.Context, series gift.Series, lastError string) (bool, error)
}

// Database runs store calls while the database can be reached (dbgate.Gate).
type Database interface {
	// Do runs op, waiting out outages of the database (see dbgate.Gate.Do).
	Do(ctx context.Context, op func(context.Context) error) error
}

// Runner decides one message at a time (Work); it holds no state between messages.
type Runner struct {
	MaxAttempts    int           // attempts per series before FAILED (the queue's maxReceiveCount)
	Lease          time.Duration // an attempt's lease (the message's visibility timeout)
	RetryBaseDelay time.Duration // visibility after the first failed attempt, doubled per attempt
	RetryMaxDelay  time.Duration // cap of that delay

	Store       Store
	DeadLetters DeadLetters
	Sender      send.Sender
	Database    Database
}

// Action is what happens to a message once Work has decided.
type Action int

const (
	// Delete: the gift is finished (SENT or FAILED before, now SENT, or now FAILED with the
	// message's copy in the DLQ), or the message is superseded: remove the message.
	Delete Action = iota + 1
	// Retry: the attempt failed and attempts remain, or another attempt is running: visible again
	// after Delay.
	Retry
	// Release: visible again at once. On the last receive or for a message that no retry can help,
	// the next receive moves it to the DLQ; at shutdown another worker takes it.
	Release
)

// Outcome is Work's decision about one message.
type Outcome struct {
	Action    Action
	Delay     time.Duration // Retry: how long the message stays hidden
	Status    string        // the status logged with the decision, repeated if settling fails
	Duplicate bool          // the gift was already finished (Status is then its SENT or FAILED)
	Waiting   bool          // another delivery's attempt was running: this one waits for it
}
