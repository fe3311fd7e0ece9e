// Package queue defines the message the API puts on the send queue and the worker takes off it
// (docs/requirements.md §7.2, plus the optional force_failure flag of docs/requirements.md §5.1.2),
// and the transport-neutral types the use cases exchange with the queue adapter (transport.go).
package queue

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// Message asks the worker to send one gift. It carries the correlation ids of docs/requirements.md §3.3 so
// one send can be followed from the API's log line to the worker's.
type Message struct {
	GiftID    uuid.UUID `json:"gift_id"`
	RequestID string    `json:"request_id"`
	// ForceFailure makes every attempt fail so operators can rehearse the DLQ path.
	ForceFailure bool `json:"force_failure,omitempty"`
	// Retry is the operator retry this message belongs to (send_requests.retries; 0: the client's
	// own send). A message of an earlier attempt series left in the DLQ is recognised by it and
	// never fails the retried gift.
	Retry int `json:"retry,omitempty"`
	// AcceptedAt is when the API accepted the send: the worker measures "SENT within 5 minutes"
	// (the freshness SLO) from it. Zero in messages of an API that did not write it.
	AcceptedAt time.Time `json:"accepted_at,omitzero"`
	// CorrelationID is the id of the API request that accepted the send (shared/correlation): the
	// worker logs every line of the message with it. Redeliveries carry the same body, so the same
	// id. "" in messages of an API that did not write it and in operators' retries and redrives.
	CorrelationID string `json:"correlation_id,omitempty"`
}

// Marshal encodes m as the JSON message body.
func (m Message) Marshal() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode queue message: %w", err)
	}
	return b, nil
}

// Parse decodes and checks a message body. Unknown fields are accepted so a newer API can add
// fields without breaking an older worker; missing or malformed required fields are an error, and
// so is a request_id that is not a valid Idempotency-Key.
func Parse(body []byte) (Message, error) {
	var raw struct {
		GiftID       *string    `json:"gift_id"`
		RequestID    *string    `json:"request_id"`
		ForceFailure *bool      `json:"force_failure"`
		Retry        *int       `json:"retry"`
		AcceptedAt   *time.Time `json:"accepted_at"`
		// Read apart: a malformed id only goes unlogged, it never makes the send invalid.
		CorrelationID json.RawMessage `json:"correlation_id"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return Message{}, fmt.Errorf("decode queue message: %w", err)
	}
	if raw.GiftID == nil {
		return Message{}, fmt.Errorf("decode queue message: gift_id is missing")
	}
	id, err := uuid.Parse(*raw.GiftID)
	if err != nil {
		return Message{}, fmt.Errorf("decode queue message: gift_id %q is not a UUID: %w", *raw.GiftID, err)
	}
	if raw.RequestID == nil || *raw.RequestID == "" {
		return Message{}, fmt.Errorf("decode queue message: request_id is missing")
	}
	// The API only ever writes a valid Idempotency-Key here. Anything else (a control character, a
	// NUL that PostgreSQL refuses in text) is not a send request, and must not reach the database
	// as one: it would fail there as an unexpected error and be retried instead of dead-lettered.
	if err := gift.ValidateIdempotencyKey(*raw.RequestID); err != nil {
		return Message{}, fmt.Errorf("decode queue message: request_id %q: %w", *raw.RequestID, err)
	}
	m := Message{GiftID: id, RequestID: *raw.RequestID}
	if raw.ForceFailure != nil {
		m.ForceFailure = *raw.ForceFailure
	}
	if raw.Retry != nil {
		if *raw.Retry < 0 {
			return Message{}, fmt.Errorf("decode queue message: retry %d is negative", *raw.Retry)
		}
		m.Retry = *raw.Retry
	}
	if raw.AcceptedAt != nil {
		m.AcceptedAt = *raw.AcceptedAt
	}
	var cid string
	if json.Unmarshal(raw.CorrelationID, &cid) == nil && correlation.Plausible(cid) {
		m.CorrelationID = cid
	}
	return m, nil
}
