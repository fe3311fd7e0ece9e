package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The fuzz targets drive the real API (apiserver.Serve on a socket, a real PostgreSQL database, the SQS
// emulator) with inputs the fuzzer mutates, and hold every answer to the contract as oracle_test.go
// reads it: no 5xx, the documented status for what was sent, the documented body, and an accepted
// request really done. `go test` (so `make test`) replays the seeds below and testdata/fuzz;
// `make fuzz` explores for FUZZTIME per target.

// FuzzCreateGift: POST /gifts with any content type and body.
func FuzzCreateGift(f *testing.F) {
	for _, seed := range []struct{ contentType, body string }{
		{"application/json", `{"amount": 3000, "message": "お誕生日おめでとう！"}`},
		{"application/json", `{"amount": 1}`},
		{"application/json", `{"amount": 2147483647, "message": ""}`},
		{"application/json; charset=utf-8", `{"message": "x", "amount": 10}`},
		{"application/json", `{"amount": 0}`},
		{"application/json", `{"amount": 2147483648}`},
		{"application/json", `{"amount": 1.0}`},
		{"application/json", `{"amount": 1e3}`},
		{"application/json", `{"amount": -1}`},
		{"application/json", `{"amount": "5"}`},
		{"application/json", `{"amount": null}`},
		{"application/json", `{"amount": 1, "message": null}`},
		{"application/json", `{"amount": 1, "message": 7}`},
		{"application/json", `{"amount": 1, "extra": true}`},
		{"application/json", `{"amount": 1, "amount": 2}`},
		{"application/json", `{"amount": 1, "message": "` + strings.Repeat("é", 500) + `"}`},
		{"application/json", `{"amount": 1, "message": "` + strings.Repeat("é", 501) + `"}`},
		{"application/json", `{"amount": 1, "message": "\ud83c\udf81 \u00e9"}`},
		{"application/json", `{"amount": 1, "message": "nul \u0000 and \ud800"}`},
		{"application/json", `[{"amount": 1}]`},
		{"application/json", `{"amount": 1} {"amount": 1}`},
		{"application/json", `{"amount": 1`},
		{"application/json", ``},
		{"application/json", `null`},
		{"text/plain", `{"amount": 1}`},
		{"", `{"amount": 1}`},
		{"application/json;", `{"amount": 1}`},
	} {
		f.Add(seed.contentType, []byte(seed.body))
	}
	s := startStack(f)
	c := fuzzClient(s.Key)
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		if !sendableHeader(contentType) {
			return // the HTTP layer refuses it before the API sees it
		}
		req, err := http.NewRequest(http.MethodPost, s.URL+"/gifts", bytes.NewReader(body))
		must(t, err)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		x, err := do(c, req)
		must(t, err)
		v := judgeCreate(headerValue(contentType), body)
		if err := checkDocumented(x, v.allowed...); err != nil {
			t.Fatalf("%v\ncontract: %s; body %q", err, v.why, body)
		}
		if x.status == http.StatusCreated {
			must(t, readsBack(c, s.URL, x, v))
		}
	})
}

// fuzzClient is the HTTP client of the fuzz targets. Its timeout is a guard against a hang (a
// request the server never answers fails the input), not a measurement: answers take milliseconds.
// It sends the stack's API key.
func fuzzClient(key string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: keyed(http.DefaultTransport, key)}
}

// readsBack checks that a created gift reads back through GET as the create request asked.
func readsBack(c *http.Client, base string, created exchange, v createVerdict) error {
	var g struct {
		GiftID uuid.UUID `json:"gift_id"`
		Status string    `json:"status"`
	}
	if err := json.Unmarshal(created.body, &g); err != nil {
		return fmt.Errorf("201 body: %w", err)
	}
	if loc := created.respHeader.Get("Location"); loc != "/gifts/"+g.GiftID.String() {
		return fmt.Errorf("Location %q for gift %s", loc, g.GiftID)
	}
	req, err := http.NewRequest(http.MethodGet, base+"/gifts/"+g.GiftID.String(), nil)
	if err != nil {
		return err
	}
	x, err := do(c, req)
	if err != nil {
		return err
	}
	if err := checkDocumented(x, http.StatusOK); err != nil {
		return err
	}
	var got struct {
		Amount  int64   `json:"amount"`
		Message *string `json:"message"`
		Status  string  `json:"status"`
	}
	if err := json.Unmarshal(x.body, &got); err != nil {
		return fmt.Errorf("GET body: %w", err)
	}
	if got.Amount != v.amount || got.Status != "CREATED" || !equalPtr(got.Message, v.message) {
		return fmt.Errorf("created %s, read back %s; the request asked for amount %d, message %s",
			created.body, x.body, v.amount, show(v.message))
	}
	return nil
}

func equalPtr(a, b *string) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func show(s *string) string {
	if s == nil {
		return "null"
	}
	return fmt.Sprintf("%q", *s)
}

// FuzzSendHeaders: POST /gifts/{id}/send with any Idempotency-Key and X-Force-Failure, present or
// not, on a server with failure injection enabled or not. An accepted send is checked to the end:
// 202 with the documented body, the force flag stored as sent, a replay answered 200 byte for byte,
// a second key refused with 409. A refused one leaves the gift untouched.
func FuzzSendHeaders(f *testing.F) {
	for _, seed := range []struct {
		key              string
		hasKey           bool
		force            string
		hasForce, inject bool
	}{
		{"2b9a7c1e-0f3d-4e5a-8b6c-1d2e3f4a5b6c", true, "", false, false},
		{"k", true, "true", true, true},
		{"k", true, "false", true, true},
		{"k", true, "true", true, false},
		{"k", true, "TRUE", true, true},
		{"k", true, "1", true, true},
		{"k", true, "maybe", true, true},
		{"k", true, "", true, true},
		{"", true, "", false, false},
		{"", false, "", false, true},
		{"a b", true, "", false, false},
		{" padded\t", true, "", false, false},
		{"キー", true, "", false, false},
		{strings.Repeat("k", 255), true, "", false, true},
		{strings.Repeat("k", 256), true, "", false, true},
		{"!~", true, " true ", true, true},
	} {
		f.Add(seed.key, seed.hasKey, seed.force, seed.hasForce, seed.inject)
	}
	stacks := map[bool]*sendTarget{
		false: {stack: startStack(f)},
		true:  {stack: startStack(f, withEnv("FAILURE_INJECTION_ENABLED", "true"))},
	}
	clients := map[bool]*http.Client{false: fuzzClient(stacks[false].stack.Key), true: fuzzClient(stacks[true].stack.Key)}
	f.Fuzz(func(t *testing.T, key string, hasKey bool, force string, hasForce, inject bool) {
		c := clients[inject]
		if (hasKey && !sendableHeader(key)) || (hasForce && !sendableHeader(force)) {
			return // the HTTP layer refuses it before the API sees it
		}
		st := stacks[inject]
		id := st.spareGift(t, c)
		header := http.Header{}
		if hasKey {
			header.Set("Idempotency-Key", key)
		}
		if hasForce {
			header.Set("X-Force-Failure", force)
		}
		k := headerValue(key)
		fv, forced := judgeForce(hasForce, force)
		allowed := []int{http.StatusAccepted}
		switch {
		case !hasKey || !validKey(k), fv == forceInvalid, fv != forceAbsent && !inject:
			allowed = []int{http.StatusBadRequest}
		case fv == forceLenient:
			allowed = []int{http.StatusAccepted, http.StatusBadRequest}
		}
		x := st.send(t, c, id, header)
		if x.status == http.StatusAccepted {
			st.spare = uuid.Nil // used: the next input gets a fresh gift
		}
		if err := checkDocumented(x, allowed...); err != nil {
			t.Fatal(err)
		}
		if x.status != http.StatusAccepted {
			if status, requests := st.state(t, id); status != "CREATED" || requests != 0 {
				t.Fatalf("refused send changed the gift: status %s, %d send requests: %s", status, requests, x)
			}
			return
		}

		var accepted struct {
			GiftID    uuid.UUID `json:"gift_id"`
			Status    string    `json:"status"`
			RequestID string    `json:"request_id"`
		}
		must(t, json.Unmarshal(x.body, &accepted))
		k, _ = keyOf(k) // the quoted form names the key inside it
		if accepted.GiftID != id || accepted.Status != "QUEUED" || accepted.RequestID != k {
			t.Fatalf("202 body %s, want gift %s QUEUED by request %q", x.body, id, k)
		}
		var stored bool
		must(t, st.stack.Pool.QueryRow(context.Background(),
			`SELECT force_failure FROM send_requests WHERE gift_id = $1 AND request_id = $2`, id, k).Scan(&stored))
		if stored != forced {
			t.Fatalf("force_failure stored %v, the request said %v: %s", stored, forced, x)
		}
		replay := st.send(t, c, id, header)
		if err := checkDocumented(replay, http.StatusOK); err != nil || !bytes.Equal(replay.body, x.body) {
			t.Fatalf("replay of %s: %v: %s", x, err, replay)
		}
		other := header.Clone()
		other.Set("Idempotency-Key", otherKey(k))
		other.Del("X-Force-Failure")
		if err := checkDocumented(st.send(t, c, id, other), http.StatusConflict); err != nil {
			t.Fatalf("second key on a queued gift: %v", err)
		}
	})
}

// sendTarget is a running API and a CREATED gift kept for the next send input (most inputs are
// refused and leave it CREATED).
type sendTarget struct {
	stack *stack
	spare uuid.UUID
}

func (st *sendTarget) spareGift(t *testing.T, c *http.Client) uuid.UUID {
	t.Helper()
	if st.spare != uuid.Nil {
		return st.spare
	}
	req, err := http.NewRequest(http.MethodPost, st.stack.URL+"/gifts", strings.NewReader(`{"amount": 500}`))
	must(t, err)
	req.Header.Set("Content-Type", "application/json")
	x, err := do(c, req)
	must(t, err)
	must(t, checkDocumented(x, http.StatusCreated))
	var g struct {
		GiftID uuid.UUID `json:"gift_id"`
	}
	must(t, json.Unmarshal(x.body, &g))
	st.spare = g.GiftID
	return st.spare
}

func (st *sendTarget) send(t *testing.T, c *http.Client, id uuid.UUID, header http.Header) exchange {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, st.stack.URL+"/gifts/"+id.String()+"/send", nil)
	must(t, err)
	req.Header = header.Clone()
	x, err := do(c, req)
	must(t, err)
	return x
}

func (st *sendTarget) state(t *testing.T, id uuid.UUID) (status string, requests int) {
	t.Helper()
	must(t, st.stack.Pool.QueryRow(context.Background(),
		`SELECT status, (SELECT count(*) FROM send_requests WHERE gift_id = $1) FROM gifts WHERE id = $1`, id).Scan(&status, &requests))
	return status, requests
}

// otherKey is a valid key different from the valid key k.
func otherKey(k string) string {
	if len(k) < 255 {
		return k + "2"
	}
	return k[:254]
}

// FuzzAuthorization: whatever the Authorization header, GET /gifts answers 200 only to the
// client's key and otherwise the documented 401 (UNAUTHENTICATED without a bearer token,
// API_KEY_INVALID with a bad one) with its challenge; never a 5xx, never another client's data.
func FuzzAuthorization(f *testing.F) {
	s := startStack(f)
	for _, seed := range []string{
		"", "Bearer", "Bearer ", "bearer " + s.Key, "Bearer " + s.Key, "Bearer  " + s.Key, "Bearer " + s.Key + " ",
		"Basic " + s.Key, s.Key, "Bearer " + strings.ToUpper(s.Key), "Bearer " + s.Key[:len(s.Key)-1],
		"Bearer gk_00000000_" + strings.Repeat("A", 43), "Bearer " + s.Key[:12] + strings.Repeat("_", 43), "Bearer \x00",
	} {
		f.Add(seed)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	f.Fuzz(func(t *testing.T, header string) {
		if !sendableHeader(header) {
			return // the HTTP layer refuses it before the API sees it
		}
		req, err := http.NewRequest(http.MethodGet, s.URL+"/gifts", nil)
		must(t, err)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		x, err := do(c, req)
		must(t, err)
		allowed := []int{http.StatusUnauthorized}
		if carriesKey(header, s.Key) {
			allowed = []int{http.StatusOK}
		}
		if err := checkDocumented(x, allowed...); err != nil {
			t.Fatal(err)
		}
	})
}
