package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

// plan is what one schedule will do to its own gift, drawn from the seed before it starts.
type plan struct {
	start      time.Duration // after the wave starts
	force      bool          // X-Force-Failure: true on the send
	replay     bool          // the client sends again with the same key
	otherKey   bool          // the client sends again with another key
	dup        bool          // a copy of the message goes straight onto the main queue
	dupAfter   time.Duration // how long after the send
	retry      bool          // an operator retries the gift once it is FAILED
	stale      bool          // after the retry, a message of the earlier series goes back on the queue
	staleAfter time.Duration
	retryAgain bool // a second operator retry if the gift is FAILED again
}

func drawPlan(r *rand.Rand, spread time.Duration) plan {
	p := plan{start: time.Duration(r.Int64N(int64(spread)))}
	p.force = r.Float64() < 0.25
	p.replay = r.Float64() < 0.3
	p.otherKey = r.Float64() < 0.15
	p.retry = p.force && r.Float64() < 0.4
	// A copy of a forced message that an operator then retries is the stale message of issue 14's
	// first defect: it keeps going round while the new series starts.
	p.dup = r.Float64() < map[bool]float64{false: 0.3, true: 0.7}[p.retry]
	p.dupAfter = time.Duration(r.Int64N(int64(2500 * time.Millisecond)))
	if p.retry {
		// 1-5 s behind the original: at its fourth or fifth receive around the time the operator's
		// retry lands (how long that takes depends on the operator's queue).
		p.dupAfter = time.Second + time.Duration(r.Int64N(int64(4*time.Second)))
	}
	p.stale = p.retry && r.Float64() < 0.5
	p.staleAfter = time.Duration(r.Int64N(int64(time.Second)))
	p.retryAgain = p.retry && r.Float64() < 0.3
	return p
}

func (p plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "start +%s, send force=%v", p.start.Round(time.Millisecond), p.force)
	if p.replay {
		b.WriteString(", replay same key")
	}
	if p.otherKey {
		b.WriteString(", send with another key")
	}
	if p.dup {
		fmt.Fprintf(&b, ", duplicate publish +%s", p.dupAfter.Round(time.Millisecond))
	}
	if p.retry {
		b.WriteString(", operator retry once FAILED")
	}
	if p.stale {
		fmt.Fprintf(&b, ", stale message of the earlier series +%s after the retry", p.staleAfter.Round(time.Millisecond))
	}
	if p.retryAgain {
		b.WriteString(", retry again if FAILED again")
	}
	return b.String()
}

// schedule is one schedule's run: its plan, its gift, and what happened, with times.
type schedule struct {
	index int
	plan  plan
	s     *stack

	mu       sync.Mutex
	giftID   string
	accepted bool
	injected map[string]int
	log      []string
}

func (sc *schedule) logf(format string, args ...any) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.log = append(sc.log, time.Now().UTC().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
}

// run performs the plan. Problems of the test's own making (the API never answering) are logged
// and end the schedule; the audit then finds what state the gift is in.
func (sc *schedule) run(ctx context.Context, waveStart time.Time) {
	if !pause(ctx, time.Until(waveStart.Add(sc.plan.start))) {
		return
	}
	p := sc.plan
	id, err := sc.create(ctx)
	if err != nil {
		sc.logf("create: %v", err)
		return
	}
	sc.mu.Lock()
	sc.giftID = id
	sc.mu.Unlock()
	key := uuid.NewString()
	sent := time.Now()
	if code := sc.send(ctx, id, key, p.force, "send"); code != http.StatusAccepted && code != http.StatusOK {
		return
	}
	var wg sync.WaitGroup
	if p.dup {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if pause(ctx, time.Until(sent.Add(p.dupAfter))) {
				sc.inject(ctx, id, 0, "duplicate publish")
			}
		}()
	}
	if p.replay {
		sc.send(ctx, id, key, p.force, "replay (same key)")
	}
	if p.otherKey {
		sc.send(ctx, id, uuid.NewString(), false, "send with another key")
	}
	if p.retry {
		for round := 1; round <= 2; round++ {
			if round == 2 && !p.retryAgain {
				break
			}
			status := sc.waitFinal(ctx, id)
			if status != "FAILED" {
				sc.logf("retry %d not needed: gift is %s", round, status)
				break
			}
			series, ok := sc.retry(ctx, id)
			if !ok {
				break
			}
			if round == 1 && p.stale && pause(ctx, p.staleAfter) {
				sc.inject(ctx, id, series-1, "stale message")
			}
		}
	}
	wg.Wait()
}

func (sc *schedule) create(ctx context.Context) (string, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		code, body, err := sc.s.http(ctx, http.MethodPost, "/gifts", `{"amount": 3000, "message": "lifecycle"}`, nil)
		if err == nil && code == http.StatusCreated {
			var g struct {
				GiftID string `json:"gift_id"`
			}
			if err := json.Unmarshal(body, &g); err != nil {
				return "", fmt.Errorf("decode created gift: %w", err)
			}
			sc.logf("created gift %s", g.GiftID)
			return g.GiftID, nil
		}
		sc.logf("create answered %d %v: the client tries again", code, err)
		if time.Now().After(deadline) || !pause(ctx, 200*time.Millisecond) {
			return "", fmt.Errorf("no gift created within a minute (last: %d %w)", code, err)
		}
	}
}

// send asks the API to send the gift and, like a client, repeats the request with the same key
// while it gets no answer or a 503. It returns the last status.
func (sc *schedule) send(ctx context.Context, id, key string, force bool, what string) int {
	headers := map[string]string{"Idempotency-Key": key}
	if force {
		headers["X-Force-Failure"] = "true"
	}
	deadline := time.Now().Add(time.Minute)
	for {
		code, body, err := sc.s.http(ctx, http.MethodPost, "/gifts/"+id+"/send", "", headers)
		if err == nil && code != http.StatusServiceUnavailable {
			sc.logf("%s key=%s force=%v: %d %s", what, key, force, code, strings.TrimSpace(string(body)))
			if code == http.StatusAccepted || code == http.StatusOK {
				sc.mu.Lock()
				sc.accepted = true
				sc.mu.Unlock()
			}
			return code
		}
		sc.logf("%s: %d %v: the client tries again with the same key", what, code, err)
		if time.Now().After(deadline) || !pause(ctx, 200*time.Millisecond) {
			return code
		}
	}
}

// inject puts a message of the gift's send request with the given series straight onto the main
// queue: a copy of the current message (duplicate publish) or one of an earlier series (stale).
func (sc *schedule) inject(ctx context.Context, id string, series int, what string) {
	var requestID string
	var force bool
	var current int
	err := sc.s.db.QueryRow(ctx, `SELECT request_id, force_failure, retries FROM send_requests WHERE gift_id = $1
		ORDER BY created_at DESC LIMIT 1`, id).Scan(&requestID, &force, &current)
	if err != nil {
		sc.logf("%s: read send request: %v", what, err)
		return
	}
	if series < current {
		force = sc.plan.force // the earlier series' messages carried the client's flag
	}
	body, err := queue.Message{GiftID: uuid.MustParse(id), RequestID: requestID, ForceFailure: force, Retry: series,
		AcceptedAt: time.Now().UTC()}.Marshal()
	if err != nil {
		sc.logf("%s: %v", what, err)
		return
	}
	msgID, err := sc.s.sendRaw(ctx, string(body))
	if err != nil {
		sc.logf("%s: %v", what, err)
		return
	}
	sc.mu.Lock()
	if sc.injected == nil {
		sc.injected = map[string]int{}
	}
	sc.injected[msgID] = series
	sc.mu.Unlock()
	sc.logf("%s: message %s (series %d, force_failure=%v, current series %d)", what, msgID, series, force, current)
}

// waitFinal polls the gift until it is SENT or FAILED (two minutes at most) and returns its status.
func (sc *schedule) waitFinal(ctx context.Context, id string) string {
	deadline := time.Now().Add(2 * time.Minute)
	var status string
	for {
		err := sc.s.db.QueryRow(ctx, `SELECT status FROM gifts WHERE id = $1`, id).Scan(&status)
		if err == nil && (status == "SENT" || status == "FAILED") {
			return status
		}
		if time.Now().After(deadline) || !pause(ctx, 100*time.Millisecond) {
			sc.logf("gift still %s after two minutes", status)
			return status
		}
	}
}

// retry runs `giftctl retry --yes` and returns the new series.
func (sc *schedule) retry(ctx context.Context, id string) (int, bool) {
	sc.s.opMu.Lock()
	began := time.Now()
	out, err := sc.s.giftctl(ctx, "retry", id, "--yes", "--reason", "lifecycle test: operator retry", "--actor", "lifecycle")
	sc.s.opMu.Unlock()
	sc.logf("giftctl retry (%s): %v: %s", time.Since(began).Round(time.Millisecond), err, oneLine(out))
	if err != nil {
		return 0, false
	}
	var series int
	if err := sc.s.db.QueryRow(ctx, `SELECT retries FROM send_requests WHERE gift_id = $1 ORDER BY created_at DESC LIMIT 1`, id).Scan(&series); err != nil {
		sc.logf("read series: %v", err)
		return 0, false
	}
	return series, true
}

// http sends one request to the API.
func (s *stack) http(ctx context.Context, method, path, body string, headers map[string]string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.apiAddr+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
