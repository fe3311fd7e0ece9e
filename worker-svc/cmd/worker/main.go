// Command worker takes gift send requests off the SQS queue and finishes each gift's lifecycle
// (QUEUED -> SENT, or FAILED once the queue's delivery attempts are used up).
//
//	worker [run]        run until SIGTERM or SIGINT, then shut down gracefully (exit 0)
//	worker healthcheck  exit 0 when http://$WORKER_HEALTH_ADDR/healthz answers 200; the ECS
//	                    container health check (the image has no shell or curl)
//
// Configuration is read from the environment (README, "Configuration").
package main

import (
	"fmt"
	"os"
)

func main() {
	cmd := "run"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	switch cmd {
	case "run":
		os.Exit(run())
	case "healthcheck":
		os.Exit(healthcheck())
	default:
		fmt.Fprintln(os.Stderr, "usage: worker [run|healthcheck]")
		os.Exit(2)
	}
}
