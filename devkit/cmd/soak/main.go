// Command soak proves the promise of the send path under load and failure (`make soak`): an
// accepted send ends SENT or FAILED exactly once, whatever breaks in between.
//
// It runs the real binaries on loopback: PostgreSQL, the SQS emulator behind an in-process
// Toxiproxy (testkit/faultproxy), two API processes behind a client-side round-robin, one worker
// (failure rate 20 %, its default). For -duration it drives gift flows at -rate per second, as two
// API clients in turn, each with its own key (creates, sends with a share forced to fail, repeated
// Idempotency-Keys, concurrent sends of one gift under different keys, reads by the owner and by
// the other client, which must get 404) while it injects faults one after another: PostgreSQL fast
// stop and crash with restart, SQS slow, refusing connections and resetting them, SIGKILL and
// SIGTERM of the worker and of each API with restart (with -restart-emulator also a restart of the
// emulator, which loses its messages, recovered by giftctl reconcile --apply after the load).
// Then it waits for the system to settle and audits from the database, the history and the
// queues, and checks ownership: every gift belongs to its creator in the database, and the other
// client's read of it is 404. A 401 or 429 anywhere is a violation. It prints throughput, latency percentiles and status counts, every violation, and last
// a line
//
//	soak audit: accepted=N sent=S failed=F dlq=D lost=L double_transitions=X faults=K
//
// and exits 1 on any violation.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/testkit/repo"
)

// maxReceiveCount is production's redrive setting (modules/sqs): five attempts, then the DLQ.
const maxReceiveCount = 5

func main() {
	cfg := loadConfig{}
	flag.DurationVar(&cfg.duration, "duration", 5*time.Minute, "how long to drive traffic and inject faults")
	flag.Float64Var(&cfg.rate, "rate", 2.5, "gift flows started per second (each: create, send, sometimes more)")
	flag.IntVar(&cfg.concurrency, "concurrency", 16, "flows in progress at most")
	flag.Uint64Var(&cfg.seed, "seed", 1, "seed of the traffic's random choices")
	flag.Float64Var(&cfg.forced, "forced", 0.05, "share of sends with X-Force-Failure: true")
	flag.Float64Var(&cfg.replayed, "replayed", 0.2, "share of accepted sends repeated with the same key")
	flag.Float64Var(&cfg.concurrent, "concurrent", 0.1, "share of gifts sent with 2-3 keys at once")
	flag.Float64Var(&cfg.read, "read", 0.3, "share of gifts read back")
	settle := flag.Duration("settle", 4*time.Minute, "longest wait for the system to settle after the load")
	restartEmulator := flag.Bool("restart-emulator", false,
		"also restart the SQS emulator during the load (its messages are lost), then recover with giftctl reconcile --apply")
	flag.Parse()
	if cfg.rate <= 0 || cfg.concurrency < 1 || cfg.duration <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -rate, -concurrency and -duration must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, cfg, *settle, *restartEmulator)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Printf("%s  %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, cfg loadConfig, settle time.Duration, restartEmulator bool) (bool, error) {
	root, err := repo.Root()
	if err != nil {
		return false, err
	}
	dir := filepath.Join(root, ".local", "soak", time.Now().UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return false, fmt.Errorf("create %s: %w", dir, err)
	}
	logf("soak: %s of load at %.1f flows/s (concurrency %d, seed %d); logs in %s", cfg.duration, cfg.rate, cfg.concurrency, cfg.seed, dir)
	s, err := startStack(ctx, dir, restartEmulator)
	defer s.stop()
	if err != nil {
		return false, err
	}
	backends := make([]string, 0, len(s.apis))
	for _, a := range s.apis {
		backends = append(backends, a.addr)
	}
	logf("stack up: PostgreSQL %s, SQS emulator %s behind proxy %s, APIs %s, worker", s.pg.URL, s.emu.Endpoint,
		s.sqsProxy.Addr(), strings.Join(backends, " "))

	l, err := newLoad(cfg, backends, s.keys())
	if err != nil {
		return false, err
	}
	start := time.Now()
	faultsDone := make(chan []fault, 1)
	faultCtx, stopFaults := context.WithTimeout(ctx, cfg.duration)
	go func() { faultsDone <- s.injectFaults(faultCtx, cfg.duration, logf) }()
	l.run(ctx)
	stopFaults()
	faults := <-faultsDone
	elapsed := time.Since(start)
	logf("load done after %s; waiting for the system to settle (at most %s)", elapsed.Round(time.Second), settle)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	var reconciled string
	if !s.emulatorRestarted.IsZero() {
		// Messages the restart lost leave their gifts QUEUED with nothing to deliver them: the
		// operator's answer is giftctl reconcile, once they have waited long enough to be sure.
		settledAlready, state := s.waitSettled(ctx, time.Minute)
		logf("before reconcile: settled=%v: %s", settledAlready, state)
		out, err := s.giftctl(ctx, "reconcile", "--apply", "--older-than", "30s", "--actor", "soak")
		if err != nil {
			return false, fmt.Errorf("%w: %s", err, out)
		}
		reconciled = lastLine(out)
		logf("giftctl reconcile --apply: %s", reconciled)
	}
	settled, state := s.waitSettled(ctx, settle)
	logf("settled=%v: %s", settled, state)

	report(l, elapsed)
	a, err := s.audit(ctx, l, faults)
	if err != nil {
		return false, err
	}
	if reconciled != "" {
		a.details = append(a.details, "after the emulator's restart, giftctl reconcile --apply: "+reconciled)
	}
	if !settled {
		a.violations = append(a.violations, "the system did not settle within "+settle.String()+": "+state)
	}
	details, violations, err := s.ownership(ctx, l)
	if err != nil {
		return false, err
	}
	a.details, a.violations = append(a.details, details...), append(a.violations, violations...)
	fmt.Println()
	for _, line := range a.details {
		fmt.Println(line)
	}
	for _, v := range a.violations {
		fmt.Println("VIOLATION:", v)
	}
	fmt.Printf("soak audit: accepted=%d sent=%d failed=%d dlq=%d lost=%d double_transitions=%s faults=%d\n",
		a.accepted, a.sent, a.failed, a.dlq, a.lost, a.doubleTransitions, len(faults))
	return len(a.violations) == 0, nil
}

// report prints throughput, latency percentiles and status counts.
func report(l *load, elapsed time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Println()
	total := 0
	for _, byStatus := range l.statuses {
		for status, n := range byStatus {
			if status != 0 {
				total += n
			}
		}
	}
	fmt.Printf("throughput: %d answered requests in %s = %.1f req/s; %d gifts created, %d sends accepted, %d ticks skipped (all flows busy)\n",
		total, elapsed.Round(time.Second), float64(total)/elapsed.Seconds(), l.created, len(l.accepted), l.missed.Load())
	fmt.Printf("%-7s %8s %8s %8s %8s  %s\n", "op", "answers", "p50 ms", "p95 ms", "p99 ms", "statuses (0 = no answer: connection refused or cut; other = a read by the client not owning the gift)")
	for _, op := range []string{"create", "send", "read", "other"} {
		lat := sortedCopy(l.latencies[op])
		var counts []string
		for _, st := range sortedKeys(l.statuses[op]) {
			counts = append(counts, fmt.Sprintf("%d:%d", st, l.statuses[op][st]))
		}
		fmt.Printf("%-7s %8d %8.1f %8.1f %8.1f  %s\n", op, len(lat), ms(percentile(lat, 0.50)), ms(percentile(lat, 0.95)),
			ms(percentile(lat, 0.99)), strings.Join(counts, " "))
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func sortedKeys(m map[int]int) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
