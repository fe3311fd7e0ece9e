package queue_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

// FuzzParse feeds the worker's message parser arbitrary bodies. Whatever arrives on the queue (a
// message from an older or newer API, a hand-made one sent by an operator, garbage), Parse never
// panics, and a message it accepts is one the API could have written: a gift id and a request id
// that is a valid Idempotency-Key (safe to log and to look up in the database), no correlation id or
// a plausible one (safe to log), and it survives
// Marshal and Parse unchanged. `make fuzz` explores; `go test` replays the seeds and
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	id := uuid.MustParse("01936f9e-5a4b-7c1d-8e2f-3a4b5c6d7e8f")
	for _, m := range []queue.Message{
		{GiftID: id, RequestID: "key-1"},
		{GiftID: id, RequestID: "2b9a7c1e-0f3d-4e5a-8b6c-1d2e3f4a5b6c", ForceFailure: true},
		{GiftID: id, RequestID: "key-1", Retry: 2},
		{GiftID: id, RequestID: "key-1", CorrelationID: "0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"},
	} {
		b, err := m.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `"gift"`,
		`{"gift_id":"01936f9e-5a4b-7c1d-8e2f-3a4b5c6d7e8f","request_id":"k","force_failure":false,"extra":[1,{"a":null}]}`,
		`{"gift_id":"01936F9E5A4B7C1D8E2F3A4B5C6D7E8F","request_id":"k"}`,
		`{"gift_id":"urn:uuid:01936f9e-5a4b-7c1d-8e2f-3a4b5c6d7e8f","request_id":"k"}`,
		`{"gift_id":"01936f9e-5a4b-7c1d-8e2f-3a4b5c6d7e8f","request_id":"k","force_failure":1}`,
		`{"gift_id":null,"request_id":null}`,
		`{"gift_id":"01936f9e-5a4b-7c1d-8e2f-3a4b5c6d7e8f","request_id":"k","correlation_id":"a\u0000b"}`,
		`{"gift_id":"01936f9e-5a4b-7c1d-8e2f-3a4b5c6d7e8f","request_id":"k","correlation_id":7}`,
		`{"gift_id":"01936f9e-5a4b-7c1d-8e2f-3a4b5c6d7e8f","gift_id":"x","request_id":"k"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := queue.Parse(body)
		if err != nil {
			if m != (queue.Message{}) {
				t.Fatalf("Parse(%q) failed (%v) but returned %+v", body, err, m)
			}
			return
		}
		if err := gift.ValidateIdempotencyKey(m.RequestID); err != nil {
			t.Fatalf("Parse(%q) accepted request_id %q, which no API request can carry: %v", body, m.RequestID, err)
		}
		if m.CorrelationID != "" && !correlation.Plausible(m.CorrelationID) {
			t.Fatalf("Parse(%q) accepted correlation_id %q, which is not safe to log", body, m.CorrelationID)
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", m, err)
		}
		again, err := queue.Parse(b)
		if err != nil || again != m {
			t.Fatalf("round trip of %q: Parse(%s) = %+v, %v; want %+v", body, b, again, err, m)
		}
	})
}
