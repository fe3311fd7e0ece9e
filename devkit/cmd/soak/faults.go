package main

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/testkit/faultproxy"
)

// fault is one injected failure and how long it lasted.
type fault struct {
	name       string
	database   bool // PostgreSQL down: 5xx (503) are allowed inside its window
	start, end time.Time
	err        error
}

// outageGrace is how long after PostgreSQL is back a 5xx still counts as part of its outage:
// pooled connections broken by the restart fail once before the pool replaces them.
const outageGrace = 10 * time.Second

// faultPlan is the order of the faults; they are spread evenly over the load's duration and the
// plan repeats when the run is long enough.
func (s *stack) faultPlan() []struct {
	name     string
	database bool
	inject   func(ctx context.Context) error
} {
	const down = 5 * time.Second      // PostgreSQL outages
	const sqsFault = 15 * time.Second // SQS faults
	hold := func(ctx context.Context, d time.Duration) {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	pgOutage := func(stop func()) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			stop()
			hold(ctx, down)
			return s.pg.Restart(context.WithoutCancel(ctx))
		}
	}
	sqs := func(apply func()) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			apply()
			hold(ctx, sqsFault)
			s.sqsProxy.RemoveAll()
			return s.sqsProxy.Enable()
		}
	}
	restart := func(svc *service, sig syscall.Signal) func(ctx context.Context) error {
		return func(ctx context.Context) error { return svc.restart(context.WithoutCancel(ctx), sig) }
	}
	type step = struct {
		name     string
		database bool
		inject   func(ctx context.Context) error
	}
	plan := []step{
		{"SQS slow: 700 ms +- 300 ms on every answer for 15 s", false, sqs(func() {
			s.sqsProxy.AddLatency(faultproxy.Downstream, 700*time.Millisecond, 300*time.Millisecond)
		})},
		{"PostgreSQL fast stop, down 5 s, restart", true, pgOutage(s.pg.Halt)},
		{"worker SIGKILL, restart", false, restart(s.worker, syscall.SIGKILL)},
		{"api-1 SIGKILL, restart", false, restart(s.apis[0], syscall.SIGKILL)},
		{"SQS unreachable: connections refused for 15 s", false, sqs(s.sqsProxy.Disable)},
		{"PostgreSQL crash (immediate shutdown), down 5 s, restart", true, pgOutage(s.pg.Kill)},
		{"worker SIGTERM, restart", false, restart(s.worker, syscall.SIGTERM)},
		{"api-2 SIGTERM, restart", false, restart(s.apis[1], syscall.SIGTERM)},
		{"SQS connections reset (30 % of them) for 15 s", false, sqs(func() {
			s.sqsProxy.ResetPeer(faultproxy.Upstream, 0, faultproxy.Toxicity(0.3))
		})},
		{"api-1 SIGTERM, restart", false, restart(s.apis[0], syscall.SIGTERM)},
		{"api-2 SIGKILL, restart", false, restart(s.apis[1], syscall.SIGKILL)},
	}
	if s.restartEmulator {
		plan = append(plan, step{"SQS emulator restart: every queued message lost", false, func(ctx context.Context) error {
			return s.restartSQSEmulator(context.WithoutCancel(ctx))
		}})
	}
	return plan
}

// injectFaults runs the plan over duration, one fault at a time, each starting at its own slot
// (fault i at (i+1) * duration / (n+1)); the plan repeats when the run is long enough for more
// than one round of 30 s slots. It returns what it did.
func (s *stack) injectFaults(ctx context.Context, duration time.Duration, logf func(string, ...any)) []fault {
	plan := s.faultPlan()
	n := max(len(plan), int(duration/(30*time.Second))-1)
	slot := duration / time.Duration(n+1)
	begin := time.Now()
	var done []fault
	for i := range n {
		select {
		case <-ctx.Done():
			return done
		case <-time.After(time.Until(begin.Add(time.Duration(i+1) * slot))):
		}
		step := plan[i%len(plan)]
		f := fault{name: step.name, database: step.database, start: time.Now()}
		f.err = step.inject(ctx)
		f.end = time.Now()
		logf("fault %2d  %-58s %5.1fs%s", len(done)+1, f.name, f.end.Sub(f.start).Seconds(), errSuffix(f.err))
		done = append(done, f)
	}
	return done
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprintf("  FAILED: %v", err)
}
