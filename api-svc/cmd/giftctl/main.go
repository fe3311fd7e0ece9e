// Command giftctl is the operator's command line: status, gifts, the DLQ, retry, reconcile.
// `giftctl help` lists the commands; docs/runbook.md says when to use which. Configuration comes
// from the services' environment plus API_URL.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/giftctl"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/giftctl/connect"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	cli := &giftctl.CLI{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Lookup: os.LookupEnv, User: giftctl.OSUser,
		Connect: connect.Open}
	code := cli.Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
