// Command issuekey issues a Gift API key for smoke.sh's test against the local stack, as an
// operator does with `giftctl client create` and `giftctl key issue` (docs/deploy.md, "The smoke
// check's API key"): client smoke-local, made on first use, connected as DATABASE_URL (the stack's
// gift_operator, from its giftctl.env). Prints the key's text, nothing else, on stdout.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/devkit/devstack"
)

func main() {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		fmt.Fprintln(os.Stderr, "issuekey: DATABASE_URL is not set")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key, err := devstack.IssueAPIKey(ctx, url, "smoke-local", "scripts/deploy/test.sh")
	if err != nil {
		fmt.Fprintln(os.Stderr, "issuekey:", err)
		os.Exit(1)
	}
	fmt.Println(key)
}
