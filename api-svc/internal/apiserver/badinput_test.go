package apiserver_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/contracttest"
)

// Every malformed request gets the documented envelope with a 4xx: never a 5xx, never a hang.
func TestBadInputGetsTheEnvelope(t *testing.T) {
	s := startStack(t)
	g := s.createGift(t)
	giftPath := "/gifts/" + g.GiftId.String()
	sendPath := giftPath + "/send"
	const jsonCT = "application/json"
	validKey := map[string]string{"Idempotency-Key": "valid-key"}

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		header      map[string]string
		status      int
		code        string
		requestID   string // expected request_id; "" means null
	}{
		{"malformed JSON", "POST", "/gifts", jsonCT, `{"amount": 10`, nil, 400, "VALIDATION_ERROR", ""},
		{"not an object", "POST", "/gifts", jsonCT, `[1, 2]`, nil, 400, "VALIDATION_ERROR", ""},
		{"empty body", "POST", "/gifts", jsonCT, ``, nil, 400, "VALIDATION_ERROR", ""},
		{"null body", "POST", "/gifts", jsonCT, `null`, nil, 400, "VALIDATION_ERROR", ""},
		{"missing amount", "POST", "/gifts", jsonCT, `{"message": "hi"}`, nil, 400, "VALIDATION_ERROR", ""},
		{"amount as a string", "POST", "/gifts", jsonCT, `{"amount": "10"}`, nil, 400, "VALIDATION_ERROR", ""},
		{"amount with a fraction", "POST", "/gifts", jsonCT, `{"amount": 1.5}`, nil, 400, "VALIDATION_ERROR", ""},
		{"amount zero", "POST", "/gifts", jsonCT, `{"amount": 0}`, nil, 400, "VALIDATION_ERROR", ""},
		{"amount negative", "POST", "/gifts", jsonCT, `{"amount": -1}`, nil, 400, "VALIDATION_ERROR", ""},
		{"amount past INTEGER", "POST", "/gifts", jsonCT, `{"amount": 2147483648}`, nil, 400, "VALIDATION_ERROR", ""},
		{"amount beyond float64", "POST", "/gifts", jsonCT, `{"amount": 1e400}`, nil, 400, "VALIDATION_ERROR", ""},
		{"amount huge integer literal", "POST", "/gifts", jsonCT, `{"amount": 99999999999999999999999999}`, nil, 400, "VALIDATION_ERROR", ""},
		{"amount null", "POST", "/gifts", jsonCT, `{"amount": null}`, nil, 400, "VALIDATION_ERROR", ""},
		{"message of 501 characters", "POST", "/gifts", jsonCT, `{"amount": 1, "message": "` + strings.Repeat("あ", 501) + `"}`, nil, 400, "VALIDATION_ERROR", ""},
		{"message not a string", "POST", "/gifts", jsonCT, `{"amount": 1, "message": 5}`, nil, 400, "VALIDATION_ERROR", ""},
		{"message null", "POST", "/gifts", jsonCT, `{"amount": 1, "message": null}`, nil, 400, "VALIDATION_ERROR", ""},
		{"unknown field", "POST", "/gifts", jsonCT, `{"amount": 1, "currency": "JPY"}`, nil, 400, "VALIDATION_ERROR", ""},
		{"trailing garbage", "POST", "/gifts", jsonCT, `{"amount": 1} {"amount": 2}`, nil, 400, "VALIDATION_ERROR", ""},
		{"text/plain body", "POST", "/gifts", "text/plain", `{"amount": 1}`, nil, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"form body", "POST", "/gifts", "application/x-www-form-urlencoded", `amount=1`, nil, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"no content type", "POST", "/gifts", "", `{"amount": 1}`, nil, 415, "UNSUPPORTED_MEDIA_TYPE", ""},
		{"oversized body", "POST", "/gifts", jsonCT, `{"amount": 1, "message": "` + strings.Repeat("x", 20000) + `"}`, nil, 413, "PAYLOAD_TOO_LARGE", ""},
		{"invalid UUID in path", "GET", "/gifts/not-a-uuid", "", "", nil, 400, "VALIDATION_ERROR", ""},
		{"invalid UUID on send", "POST", "/gifts/123/send", "", "", validKey, 400, "VALIDATION_ERROR", "valid-key"},
		{"unknown gift", "GET", "/gifts/" + uuid.NewString(), "", "", nil, 404, "NOT_FOUND", ""},
		{"unknown path", "GET", "/nope", "", "", nil, 404, "NOT_FOUND", ""},
		{"wrong method", "DELETE", giftPath, "", "", nil, 405, "METHOD_NOT_ALLOWED", ""},
		{"GET on a POST-only path", "GET", "/gifts/00000000-0000-7000-8000-000000000001/send", "", "", nil, 405, "METHOD_NOT_ALLOWED", ""},
		{"send without Idempotency-Key", "POST", sendPath, "", "", nil, 400, "VALIDATION_ERROR", ""},
		{"send with an empty key", "POST", sendPath, "", "", map[string]string{"Idempotency-Key": ""}, 400, "VALIDATION_ERROR", ""},
		{"send with a 256-character key", "POST", sendPath, "", "", map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}, 400, "VALIDATION_ERROR", ""},
		{"send with a key containing a space", "POST", sendPath, "", "", map[string]string{"Idempotency-Key": "a b"}, 400, "VALIDATION_ERROR", ""},
		{"send with a non-ASCII key", "POST", sendPath, "", "", map[string]string{"Idempotency-Key": "キー"}, 400, "VALIDATION_ERROR", ""},
		{"send with X-Force-Failure not a boolean", "POST", sendPath, "", "", map[string]string{"Idempotency-Key": "k2", "X-Force-Failure": "maybe"}, 400, "VALIDATION_ERROR", "k2"},
		{"send with X-Force-Failure while disabled", "POST", sendPath, "", "", map[string]string{"Idempotency-Key": "k3", "X-Force-Failure": "true"}, 400, "VALIDATION_ERROR", "k3"},
		{"send to an unknown gift", "POST", "/gifts/" + uuid.NewString() + "/send", "", "", validKey, 404, "NOT_FOUND", "valid-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := s.do(t, tt.method, tt.path, tt.contentType, tt.body, tt.header)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			code, rid := envelope(t, body)
			if code != tt.code {
				t.Fatalf("code %s, want %s: %s", code, tt.code, body)
			}
			switch {
			case tt.requestID == "" && rid != nil:
				t.Fatalf("request_id %q, want null", *rid)
			case tt.requestID != "" && (rid == nil || *rid != tt.requestID):
				t.Fatalf("request_id %v, want %q", rid, tt.requestID)
			}
			if strings.Contains(string(body), "Schema:") || strings.Contains(string(body), "Go struct") {
				t.Fatalf("message leaks validator internals: %s", body)
			}
		})
	}

	t.Run("405 names the allowed methods", func(t *testing.T) {
		resp, _ := s.do(t, "DELETE", giftPath, "", "", nil)
		if allow := resp.Header.Get("Allow"); allow != "GET" {
			t.Fatalf("Allow %q, want GET", allow)
		}
	})
	t.Run("500 characters of Japanese are accepted", func(t *testing.T) {
		resp, body := s.do(t, "POST", "/gifts", jsonCT, `{"amount": 1, "message": "`+strings.Repeat("あ", 500)+`"}`, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("charset parameter on the content type is accepted", func(t *testing.T) {
		resp, body := s.do(t, "POST", "/gifts", "application/json; charset=utf-8", `{"amount": 1}`, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("the gift was never touched by the rejected sends", func(t *testing.T) {
		if n := s.outboxPending(t); n != 0 {
			t.Fatalf("outbox holds %d messages", n)
		}
	})
}

// Operations whose contract reads no request body (the send, GET, the probes) ignore one that a
// client sends along: the answer is the one the same request without a body gets, never a 400 for
// a body nobody reads nor a 413 for its size.
func TestOperationsWithoutABodyIgnoreIt(t *testing.T) {
	s := startStack(t)
	for _, b := range strayBodies {
		t.Run(b.name, func(t *testing.T) {
			g := s.createGift(t)
			sendPath := "/gifts/" + g.GiftId.String() + "/send"
			key := map[string]string{"Idempotency-Key": "stray-" + g.GiftId.String()}
			for _, c := range []struct {
				method, path string
				header       map[string]string
				status       int
			}{
				{"POST", sendPath, key, http.StatusAccepted},
				{"POST", sendPath, key, http.StatusOK}, // the replay
				{"GET", "/gifts/" + g.GiftId.String(), nil, http.StatusOK},
				{"GET", "/healthz", nil, http.StatusOK},
				{"POST", "/gifts/" + uuid.NewString() + "/send", key, http.StatusNotFound},
			} {
				resp, body := s.do(t, c.method, c.path, b.contentType, b.body, c.header)
				if resp.StatusCode != c.status {
					t.Fatalf("%s %s with %s: status %d, want %d: %s", c.method, c.path, b.name, resp.StatusCode, c.status, body)
				}
			}
		})
	}
}

// A client that writes its whole oversized body before reading gets the 413 envelope, not a
// connection reset: the server reads and discards the rest after answering (lingering close).
func TestOversizedBodyWrittenInFullGetsTheEnvelope(t *testing.T) {
	s := startStack(t)
	const size = 10 << 20
	body := bytes.Repeat([]byte("x"), size)

	for _, tt := range []struct {
		name   string
		header string
		write  func(w io.Writer) error
	}{
		{"with Content-Length", fmt.Sprintf("Content-Length: %d\r\n", size), func(w io.Writer) error {
			_, err := w.Write(body)
			return err
		}},
		{"chunked", "Transfer-Encoding: chunked\r\n", func(w io.Writer) error {
			for chunk := range slices.Chunk(body, 64<<10) {
				if _, err := fmt.Fprintf(w, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
					return err
				}
			}
			_, err := io.WriteString(w, "0\r\n\r\n")
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(s.URL)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// A guard against a hang, not a measurement: the exchange takes milliseconds.
			if err := conn.SetDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			head := "POST /gifts HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: Bearer " + s.Key + "\r\nContent-Type: application/json\r\n" + tt.header + "\r\n"
			if _, err := io.WriteString(conn, head); err != nil {
				t.Fatal(err)
			}
			if err := tt.write(conn); err != nil {
				t.Fatalf("writing the body in full: %v", err)
			}
			req, err := http.NewRequest(http.MethodPost, s.URL+"/gifts", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), req)
			if err != nil {
				t.Fatalf("reading the answer after the whole body was written: %v", err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("reading the answer's body: %v", err)
			}
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413: %s", resp.StatusCode, got)
			}
			if code, _ := envelope(t, got); code != "PAYLOAD_TOO_LARGE" {
				t.Fatalf("code %s, want PAYLOAD_TOO_LARGE: %s", code, got)
			}
			if err := contracttest.ValidateResponse(req, resp.StatusCode, resp.Header, got); err != nil {
				t.Fatal(err)
			}
		})
	}
}
