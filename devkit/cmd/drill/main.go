// Command drill rehearses the runbook's failure scenarios on a laptop (`make drill-worker-down`,
// `make drill-backlog`, `make drill-db-down`, `make drill-dlq`). Each drill starts its own local
// stack (the same as `make run`, on free ports, so it runs beside anything else), causes the
// failure, prints what the operator sees at each step (`giftctl status`, the lines the scenario's
// Datadog monitor watches) and the runbook step it applies, verifies recovery, and ends with PASS
// or FAIL and exit code 0 or 1. Every wait is a poll with a deadline. The drill is an API client
// of its own ("drill", a key issued on its stack): its calls and giftctl's carry that key.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

var scenarios = map[string]func(context.Context, *rehearsal) error{
	"worker-down": workerDown,
	"backlog":     backlog,
	"db-down":     dbDown,
	"dlq":         dlqPath,
}

func main() {
	if len(os.Args) != 2 || scenarios[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: drill worker-down|backlog|db-down|dlq")
		os.Exit(2)
	}
	name := os.Args[1]
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, name)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, name string) int {
	r, err := newRehearsal(ctx, name)
	if err != nil {
		fmt.Fprintf(os.Stdout, "FAIL: drill %s could not start its stack: %v\n", name, err)
		if r != nil {
			r.close(false)
		}
		return 1
	}
	start := time.Now()
	err = scenarios[name](ctx, r)
	took := time.Since(start).Round(100 * time.Millisecond)
	if err != nil {
		r.say("FAIL: drill %s after %s: %v", name, took, err)
		r.say("logs kept in %s", r.dir)
		r.close(false)
		return 1
	}
	r.say("PASS: drill %s in %s (stack start %s)", name, took, r.startup.Round(100*time.Millisecond))
	r.close(true)
	return 0
}
