package lifecycle

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/devkit/devstack"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, testenv.Needs{Postgres: true, SQS: true}, &env) }

// Defaults of the run's knobs (LIFECYCLE_SCHEDULES, LIFECYCLE_SEED, LIFECYCLE_WAVE).
const (
	defaultSchedules = 200
	defaultSeed      = 1
	defaultWave      = 200
	startSpread      = 20 * time.Second // schedules of a wave start within this, while the faults run
	settleLimit      = 3 * time.Minute
)

// TestLifecycle runs seeded, randomized schedules against the real binaries and checks the
// invariants of the package doc after each wave.
func TestLifecycle(t *testing.T) {
	total := envInt(t, "LIFECYCLE_SCHEDULES", defaultSchedules)
	seed := uint64(envInt(t, "LIFECYCLE_SEED", defaultSeed))
	waveSize := envInt(t, "LIFECYCLE_WAVE", defaultWave)
	s := startStack(t)
	t.Logf("lifecycle: seed %d, %d schedules in waves of %d (LIFECYCLE_SEED, LIFECYCLE_SCHEDULES, LIFECYCLE_WAVE); logs in %s",
		seed, total, waveSize, s.dir)
	var violations int
	for first := 0; first < total; first += waveSize {
		n := min(waveSize, total-first)
		violations += runWave(t, s, seed, first/waveSize, first, n)
		if violations > 0 {
			break
		}
	}
	if violations > 0 {
		t.Errorf("lifecycle: %d violation(s); reproduce with LIFECYCLE_SEED=%d LIFECYCLE_SCHEDULES=%d LIFECYCLE_WAVE=%d (service logs: %s)",
			violations, seed, total, waveSize, s.dir)
	}
}

// runWave runs schedules first..first+n-1 at once with the wave's global faults, waits for the
// system to settle, audits their gifts and returns the number of violations.
func runWave(t *testing.T, s *stack, seed uint64, wave, first, n int) int {
	ctx := context.Background()
	scheds := make([]*schedule, n)
	for i := range scheds {
		r := rand.New(rand.NewPCG(seed, uint64(first+i)))
		scheds[i] = &schedule{index: first + i, plan: drawPlan(r, startSpread), s: s}
	}
	faults := drawFaults(rand.New(rand.NewPCG(seed, 1<<62+uint64(wave))))
	fr := &faultRun{redriven: map[string]int{}}
	start := time.Now()
	var wg sync.WaitGroup
	for _, sc := range scheds {
		wg.Add(1)
		go func() { defer wg.Done(); sc.run(ctx, start) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); s.inject(ctx, start, faults, fr) }()
	wg.Wait()
	ran := time.Since(start)

	gifts := map[string]*schedule{}
	for _, sc := range scheds {
		if sc.giftID != "" {
			gifts[sc.giftID] = sc
		}
	}
	settled, state := s.waitSettled(ctx, gifts)
	settling := time.Since(start) - ran
	audit, err := s.audit(ctx, gifts, fr)
	if err != nil {
		t.Fatalf("wave %d: audit: %v", wave, err)
	}
	var vs []Violation
	for _, g := range audit {
		vs = append(vs, Check(g, Rules{MaxAttempts: devstack.MaxReceiveCount, Failures: fr.failures})...)
	}
	sum := summarize(audit)
	t.Logf("wave %d: schedules %d..%d, %s, %d faults; schedules done in %s, settled=%v (%s) %s later, audited in %s; %d violation(s)",
		wave, first, first+n-1, sum, len(faults), ran.Round(time.Second), settled, state, settling.Round(time.Second),
		(time.Since(start) - ran - settling).Round(time.Second), len(vs))
	for _, e := range fr.errs {
		t.Errorf("wave %d: a fault could not be injected or undone: %s", wave, e)
	}
	if len(vs) == 0 {
		return 0
	}
	report(t, seed, wave, faults, fr, scheds, audit, vs)
	return len(vs)
}

// waitSettled polls until every accepted send of the wave is SENT or FAILED, the outbox is empty
// and the main queue holds nothing, or until settleLimit.
func (s *stack) waitSettled(ctx context.Context, gifts map[string]*schedule) (bool, string) {
	ids := make([]string, 0, len(gifts))
	for id := range gifts {
		ids = append(ids, id)
	}
	deadline := time.Now().Add(settleLimit)
	var state string
	for {
		var open, outbox int
		err := s.db.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM gifts g WHERE g.id = ANY($1::uuid[]) AND g.status NOT IN ('SENT', 'FAILED')
			   AND EXISTS (SELECT 1 FROM send_requests r WHERE r.gift_id = g.id)),
			(SELECT count(*) FROM outbox_messages)`, ids).Scan(&open, &outbox)
		depth, qerr := sqs.QueueDepth(ctx, s.sqs, s.queues.URL)
		switch {
		case err != nil:
			state = "database: " + err.Error()
		case qerr != nil:
			state = qerr.Error()
		default:
			state = fmt.Sprintf("%d accepted gifts not final, %d outbox rows, %d messages on the send queue", open, outbox, depth.Total())
			if open == 0 && outbox == 0 && depth.Total() == 0 {
				return true, state
			}
		}
		if time.Now().After(deadline) || !pause(ctx, 200*time.Millisecond) {
			return false, state
		}
	}
}

// audit reads what the invariants need about the wave's gifts: their rows, history, the worker's
// lines about them and their messages in the DLQ (which it then deletes, so the DLQ stays small
// for the next wave).
func (s *stack) audit(ctx context.Context, gifts map[string]*schedule, fr *faultRun) (map[string]Gift, error) {
	ids := make([]string, 0, len(gifts))
	want := map[string]bool{}
	for id := range gifts {
		ids = append(ids, id)
		want[id] = true
	}
	var hasAttempts bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_name = 'send_requests' AND column_name = 'attempts')`).Scan(&hasAttempts); err != nil {
		return nil, fmt.Errorf("look for send_requests.attempts: %w", err)
	}
	attempts := "NULL::int"
	if hasAttempts {
		attempts = "r.attempts"
	}
	rows, err := s.db.Query(ctx, `SELECT g.id::text, g.status, r.request_id IS NOT NULL, coalesce(r.retries, 0), `+attempts+`
		FROM gifts g LEFT JOIN LATERAL (SELECT * FROM send_requests WHERE gift_id = g.id ORDER BY created_at DESC LIMIT 1) r ON true
		WHERE g.id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("read gifts: %w", err)
	}
	out := map[string]Gift{}
	for rows.Next() {
		var g Gift
		var requested bool
		if err := rows.Scan(&g.ID, &g.Status, &requested, &g.Series, &g.Attempts); err != nil {
			return nil, fmt.Errorf("read gifts: %w", err)
		}
		sc := gifts[g.ID]
		sc.mu.Lock()
		g.Schedule, g.Accepted, g.Injected = sc.index, sc.accepted || requested, sc.injected
		sc.mu.Unlock()
		fr.mu.Lock()
		g.Redriven = fr.redriven[g.ID]
		fr.mu.Unlock()
		out[g.ID] = g
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read gifts: %w", err)
	}
	rows, err = s.db.Query(ctx, `SELECT gift_id::text, coalesce(from_status, ''), to_status, actor, coalesce(reason, ''), at
		FROM gift_events WHERE gift_id = ANY($1::uuid[]) ORDER BY gift_id, id`, ids)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	for rows.Next() {
		var id string
		var e Event
		if err := rows.Scan(&id, &e.From, &e.To, &e.Actor, &e.Reason, &e.At); err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		g := out[id]
		g.Events = append(g.Events, e)
		out[id] = g
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	lines, err := s.workerLines(want)
	if err != nil {
		return nil, err
	}
	for id, ls := range lines {
		g := out[id]
		g.Lines = ls
		out[id] = g
	}
	var derr error
	err = s.readDLQ(ctx, func(msgs []queue.Received, dlq *sqs.Consumer) {
		for _, m := range msgs {
			msg, perr := queue.Parse([]byte(m.Body))
			if perr != nil || !want[msg.GiftID.String()] {
				continue
			}
			g := out[msg.GiftID.String()]
			g.DLQ = append(g.DLQ, msg.Retry)
			out[g.ID] = g
			if err := dlq.Delete(ctx, m.ReceiptHandle); err != nil && derr == nil {
				derr = err
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read the DLQ: %w", err)
	}
	if derr != nil {
		return nil, fmt.Errorf("clear the wave's DLQ messages: %w", derr)
	}
	return out, nil
}

func summarize(audit map[string]Gift) string {
	by := map[string]int{}
	retried, injected := 0, 0
	for _, g := range audit {
		by[g.Status]++
		retried += len(retryTimes(g.Events))
		injected += len(g.Injected)
	}
	return fmt.Sprintf("%d gifts (SENT %d, FAILED %d, other %d), %d operator retries, %d injected messages",
		len(audit), by["SENT"], by["FAILED"], len(audit)-by["SENT"]-by["FAILED"], retried, injected)
}

// report prints, for each schedule with a violation, what reproduces it and what happened.
func report(t *testing.T, seed uint64, wave int, faults []fault, fr *faultRun, scheds []*schedule, audit map[string]Gift, vs []Violation) {
	t.Helper()
	bySched := map[int][]Violation{}
	for _, v := range vs {
		bySched[v.Schedule] = append(bySched[v.Schedule], v)
	}
	idx := make([]int, 0, len(bySched))
	for i := range bySched {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var b strings.Builder
	fmt.Fprintf(&b, "wave %d (LIFECYCLE_SEED=%d): global faults:\n", wave, seed)
	for _, f := range faults {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	for _, l := range fr.log {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	first := scheds[0].index
	for n, i := range idx {
		if n == 10 {
			fmt.Fprintf(&b, "... and %d more schedule(s) with violations\n", len(idx)-10)
			break
		}
		sc := scheds[i-first]
		fmt.Fprintf(&b, "\nschedule %d (seed %d): %s\n", i, seed, sc.plan)
		for _, v := range bySched[i] {
			fmt.Fprintf(&b, "  VIOLATION %s: %s\n", v.Invariant, v.Detail)
		}
		for _, l := range sc.log {
			fmt.Fprintf(&b, "  %s\n", l)
		}
		g := audit[sc.giftID]
		attempts := "n/a"
		if g.Attempts != nil {
			attempts = strconv.Itoa(*g.Attempts)
		}
		fmt.Fprintf(&b, "  gift %s: %s, series %d, attempts %s, DLQ series %v, redriven %d\n", g.ID, g.Status, g.Series, attempts, g.DLQ, g.Redriven)
		for _, e := range g.Events {
			fmt.Fprintf(&b, "  history %s %s -> %s by %s: %s\n", e.At.UTC().Format("15:04:05.000"), orNone(e.From), e.To, e.Actor, e.Reason)
		}
		for _, l := range g.Lines {
			series := ""
			if l.Series != nil {
				series = fmt.Sprintf(" series=%d", *l.Series)
			}
			fmt.Fprintf(&b, "  worker  %s msg=%s attempt=%d%s %q\n", l.At.UTC().Format("15:04:05.000"), l.MessageID, l.Attempt, series, l.Msg)
		}
	}
	t.Error(b.String())
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}
