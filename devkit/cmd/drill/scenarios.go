package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
)

// stuck is the drills' `giftctl status --stuck-after`: production's monitor waits 300 s; a drill
// has the same signal sooner.
var stuck = []string{"--stuck-after", "5s"}

// workerDown: the worker stops; sends are still accepted and wait QUEUED; the backlog and its age
// grow; the worker comes back as the runbook says; every gift ends SENT and the DLQ is unchanged.
func workerDown(ctx context.Context, r *rehearsal) error {
	w, err := r.startWorker("worker")
	if err != nil {
		return err
	}
	if err := r.healthy(ctx, 30*time.Second, stuck...); err != nil {
		return err
	}
	before, _ := r.status(ctx)

	r.step("stop the worker (SIGTERM), as a crashed or scaled-to-zero service", "")
	if err := w.Stop(30 * time.Second); err != nil {
		return fmt.Errorf("worker stop: %w", err)
	}
	r.step("clients send 20 gifts: still accepted (202)", "")
	ids, err := r.sendGifts(ctx, 20)
	if err != nil {
		return err
	}
	r.giftctl(ctx, append([]string{"status"}, stuck...)...)
	var age float64
	err = r.poll(ctx, "the backlog visible and older than the stuck threshold", 60*time.Second, func() (bool, string) {
		s, code := r.status(ctx, stuck...)
		if s.QueuedOldestAgeSeconds != nil {
			age = *s.QueuedOldestAgeSeconds
		}
		return code == 1 && intOf(s.QueueVisible) == len(ids) && s.StuckQueued != nil && *s.StuckQueued == int64(len(ids)), s.Verdict
	})
	if err != nil {
		return err
	}
	r.say("SEES     the monitor \"SQS backlog\" watches this: %d visible, none in flight, oldest QUEUED %.0fs and growing", len(ids), age)
	r.giftctl(ctx, append([]string{"status"}, stuck...)...)
	r.step("start the worker again", "Worker stopped, step 3: roll back the deploy that stopped it, or raise the worker's "+
		"task floor (aws application-autoscaling register-scalable-target ... --min-capacity N)")
	if _, err := r.startWorker("worker-restarted"); err != nil {
		return err
	}
	if err := r.allSent(ctx, ids, 60*time.Second); err != nil {
		return err
	}
	r.say("VERIFY   all %d gifts SENT", len(ids))
	if err := r.healthy(ctx, 30*time.Second, stuck...); err != nil {
		return err
	}
	after, _ := r.status(ctx)
	if intOf(after.DLQDepth) != intOf(before.DLQDepth) || intOf(after.QueueVisible) != 0 {
		return fmt.Errorf("DLQ %d -> %d, queue visible %d: want the DLQ unchanged and the queue empty",
			intOf(before.DLQDepth), intOf(after.DLQDepth), intOf(after.QueueVisible))
	}
	r.say("VERIFY   DLQ unchanged (%d), send queue empty, status healthy", intOf(after.DLQDepth))
	return nil
}

// backlog: a flood against a slow worker (concurrency 1, 200 ms per send) builds a backlog; the
// runbook's temporary action (a second worker, as a higher desired count) drains it.
func backlog(ctx context.Context, r *rehearsal) error {
	if _, err := r.startWorker("worker-slow", "WORKER_CONCURRENCY=1", "WORKER_SEND_LATENCY=200ms"); err != nil {
		return err
	}
	if err := r.healthy(ctx, 30*time.Second, stuck...); err != nil {
		return err
	}
	r.step("clients flood 150 sends against a worker that manages about 5 a second", "")
	ids, err := r.sendGifts(ctx, 150)
	if err != nil {
		return err
	}
	err = r.poll(ctx, "the backlog older than the stuck threshold", 60*time.Second, func() (bool, string) {
		s, code := r.status(ctx, stuck...)
		return code == 1 && s.StuckQueued != nil && *s.StuckQueued > 0, s.Verdict
	})
	if err != nil {
		return err
	}
	s, _ := r.status(ctx, stuck...)
	r.say("SEES     the monitor \"SQS backlog\" watches this: %d visible, %d in flight, oldest QUEUED %.0fs", intOf(s.QueueVisible),
		intOf(s.QueueInFlight), *s.QueuedOldestAgeSeconds)
	r.giftctl(ctx, append([]string{"status"}, stuck...)...)
	r.step("start a second worker with WORKER_CONCURRENCY=20", "Queue backlog, step 4: temporary: raise the worker's task floor "+
		"(Worker stopped, step 3: aws application-autoscaling register-scalable-target ... --min-capacity N); permanent: WORKER_CONCURRENCY or the scaling target")
	started := time.Now()
	if _, err := r.startWorker("worker-extra", "WORKER_CONCURRENCY=20", "WORKER_SEND_LATENCY=200ms"); err != nil {
		return err
	}
	if err := r.allSent(ctx, ids, 120*time.Second); err != nil {
		return err
	}
	r.say("VERIFY   all %d gifts SENT; the backlog drained %s after the second worker started", len(ids), time.Since(started).Round(100*time.Millisecond))
	if err := r.healthy(ctx, 30*time.Second, stuck...); err != nil {
		return err
	}
	if s, _ := r.status(ctx); intOf(s.DLQDepth) != 0 || intOf(s.QueueVisible) != 0 {
		return fmt.Errorf("after the drain: DLQ %d, queue visible %d; want both 0", intOf(s.DLQDepth), intOf(s.QueueVisible))
	}
	return nil
}

// dbDown: PostgreSQL stops while sends are in progress; the API answers 503 fast with the
// envelope, /readyz is 503, the worker holds (no DLQ growth); PostgreSQL comes back and both
// services recover without a restart, and no gift is lost.
func dbDown(ctx context.Context, r *rehearsal) error {
	if _, err := r.startWorker("worker"); err != nil {
		return err
	}
	if err := r.healthy(ctx, 30*time.Second, stuck...); err != nil {
		return err
	}
	apiPID, workerPID := r.api.PID(), r.workers[0].PID()

	r.step("clients send 20 gifts, then PostgreSQL stops abruptly (immediate shutdown, as a crash or failover)", "")
	ids, err := r.sendGifts(ctx, 20)
	if err != nil {
		return err
	}
	r.deps.Postgres.Kill()

	err = r.poll(ctx, "giftctl status degraded with the API not ready", 30*time.Second, func() (bool, string) {
		s, code := r.status(ctx, stuck...)
		return code == 1 && s.APIReady != nil && !*s.APIReady, s.Verdict
	})
	if err != nil {
		return err
	}
	r.say("SEES     ALB 5xx and the SQS backlog monitors fire; giftctl cannot read the database itself but the API says why:")
	r.giftctl(ctx, append([]string{"status"}, stuck...)...)
	if err := r.fastUnavailable(ctx); err != nil {
		return err
	}
	health, err := r.workerHealth(ctx)
	if err != nil {
		return err
	}
	r.say("SEES     worker /healthz: %s (alive, not receiving: no attempt is spent while the database is away)", health)
	// The outage lasts until the worker has been paused for longer than its retry delays add up
	// to here (1+2+4+8 s), so a worker that kept receiving would have dead-lettered something.
	since := pausedSince.FindStringSubmatch(health)
	if since == nil {
		return fmt.Errorf("worker /healthz does not say since when it is paused: %s", health)
	}
	pausedAt, err := time.Parse(time.RFC3339, since[1])
	if err != nil {
		return err
	}
	err = r.poll(ctx, "a 20 s outage", time.Minute, func() (bool, string) {
		return time.Since(pausedAt) > 20*time.Second, time.Since(pausedAt).String()
	})
	if err != nil {
		return err
	}
	r.giftctl(ctx, append([]string{"status"}, stuck...)...)
	if s, _ := r.status(ctx); intOf(s.DLQDepth) != 0 {
		return fmt.Errorf("the DLQ grew to %d during the outage", intOf(s.DLQDepth))
	}
	r.say("VERIFY   after 20 s of outage the DLQ is still empty: the worker held its messages")

	r.step("start PostgreSQL again on the same data", "Database unreachable or slow, step 3: rebooting, failover, maintenance: "+
		"wait; both services reconnect by themselves, without a restart")
	if err := r.deps.Postgres.Restart(ctx); err != nil {
		return err
	}
	if err := r.allSent(ctx, ids, 60*time.Second); err != nil {
		return err
	}
	r.say("VERIFY   all %d gifts accepted before the outage are SENT: none lost", len(ids))
	if err := r.healthy(ctx, 30*time.Second, stuck...); err != nil {
		return err
	}
	for _, s := range append(r.workers, r.api) {
		select {
		case <-s.Done():
			return fmt.Errorf("%s exited during the drill: %w", s.Name, s.Err())
		default:
		}
	}
	if r.api.PID() != apiPID || r.workers[0].PID() != workerPID {
		return fmt.Errorf("a service was restarted")
	}
	r.say("VERIFY   the API (pid %d) and the worker (pid %d) recovered without a restart; DLQ empty", apiPID, workerPID)
	return nil
}

// fastUnavailable checks that a client gets the 503 envelope with Retry-After, quickly, while the
// database is down.
func (r *rehearsal) fastUnavailable(ctx context.Context) error {
	start := time.Now()
	resp, err := r.client.CreateGiftWithResponse(ctx, nil, giftclient.CreateGiftRequest{Amount: 1})
	took := time.Since(start)
	if err != nil {
		return err
	}
	if resp.JSON503 == nil || resp.JSON503.Error.Code != "SERVICE_UNAVAILABLE" || resp.HTTPResponse.Header.Get("Retry-After") == "" {
		return fmt.Errorf("POST /gifts during the outage answered %d %s (Retry-After %q); want the 503 envelope",
			resp.StatusCode(), resp.Body, resp.HTTPResponse.Header.Get("Retry-After"))
	}
	r.say("SEES     POST /gifts -> %d in %s, Retry-After: %s, %s", resp.StatusCode(), took.Round(time.Millisecond),
		resp.HTTPResponse.Header.Get("Retry-After"), strings.TrimSpace(string(resp.Body)))
	return nil
}

// workerHealth polls the worker's /healthz until it says receiving is paused, and returns it.
func (r *rehearsal) workerHealth(ctx context.Context) (string, error) {
	var addr string
	for _, kv := range r.workerEnv() {
		if v, ok := strings.CutPrefix(kv, "WORKER_HEALTH_ADDR="); ok {
			addr = v
		}
	}
	var body string
	err := r.poll(ctx, "the worker paused for the database", 30*time.Second, func() (bool, string) {
		resp, err := http.Get("http://" + addr + "/healthz") //nolint:gosec,noctx // the drill's own worker on loopback
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = strings.TrimSpace(string(b))
		var h struct {
			Receiving bool `json:"receiving"`
		}
		return resp.StatusCode == http.StatusOK && json.Unmarshal(b, &h) == nil && !h.Receiving, body
	})
	return body, err
}

var pausedSince = regexp.MustCompile(`\(since ([0-9TZ:-]+)\)`)

var uuidPattern = regexp.MustCompile(`"gift_id":"([0-9a-f-]{36})"`)

// dlqPath: a forced-failure send ends FAILED in the DLQ, visible to `giftctl dlq list` at once;
// `giftctl retry` takes it to SENT and removes its DLQ message; a retry of a SENT gift is refused.
func dlqPath(ctx context.Context, r *rehearsal) error {
	// Retries a second apart (SQS counts visibility in whole seconds): FAILED in about 5 s.
	if _, err := r.startWorker("worker", "WORKER_RETRY_BASE_DELAY=250ms", "WORKER_DLQ_RECONCILE_INTERVAL=2s"); err != nil {
		return err
	}
	if err := r.healthy(ctx, 30*time.Second); err != nil {
		return err
	}
	r.step("a rehearsal send that fails every attempt (X-Force-Failure: true)", "Worker failures and the DLQ: rehearsals")
	out, code := r.giftctl(ctx, "gift", "create", "--amount", "500")
	m := uuidPattern.FindStringSubmatch(out)
	if code != 0 || m == nil {
		return fmt.Errorf("gift create: exit %d", code)
	}
	id := uuid.MustParse(m[1])
	if _, code := r.giftctl(ctx, "gift", "send", id.String(), "--key", "drill-dlq-1", "--force-failure"); code != 0 {
		return fmt.Errorf("gift send: exit %d", code)
	}
	if _, code := r.giftctl(ctx, "gift", "wait", id.String(), "--for", "FAILED", "--timeout", "90s"); code != 0 {
		return fmt.Errorf("gift wait --for FAILED: exit %d", code)
	}
	err := r.poll(ctx, "the message listed in the DLQ", 30*time.Second, func() (bool, string) {
		out, _ := r.giftctlQuiet(ctx, "dlq", "list", "--json")
		return strings.Contains(out, id.String()), out
	})
	if err != nil {
		return err
	}
	r.say("SEES     \"Worker failure logs spiking\" (SEND_FAILED_FINAL); the DLQ holds the message:")
	r.giftctl(ctx, "dlq", "list")
	r.giftctl(ctx, "status")

	r.step("retry the gift once the cause is fixed (here: the rehearsal flag, which a retry clears)",
		"Worker failures and the DLQ, step 3: giftctl retry GIFT_ID --reason TEXT")
	if _, code := r.giftctl(ctx, "retry", id.String(), "--reason", "drill: forced failure rehearsed", "--yes", "--actor", "drill"); code != 0 {
		return fmt.Errorf("retry: exit %d", code)
	}
	if _, code := r.giftctl(ctx, "gift", "wait", id.String(), "--timeout", "60s"); code != 0 {
		return fmt.Errorf("gift wait after the retry: exit %d", code)
	}
	r.say("VERIFY   the retried gift is SENT; its history:")
	r.giftctl(ctx, "gift", "get", id.String(), "--history")
	if _, code := r.giftctl(ctx, "retry", id.String(), "--reason", "again?", "--yes"); code != 1 {
		return fmt.Errorf("a retry of a SENT gift exited %d, want 1 (refused)", code)
	}
	r.say("VERIFY   a retry of the SENT gift is refused (exit 1)")
	if err := r.healthy(ctx, 30*time.Second); err != nil {
		return err
	}
	if s, _ := r.status(ctx); intOf(s.DLQDepth) != 0 {
		return fmt.Errorf("DLQ holds %d message(s) after the retry", intOf(s.DLQDepth))
	}
	r.say("VERIFY   the DLQ no longer holds its message")
	return nil
}

// workerEnv is the environment of the first worker (its health address).
func (r *rehearsal) workerEnv() []string { return r.workers[0].Env() }
