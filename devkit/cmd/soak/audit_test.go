package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The audit's judgement of a 5xx: the documented envelope, and inside a database outage.
func TestServerErrorJudgement(t *testing.T) {
	const id = "01a248ca-c646-7c66-b253-7bc68c488483"
	jsonHeader := http.Header{"Content-Type": {"application/json"}, "Correlation-Id": {id}}
	retry := http.Header{"Content-Type": {"application/json"}, "Retry-After": {"1"}, "Correlation-Id": {id}}
	for _, tt := range []struct {
		name   string
		status int
		header http.Header
		body   string
		ok     bool
	}{
		{"503 envelope with Retry-After", 503, retry, `{"error":{"code":"SERVICE_UNAVAILABLE","message":"service temporarily unavailable"},"request_id":"k","correlation_id":"` + id + `"}`, true},
		{"500 envelope", 500, jsonHeader, `{"error":{"code":"INTERNAL_ERROR","message":"internal error"},"request_id":null,"correlation_id":"` + id + `"}`, true},
		{"503 without Retry-After", 503, jsonHeader, `{"error":{"code":"SERVICE_UNAVAILABLE","message":"x"},"request_id":null,"correlation_id":"` + id + `"}`, false},
		{"code of another status", 503, retry, `{"error":{"code":"INTERNAL_ERROR","message":"x"},"request_id":null,"correlation_id":"` + id + `"}`, false},
		{"plain text", 502, http.Header{"Content-Type": {"text/plain"}}, `Bad Gateway`, false},
		{"extra field", 500, jsonHeader, `{"error":{"code":"INTERNAL_ERROR","message":"x","detail":"pq: boom"},"request_id":null,"correlation_id":"` + id + `"}`, false},
		{"undocumented status", 504, jsonHeader, `{"error":{"code":"INTERNAL_ERROR","message":"x"},"request_id":null,"correlation_id":"` + id + `"}`, false},
		{"no correlation id", 500, jsonHeader, `{"error":{"code":"INTERNAL_ERROR","message":"x"},"request_id":null}`, false},
		{"correlation id not the header's", 500, jsonHeader, `{"error":{"code":"INTERNAL_ERROR","message":"x"},"request_id":null,"correlation_id":"another"}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := envelopeProblem(answer{status: tt.status, header: tt.header, body: []byte(tt.body)})
			if (p == "") != tt.ok {
				t.Fatalf("envelopeProblem = %q, want ok=%v", p, tt.ok)
			}
		})
	}

	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	faults := []fault{
		{name: "sqs", start: t0, end: t0.Add(15 * time.Second)},
		{name: "pg", database: true, start: t0.Add(time.Minute), end: t0.Add(time.Minute + 5*time.Second)},
	}
	for _, tt := range []struct {
		name    string
		at      time.Time
		latency time.Duration
		inside  bool
	}{
		{"during an SQS fault only", t0.Add(5 * time.Second), time.Millisecond, false},
		{"during the database outage", t0.Add(time.Minute + time.Second), time.Millisecond, true},
		{"sent before, answered during", t0.Add(time.Minute - time.Second), 2 * time.Second, true},
		{"within the grace after restart", t0.Add(time.Minute + 5*time.Second + outageGrace - time.Second), time.Millisecond, true},
		{"after the grace", t0.Add(time.Minute + 5*time.Second + outageGrace + time.Second), time.Millisecond, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := duringOutage(tt.at, tt.latency, faults); got != tt.inside {
				t.Fatalf("duringOutage = %v, want %v", got, tt.inside)
			}
		})
	}
}

// The log witness counts a gift once per stored final transition and flags a second one.
func TestLoggedFinalTransitions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "worker.log")
	lines := strings.Join([]string{
		`{"msg":"gift sent","gift_id":"a","status":"SENT"}`,
		`{"msg":"duplicate delivery: the gift was already finished, message deleted","gift_id":"a","status":"SENT"}`,
		`{"msg":"last attempt failed: gift FAILED, message moved to the DLQ","gift_id":"b","status":"FAILED"}`,
		`{"msg":"gift still QUEUED with its message in the DLQ: marked FAILED","gift_id":"b","status":"FAILED"}`,
		`{"msg":"gift sent","gift_id":"c","status":"SENT"}`,
		`not json`,
	}, "\n")
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	gifts, twice, err := loggedFinalTransitions(path)
	if err != nil || gifts != 3 || twice != 1 {
		t.Fatalf("loggedFinalTransitions = %d gifts, %d twice, %v; want 3, 1", gifts, twice, err)
	}
}
