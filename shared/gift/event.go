package gift

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Actor is the kind of actor that changed a gift's status.
type Actor string

// The actors of a gift's history.
const (
	ActorAPI        Actor = "api"        // a client's create or send
	ActorWorker     Actor = "worker"     // a delivery's outcome
	ActorReconciler Actor = "reconciler" // the worker's DLQ reconciler
	ActorOperator   Actor = "operator"   // a person, through giftctl
)

// Event is one entry of a gift's append-only history: a status change, or a re-enqueue (From
// equals To) that changed no status.
type Event struct {
	ID     int64
	GiftID uuid.UUID
	From   Status // empty for the creation
	To     Status
	Actor  Actor
	// ActorName says who, when a person acted: the caller's identity (the AWS caller ARN, or
	// os:USER locally), with giftctl's --actor name in front as "NAME <IDENTITY>".
	ActorName string
	Reason    string
	RequestID string
	At        time.Time
}

// Retryable reports whether an operator may retry a gift in status s: only a FAILED gift, once
// the cause of its failure is fixed. For clients FAILED stays final (docs/runbook.md, "Worker
// failures and the DLQ"): a retry is a deliberate operator action, recorded in the history.
func (s Status) Retryable() bool { return s == StatusFailed }

// NotRetryable is the error for a retry of a gift in status s.
func NotRetryable(s Status) error {
	return &Error{Kind: KindConflict, Message: fmt.Sprintf("only a FAILED gift can be retried; this gift is %s", s)}
}
