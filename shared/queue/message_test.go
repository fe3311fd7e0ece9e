package queue_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range []queue.Message{
		{GiftID: uuid.New(), RequestID: "key-1"},
		{GiftID: uuid.New(), RequestID: "key-2", ForceFailure: true},
		{GiftID: uuid.New(), RequestID: "key-3", Retry: 2},
		{GiftID: uuid.New(), RequestID: "key-4", AcceptedAt: time.Date(2026, 12, 3, 7, 0, 0, 123456789, time.UTC)},
		{GiftID: uuid.New(), RequestID: "key-5", CorrelationID: "0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b"},
	} {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "force_failure") != m.ForceFailure {
			t.Errorf("force_failure should be present only when true: %s", b)
		}
		if strings.Contains(string(b), `"retry"`) != (m.Retry > 0) {
			t.Errorf("retry should be present only after an operator retry: %s", b)
		}
		if strings.Contains(string(b), "correlation_id") == (m.CorrelationID == "") {
			t.Errorf("correlation_id should be present only when set: %s", b)
		}
		if strings.Contains(string(b), "accepted_at") == m.AcceptedAt.IsZero() {
			t.Errorf("accepted_at should be present only when set: %s", b)
		}
		got, err := queue.Parse(b)
		if err != nil || got != m {
			t.Fatalf("Parse(%s) = %+v, %v; want %+v", b, got, err, m)
		}
	}
}

func TestParseRejectsBadMessages(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":            `gift`,
		"missing gift_id":     `{"request_id":"k"}`,
		"gift_id not a UUID":  `{"gift_id":"nope","request_id":"k"}`,
		"missing request_id":  `{"gift_id":"` + uuid.NewString() + `"}`,
		"empty request_id":    `{"gift_id":"` + uuid.NewString() + `","request_id":""}`,
		"request_id a space":  `{"gift_id":"` + uuid.NewString() + `","request_id":" "}`,
		"request_id a NUL":    `{"gift_id":"` + uuid.NewString() + `","request_id":"\u0000"}`,
		"request_id too long": `{"gift_id":"` + uuid.NewString() + `","request_id":"` + strings.Repeat("k", 256) + `"}`,
		"wrong type":          `{"gift_id":"` + uuid.NewString() + `","request_id":"k","force_failure":"yes"}`,
		"negative retry":      `{"gift_id":"` + uuid.NewString() + `","request_id":"k","retry":-1}`,
	} {
		if _, err := queue.Parse([]byte(body)); err == nil {
			t.Errorf("%s: Parse(%s) accepted it", name, body)
		}
	}
}

func TestParseAcceptsUnknownFields(t *testing.T) {
	id := uuid.New()
	m, err := queue.Parse([]byte(`{"gift_id":"` + id.String() + `","request_id":"k","trace":"x"}`))
	if err != nil || m.GiftID != id {
		t.Fatalf("got %+v, %v", m, err)
	}
}

// A correlation id only names the request in log lines: one that is malformed, of the wrong type or
// implausible (control characters, too long) is dropped and the send request still parses.
func TestParseDropsAMalformedCorrelationID(t *testing.T) {
	id := uuid.NewString()
	for name, value := range map[string]string{
		"a number":       `42`,
		"an object":      `{"id":"x"}`,
		"null":           `null`,
		"empty":          `""`,
		"a line break":   `"a\nb"`,
		"longer than 64": `"` + strings.Repeat("c", 65) + `"`,
	} {
		m, err := queue.Parse([]byte(`{"gift_id":"` + id + `","request_id":"k","correlation_id":` + value + `}`))
		if err != nil {
			t.Errorf("%s: the send request is refused: %v", name, err)
			continue
		}
		if m.CorrelationID != "" || m.GiftID.String() != id || m.RequestID != "k" {
			t.Errorf("%s: Parse = %+v, want the send request without a correlation id", name, m)
		}
	}
}
