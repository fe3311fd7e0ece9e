package lifecycle

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/testkit/faultproxy"
)

// fault is one global event of a wave, drawn from the seed: it hits every schedule running then.
type fault struct {
	kind   string
	at     time.Duration // after the wave starts
	length time.Duration
}

const (
	faultKill       = "worker SIGKILL, then a new worker"
	faultTerm       = "worker SIGTERM, then a new worker"
	faultDB         = "database outage (both services)"
	faultDBTerm     = "database outage with a worker SIGTERM inside it"
	faultSQS        = "SQS outage (both services)"
	faultSQSAPI     = "SQS outage for the API only (the worker still consumes)"
	faultSlowSQS    = "slow SQS for the API (latency, no failure)"
	faultRedrive    = "operator: giftctl dlq redrive"
	faultReconcile  = "operator: giftctl reconcile --apply"
	faultsFirstGap  = time.Second
	faultsMinGap    = 2500 * time.Millisecond
	faultsExtraGap  = time.Second
	slowSQSLatency  = 1500 * time.Millisecond // longer than legacyRelayDelay, shorter than OUTBOX_PUBLISH_TIMEOUT
	reconcileMinAge = "20s"
)

// faultKinds are the global events of a wave; the SIGTERM inside a database outage comes twice, as
// it only shows when messages are in hand at that moment.
var faultKinds = []string{faultKill, faultTerm, faultDB, faultDBTerm, faultDBTerm, faultSQS, faultSQSAPI, faultSlowSQS, faultRedrive, faultReconcile}

// drawFaults lays every kind of global event once, in an order drawn from the seed, one after
// another with gaps, so that a failure window never comes near a latency window (invariant f
// tells them apart) and every wave has each kind.
func drawFaults(r *rand.Rand) []fault {
	var out []fault
	at := faultsFirstGap + time.Duration(r.Int64N(int64(faultsFirstGap)))
	for _, i := range r.Perm(len(faultKinds)) {
		f := fault{kind: faultKinds[i], at: at}
		switch f.kind {
		case faultDB, faultDBTerm, faultSQS:
			f.length = time.Second + time.Duration(r.Int64N(int64(1500*time.Millisecond)))
		case faultSQSAPI:
			f.length = 3*time.Second + time.Duration(r.Int64N(int64(2*time.Second)))
		case faultSlowSQS:
			f.length = 2*time.Second + time.Duration(r.Int64N(int64(1500*time.Millisecond)))
		case faultKill, faultTerm:
			f.length = time.Duration(r.Int64N(int64(500 * time.Millisecond)))
		}
		out = append(out, f)
		at += f.length + faultsMinGap + time.Duration(r.Int64N(int64(faultsExtraGap)))
	}
	return out
}

func (f fault) String() string {
	return fmt.Sprintf("+%s %s (%s)", f.at.Round(time.Millisecond), f.kind, f.length.Round(time.Millisecond))
}

// faultRun is what the faults of a wave did: the failure windows (invariant f), the gifts each
// redrive moved back, and a log.
type faultRun struct {
	mu       sync.Mutex
	failures []Window
	redriven map[string]int
	log      []string
	errs     []string
}

func (fr *faultRun) logf(format string, args ...any) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	fr.log = append(fr.log, time.Now().UTC().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
}

func (fr *faultRun) fail(format string, args ...any) {
	fr.logf(format, args...)
	fr.mu.Lock()
	defer fr.mu.Unlock()
	fr.errs = append(fr.errs, fmt.Sprintf(format, args...))
}

var movedBack = regexp.MustCompile(`(?m)^move back\s+([0-9a-f-]{36})`)

// inject runs the faults in order from waveStart.
func (s *stack) inject(ctx context.Context, waveStart time.Time, faults []fault, fr *faultRun) {
	for _, f := range faults {
		if !pause(ctx, time.Until(waveStart.Add(f.at))) {
			return
		}
		fr.logf("fault: %s for %s", f.kind, f.length.Round(time.Millisecond))
		start := time.Now()
		switch f.kind {
		case faultKill, faultTerm:
			sig := map[string]syscall.Signal{faultKill: syscall.SIGKILL, faultTerm: syscall.SIGTERM}[f.kind]
			if err := s.stopWorker(sig); err != nil {
				fr.fail("%s: %v", f.kind, err)
			}
			pause(ctx, f.length)
			if err := s.restartWorker(); err != nil {
				fr.fail("restart worker: %v", err)
			}
		case faultDB, faultDBTerm:
			s.pgAPI.Disable()
			s.pgWorker.Disable()
			if f.kind == faultDBTerm {
				pause(ctx, f.length/2)
				// Messages in hand are held through the outage; SIGTERM ends the hold.
				if err := s.stopWorker(syscall.SIGTERM); err != nil {
					fr.fail("%s: %v", f.kind, err)
				}
				if err := s.restartWorker(); err != nil {
					fr.fail("restart worker: %v", err)
				}
				pause(ctx, f.length-f.length/2)
			} else {
				pause(ctx, f.length)
			}
			s.enable(fr, s.pgAPI, s.pgWorker)
		case faultSQS:
			s.sqsAPI.Disable()
			s.sqsWork.Disable()
			pause(ctx, f.length)
			s.enable(fr, s.sqsAPI, s.sqsWork)
		case faultSQSAPI:
			// Retries and sends of this time wait in the outbox while the messages already on the
			// queue (stale ones among them) keep going round.
			s.sqsAPI.Disable()
			pause(ctx, f.length)
			s.enable(fr, s.sqsAPI)
		case faultSlowSQS:
			toxic := s.sqsAPI.AddLatency(faultproxy.Upstream, slowSQSLatency, 0)
			pause(ctx, f.length)
			toxic.Remove()
		case faultRedrive:
			args := []string{"dlq", "redrive"}
			if s.redriveYes {
				args = append(args, "--yes")
			}
			s.opMu.Lock()
			out, err := s.giftctl(ctx, args...)
			s.opMu.Unlock()
			fr.logf("giftctl %s: %v: %s", strings.Join(args, " "), err, lastLines(out))
			fr.mu.Lock()
			for _, m := range movedBack.FindAllStringSubmatch(out, -1) {
				fr.redriven[m[1]]++
			}
			fr.mu.Unlock()
		case faultReconcile:
			s.opMu.Lock()
			out, err := s.giftctl(ctx, "reconcile", "--apply", "--older-than", reconcileMinAge, "--actor", "lifecycle")
			s.opMu.Unlock()
			fr.logf("giftctl reconcile --apply: %v: %s", err, lastLines(out))
		}
		switch f.kind {
		case faultDB, faultDBTerm, faultSQS, faultSQSAPI:
			fr.mu.Lock()
			fr.failures = append(fr.failures, Window{Name: f.kind, Start: start, End: time.Now()})
			fr.mu.Unlock()
		}
	}
}

func (s *stack) enable(fr *faultRun, proxies ...*faultproxy.Proxy) {
	for _, p := range proxies {
		if err := p.Enable(); err != nil {
			fr.fail("%v", err)
		}
	}
}

func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ")
}
