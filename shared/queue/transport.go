package queue

import (
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

// This file holds the transport-neutral side of a queue: the messages the use cases put on a queue
// and take off it, a queue's depth, and the limits of the queue service (SQS's, which the adapter
// shared/sqs talks to). The adapter accepts and returns these types; the use cases declare the
// interfaces they need over them, so none of them compiles against the adapter.

// MaxVisibility is the longest visibility timeout SQS accepts (12 hours).
const MaxVisibility = 12 * time.Hour

// MaxWait is the longest long-poll wait SQS accepts.
const MaxWait = 20 * time.Second

// MaxBatch is the most messages SQS takes in one SendMessageBatch.
const MaxBatch = 10

// Received is one message taken off a queue.
type Received struct {
	ID            string
	Body          string
	ReceiptHandle string
	// ReceiveCount is SQS's ApproximateReceiveCount: 1 on the first delivery. 0 when SQS did not
	// report it.
	ReceiveCount int
	// SentAt is when the message was first sent to SQS (SentTimestamp; a move to the DLQ keeps
	// it); zero when SQS did not report it.
	SentAt time.Time
	// Trace is the trace context the publisher sent with the message (TraceAttribute), "" for none.
	Trace tracing.Carrier
	// Queue is the name of the queue it came from.
	Queue string
}

// Outgoing is one message to publish with the trace context it belongs to: Trace is the carrier
// stored with the outbox row (the request that accepted the send), "" for none.
type Outgoing struct {
	Body  string
	Trace tracing.Carrier
}

// Depth is how many messages a queue holds, by state.
type Depth struct {
	Visible  int // ApproximateNumberOfMessages
	InFlight int // ApproximateNumberOfMessagesNotVisible: received and not yet deleted or released
	Delayed  int // ApproximateNumberOfMessagesDelayed
}

// Total is every message the queue holds.
func (d Depth) Total() int { return d.Visible + d.InFlight + d.Delayed }
