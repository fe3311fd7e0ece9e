package main_test

import (
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// Killed with SIGKILL mid-batch (messages in hand, gifts still QUEUED), then started again: every
// gift still ends SENT, the messages the dead worker held come back after their visibility timeout
// and are processed on their second attempt, nothing reaches the DLQ.
func sigkillMidBatch(t *testing.T, bin string) {
	s := newStack(t)
	sends := s.queued(60)
	environ := s.env(testenv.FreeAddr(t), "WORKER_CONCURRENCY=5", "WORKER_SEND_LATENCY=150ms")
	first := startWorker(t, bin, environ)

	testenv.Eventually(t, 30*time.Second, "mid-batch: some gifts SENT, messages in hand", func() (bool, string) {
		st, d := s.statuses(), s.depth(s.queues.URL)
		return st[gift.StatusSent] >= 10 && d.InFlight > 0, fmt.Sprintf("%v, queue %+v", st, d)
	})
	first.signal(syscall.SIGKILL)
	if code := first.exitCode(10 * time.Second); code != -int(syscall.SIGKILL) {
		t.Fatalf("exit code %d, want death by SIGKILL", code)
	}
	st, d := s.statuses(), s.depth(s.queues.URL)
	if st[gift.StatusQueued] == 0 || d.InFlight == 0 {
		t.Fatalf("not mid-batch when killed: %v, queue %+v", st, d)
	}
	heldAtDeath := d.InFlight

	second := startWorker(t, bin, environ)
	testenv.Eventually(t, 60*time.Second, "every gift SENT after the restart", func() (bool, string) {
		st := s.statuses()
		return st[gift.StatusSent] == len(sends), fmt.Sprint(st)
	})
	testenv.Eventually(t, 10*time.Second, "queue drained", func() (bool, string) {
		d := s.depth(s.queues.URL)
		return d.Total() == 0, fmt.Sprintf("%+v", d)
	})
	if d := s.depth(s.queues.DLQURL); d.Total() != 0 {
		t.Fatalf("DLQ: %+v", d)
	}
	// The messages the killed worker held (or was sending) were redelivered, not lost.
	if again := len(second.lines(map[string]any{"msg": "gift sent", "attempt": 2})); again == 0 || again > heldAtDeath {
		t.Fatalf("%d gifts sent on their second attempt; %d messages were in hand at the kill", again, heldAtDeath)
	}
	second.signal(syscall.SIGTERM)
	if code := second.exitCode(30 * time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM: %d", code)
	}
}

// SIGTERM while every slot is busy: the worker stops receiving, finishes the messages in hand within
// the budget (they end SENT and deleted), leaves the rest on the queue untouched and exits 0.
func sigtermFinishesInFlight(t *testing.T, bin string) {
	s := newStack(t)
	sends := s.queued(20)
	environ := s.env(testenv.FreeAddr(t), "WORKER_CONCURRENCY=4", "WORKER_SEND_LATENCY=1500ms", "WORKER_SHUTDOWN_TIMEOUT=20s")
	p := startWorker(t, bin, environ)
	testenv.Eventually(t, 30*time.Second, "four messages in hand", func() (bool, string) {
		d := s.depth(s.queues.URL)
		return d.InFlight == 4, fmt.Sprintf("%+v", d)
	})

	p.signal(syscall.SIGTERM)
	if code := p.exitCode(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	st, d := s.statuses(), s.depth(s.queues.URL)
	if d.InFlight != 0 || st[gift.StatusSent]+d.Visible != len(sends) || st[gift.StatusQueued] != d.Visible {
		t.Fatalf("after shutdown: %v, queue %+v; want every message either finished or visible", st, d)
	}
	if n := len(p.lines(map[string]any{"status": "STOPPED", "msg": "shutdown complete"})); n != 1 {
		t.Fatal("no shutdown-complete log line")
	}
	if n := len(p.lines(map[string]any{"msg": "shutdown budget spent before the message was finished: released for another worker"})); n != 0 {
		t.Fatalf("%d messages released although the budget sufficed", n)
	}
	stopping := p.lines(map[string]any{"status": "STOPPING"})
	if len(stopping) != 1 || fmt.Sprint(stopping[0]["in_flight"]) == "0" {
		t.Fatalf("shutdown did not start with messages in flight: %v", stopping)
	}

	// Nothing lost: a new worker finishes the rest.
	next := startWorker(t, bin, s.env(testenv.FreeAddr(t)))
	testenv.Eventually(t, 30*time.Second, "every gift SENT", func() (bool, string) {
		st := s.statuses()
		return st[gift.StatusSent] == len(sends), fmt.Sprint(st)
	})
	next.signal(syscall.SIGTERM)
	if code := next.exitCode(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// SIGTERM with sends that cannot finish within the budget: the worker gives up on them when the
// budget is spent, makes their messages visible again at once (not after their 60s visibility
// timeout) and still exits 0. A new worker then sends them, on their second attempt.
func sigtermReleasesUnfinished(t *testing.T, bin string) {
	s := newStack(t)
	sends := s.queued(5)
	environ := s.env(testenv.FreeAddr(t), "WORKER_CONCURRENCY=3", "WORKER_SEND_LATENCY=1h",
		"WORKER_VISIBILITY_TIMEOUT=60s", "WORKER_SHUTDOWN_TIMEOUT=1s")
	p := startWorker(t, bin, environ)
	testenv.Eventually(t, 30*time.Second, "three messages in hand", func() (bool, string) {
		d := s.depth(s.queues.URL)
		return d.InFlight == 3, fmt.Sprintf("%+v", d)
	})

	p.signal(syscall.SIGTERM)
	if code := p.exitCode(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if d := s.depth(s.queues.URL); d.InFlight != 0 || d.Visible != len(sends) {
		t.Fatalf("queue after shutdown: %+v; want all %d messages visible at once", d, len(sends))
	}
	released := p.lines(map[string]any{"msg": "shutdown budget spent before the message was finished: released for another worker", "status": "QUEUED"})
	if len(released) != 3 {
		t.Fatalf("%d release lines, want 3", len(released))
	}
	for _, l := range released {
		if l["gift_id"] == nil || l["request_id"] == nil {
			t.Fatalf("release line without correlation ids: %v", l)
		}
	}
	if st := s.statuses(); st[gift.StatusQueued] != len(sends) {
		t.Fatalf("statuses: %v", st)
	}

	next := startWorker(t, bin, s.env(testenv.FreeAddr(t)))
	testenv.Eventually(t, 30*time.Second, "every gift SENT", func() (bool, string) {
		st := s.statuses()
		return st[gift.StatusSent] == len(sends), fmt.Sprint(st)
	})
	if n := len(next.lines(map[string]any{"msg": "gift sent", "attempt": 2})); n != 3 {
		t.Fatalf("%d gifts sent on their second attempt, want the 3 released ones", n)
	}
}

// /healthz says alive and receiving; paused (still 200) while the database is down; `worker
// healthcheck` exits 0 against it and 1 when nothing answers.
func healthEndpoint(t *testing.T, bin string) {
	s := newStack(t)
	addr := testenv.FreeAddr(t)
	p := startWorker(t, bin, s.env(addr))
	testenv.Eventually(t, 15*time.Second, "healthz receiving", func() (bool, string) {
		code, body := get(addr)
		return code == 200 && strings.Contains(body, `"status":"ok","receiving":true`), fmt.Sprintf("%d %s", code, body)
	})
	hc := start(t, bin, []string{"WORKER_HEALTH_ADDR=" + addr}, "healthcheck")
	if c := hc.exitCode(10 * time.Second); c != 0 {
		t.Fatalf("healthcheck against a healthy worker: exit %d: %s", c, hc.out.String())
	}

	// Take the database away from this worker only: terminate its sessions and forbid new ones.
	admin := adminExec(t)
	u, err := url.Parse(s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	admin(fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS false`, dbName))
	admin(fmt.Sprintf(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'`, dbName))
	testenv.Eventually(t, 15*time.Second, "healthz reports paused for the database", func() (bool, string) {
		code, body := get(addr)
		return code == 200 && strings.Contains(body, `"receiving":false`) && strings.Contains(body, "database unavailable"), fmt.Sprintf("%d %s", code, body)
	})
	hc = start(t, bin, []string{"WORKER_HEALTH_ADDR=" + addr}, "healthcheck")
	if c := hc.exitCode(10 * time.Second); c != 0 {
		t.Fatalf("healthcheck of a worker paused for the database: exit %d (ECS would replace a task that cannot help)", c)
	}
	admin(fmt.Sprintf(`ALTER DATABASE %s ALLOW_CONNECTIONS true`, dbName))
	testenv.Eventually(t, 15*time.Second, "healthz receiving again", func() (bool, string) {
		code, body := get(addr)
		return code == 200 && strings.Contains(body, `"receiving":true`), fmt.Sprintf("%d %s", code, body)
	})

	p.signal(syscall.SIGTERM)
	if c := p.exitCode(30 * time.Second); c != 0 {
		t.Fatalf("exit code %d", c)
	}
	hc = start(t, bin, []string{"WORKER_HEALTH_ADDR=" + addr}, "healthcheck")
	if c := hc.exitCode(10 * time.Second); c != 1 {
		t.Fatalf("healthcheck with no worker: exit %d, want 1", c)
	}
}

// Misconfiguration stops the worker at start with a log line that says what is wrong: exit 2 for
// invalid settings, 1 for a queue pair it cannot use.
func refusesToStart(t *testing.T, bin string) {
	s := newStack(t)
	for _, tc := range []struct {
		name  string
		extra []string
		code  int
		want  []string
	}{
		{"invalid settings", []string{"WORKER_CONCURRENCY=0", "WORKER_RETRY_BASE_DELAY=10"}, 2,
			[]string{"CONFIG_INVALID", "WORKER_CONCURRENCY", "WORKER_RETRY_BASE_DELAY"}},
		{"a pool smaller than concurrency + 2", []string{"WORKER_CONCURRENCY=8", "DB_MAX_CONNS=9"}, 2,
			[]string{"CONFIG_INVALID", "DB_MAX_CONNS=9", "WORKER_CONCURRENCY=8"}},
		{"a DLQ that is not the queue's dead-letter target", []string{"SQS_DLQ_URL=" + s.queues.URL}, 1,
			[]string{"STARTUP_FAILED", "RedrivePolicy"}},
		{"a main queue without a redrive policy", []string{"SQS_QUEUE_URL=" + s.queues.DLQURL}, 1,
			[]string{"STARTUP_FAILED", "no RedrivePolicy"}},
	} {
		p := start(t, bin, s.env(testenv.FreeAddr(t), tc.extra...), "run")
		if c := p.exitCode(30 * time.Second); c != tc.code {
			t.Fatalf("%s: exit %d, want %d\n%s", tc.name, c, tc.code, p.out.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(p.out.String(), w) {
				t.Fatalf("%s: output lacks %q:\n%s", tc.name, w, p.out.String())
			}
		}
	}
	if c := start(t, bin, nil, "frobnicate").exitCode(10 * time.Second); c != 2 {
		t.Fatalf("unknown subcommand: exit %d, want 2", c)
	}
}

// SIGTERM while the worker is idle in a 20-second long poll, and a message arrives right after:
// the poll is not abandoned (SQS hands messages to an abandoned poll and hides them for the whole
// visibility timeout, one attempt spent), so the message is taken and finished, and nothing is left
// hidden.
func sigtermDuringALongPoll(t *testing.T, bin string) {
	s := newStack(t)
	sends := s.create(1)
	p := startWorker(t, bin, s.env(testenv.FreeAddr(t), "WORKER_RECEIVE_WAIT=20s", "WORKER_VISIBILITY_TIMEOUT=60s"))
	testenv.Eventually(t, 15*time.Second, "idle in a long poll", func() (bool, string) {
		code, body := get(p.health)
		return code == 200 && strings.Contains(body, `"receiving":true`), fmt.Sprintf("%d %s", code, body)
	})

	p.signal(syscall.SIGTERM)
	s.publish(sends...)
	if code := p.exitCode(40 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	st, d := s.statuses(), s.depth(s.queues.URL)
	if d.InFlight != 0 || st[gift.StatusSent]+d.Visible != 1 {
		t.Fatalf("after shutdown: %v, queue %+v; the message is hidden by an abandoned poll", st, d)
	}
}
