package giftctl

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// checkTimeout bounds each of status's checks; they run at once, so the screen is ready within it.
const checkTimeout = 4 * time.Second

// Status is `giftctl status --json`. A figure that could not be read is null and its reason is in
// Unknown; Problems lists what makes the system degraded.
type Status struct {
	Verdict  string   `json:"verdict"` // healthy, degraded or unknown
	ExitCode int      `json:"exit_code"`
	Problems []string `json:"problems"`
	Unknown  []string `json:"unknown"`

	APIReady  *bool  `json:"api_ready"`
	APIReason string `json:"api_reason,omitempty"`

	GiftsByStatus          map[gift.Status]int64 `json:"gifts_by_status"`
	QueuedOldestAgeSeconds *float64              `json:"queued_oldest_age_seconds"`
	StuckQueued            *int64                `json:"stuck_queued"`
	StuckAfterSeconds      float64               `json:"stuck_after_seconds"`

	OutboxPending          *int64   `json:"outbox_pending"`
	OutboxOldestAgeSeconds *float64 `json:"outbox_oldest_age_seconds"`
	OutboxAfterSeconds     float64  `json:"outbox_after_seconds"`

	QueueVisible  *int `json:"queue_visible"`
	QueueInFlight *int `json:"queue_in_flight"`
	QueueDelayed  *int `json:"queue_delayed"`
	DLQDepth      *int `json:"dlq_depth"`
}

func (c *CLI) status(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	stuckAfter := fs.Duration("stuck-after", 5*time.Minute, "a QUEUED gift older than this is stuck (the SQS backlog monitor's 300 s)")
	outboxAfter := fs.Duration("outbox-after", 5*time.Minute, "an outbox message older than this is late (the outbox monitor's 300 s)")
	if _, err := parse(fs, args, 0); err != nil {
		return c.usageError(err)
	}
	s := Check(ctx, d, *stuckAfter, *outboxAfter)
	if *asJSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s)
	} else {
		s.print(c)
	}
	return s.ExitCode
}

// Check reads every figure of the status screen at once and judges them: degraded when the API
// is not ready, a QUEUED gift has waited longer than stuckAfter, the outbox's oldest message is
// older than outboxAfter, or the DLQ holds a message; unknown when nothing is wrong among what
// could be read but something could not be read. Known trouble wins over missing figures.
func Check(ctx context.Context, d *deps, stuckAfter, outboxAfter time.Duration) Status {
	s := Status{GiftsByStatus: map[gift.Status]int64{}, StuckAfterSeconds: stuckAfter.Seconds(), OutboxAfterSeconds: outboxAfter.Seconds(),
		Problems: []string{}, Unknown: []string{}}
	var mu sync.Mutex
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		s.Problems = append(s.Problems, fmt.Sprintf(format, args...))
	}
	unknown := func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		s.Unknown = append(s.Unknown, what+": "+err.Error())
	}
	checks := []func(ctx context.Context){
		func(ctx context.Context) {
			ready, reason, err := readiness(ctx, d)
			if err != nil {
				unknown("API", err)
				return
			}
			s.APIReady, s.APIReason = &ready, reason
			if !ready {
				problem("API not ready: %s", reason)
			}
		},
		func(ctx context.Context) {
			o, err := d.store.Overview(ctx, stuckAfter)
			if err != nil {
				unknown("gifts", err)
				return
			}
			age := o.OldestQueued.Seconds()
			s.GiftsByStatus, s.QueuedOldestAgeSeconds, s.StuckQueued = o.ByStatus, &age, &o.Stuck
			if o.Stuck > 0 {
				problem("%d QUEUED gift(s) waiting longer than %s (oldest %s)", o.Stuck, stuckAfter, round(o.OldestQueued))
			}
		},
		func(ctx context.Context) {
			b, err := d.store.OutboxBacklog(ctx)
			if err != nil {
				unknown("outbox", err)
				return
			}
			age := b.OldestAge.Seconds()
			s.OutboxPending, s.OutboxOldestAgeSeconds = &b.Pending, &age
			if b.OldestAge > outboxAfter {
				problem("outbox: %d send(s) not on SQS, oldest %s", b.Pending, round(b.OldestAge))
			}
		},
		func(ctx context.Context) {
			url, err := d.queueURL(ctx)
			if err != nil {
				unknown("queue", err)
				return
			}
			q, err := d.queues.Depth(ctx, url)
			if err != nil {
				unknown("queue", err)
				return
			}
			s.QueueVisible, s.QueueInFlight, s.QueueDelayed = &q.Visible, &q.InFlight, &q.Delayed
		},
		func(ctx context.Context) {
			dlq, err := d.dlq(ctx)
			if err != nil {
				unknown("DLQ", err)
				return
			}
			q, err := d.queues.Depth(ctx, dlq.URL())
			if err != nil {
				unknown("DLQ", err)
				return
			}
			depth := q.Total()
			s.DLQDepth = &depth
			if depth > 0 {
				problem("DLQ holds %d message(s): giftctl dlq list", depth)
			}
		},
	}
	var wg sync.WaitGroup
	for _, check := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			check(ctx)
		})
	}
	wg.Wait()
	sort.Strings(s.Problems)
	sort.Strings(s.Unknown)
	switch {
	case len(s.Problems) > 0:
		s.Verdict, s.ExitCode = "degraded", ExitRefused
	case len(s.Unknown) > 0:
		s.Verdict, s.ExitCode = "unknown", ExitUsage
	default:
		s.Verdict, s.ExitCode = "healthy", ExitOK
	}
	return s
}

// readiness asks the API's /readyz.
func readiness(ctx context.Context, d *deps) (ready bool, reason string, err error) {
	resp, err := d.api.GetReadyzWithResponse(ctx)
	if err != nil {
		return false, "", fmt.Errorf("GET /readyz: %w", err)
	}
	var body struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(resp.Body, &body) != nil {
		return false, "", fmt.Errorf("GET /readyz answered %d: %w", resp.StatusCode(), errUnexpected)
	}
	switch resp.StatusCode() {
	case http.StatusOK:
		return true, "", nil
	case http.StatusServiceUnavailable:
		return false, body.Reason, nil
	}
	return false, "", fmt.Errorf("GET /readyz answered %d: %w", resp.StatusCode(), errUnexpected)
}

// print writes the one-screen form: one line per component, then the verdict.
func (s Status) print(c *CLI) {
	na := "?"
	line := func(name, text, judgement string) {
		fmt.Fprintf(c.Stdout, "%-8s %-52s %s\n", name, text, judgement)
	}
	ok := func(bad bool) string {
		if bad {
			return "DEGRADED"
		}
		return "ok"
	}
	switch {
	case s.APIReady == nil:
		line("api", na, "UNKNOWN")
	case *s.APIReady:
		line("api", "ready", "ok")
	default:
		line("api", "not ready: "+s.APIReason, "DEGRADED")
	}
	if s.StuckQueued == nil {
		line("gifts", na, "UNKNOWN")
		line("queued", na, "UNKNOWN")
	} else {
		var parts []string
		for _, st := range []gift.Status{gift.StatusCreated, gift.StatusQueued, gift.StatusSent, gift.StatusFailed} {
			parts = append(parts, fmt.Sprintf("%s %d", st, s.GiftsByStatus[st]))
		}
		line("gifts", strings.Join(parts, "  "), "")
		line("queued", fmt.Sprintf("%d, oldest %s; stuck (> %s) %d", s.GiftsByStatus[gift.StatusQueued],
			round(seconds(*s.QueuedOldestAgeSeconds)), round(seconds(s.StuckAfterSeconds)), *s.StuckQueued), ok(*s.StuckQueued > 0))
	}
	if s.OutboxPending == nil {
		line("outbox", na, "UNKNOWN")
	} else {
		line("outbox", fmt.Sprintf("%d pending, oldest %s", *s.OutboxPending, round(seconds(*s.OutboxOldestAgeSeconds))),
			ok(*s.OutboxOldestAgeSeconds > s.OutboxAfterSeconds))
	}
	if s.QueueVisible == nil {
		line("queue", na, "UNKNOWN")
	} else {
		line("queue", fmt.Sprintf("%d visible, %d in flight, %d delayed", *s.QueueVisible, *s.QueueInFlight, *s.QueueDelayed), "")
	}
	if s.DLQDepth == nil {
		line("dlq", na, "UNKNOWN")
	} else {
		line("dlq", fmt.Sprintf("%d message(s)", *s.DLQDepth), ok(*s.DLQDepth > 0))
	}
	fmt.Fprintf(c.Stdout, "verdict  %s (exit %d)\n", strings.ToUpper(s.Verdict), s.ExitCode)
	for _, p := range s.Problems {
		fmt.Fprintln(c.Stdout, "  problem:", p)
	}
	for _, u := range s.Unknown {
		fmt.Fprintln(c.Stdout, "  cannot tell:", u)
	}
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
