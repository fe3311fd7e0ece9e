package giftctl

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

// retry is the operator's re-injection of a FAILED gift once the cause of its failure is fixed
// (docs/requirements.md §6.2 keep FAILED final for clients and leave this to a runbook-driven operation).
// In order: check the gift is FAILED and confirm; take the DLQ's messages for a look; in one
// transaction move the gift FAILED -> QUEUED with a new message in the outbox (same gift_id and
// request_id, force_failure cleared, the next attempt series) and the action in its history; then
// delete the gift's DLQ messages and release the rest. The API's outbox relay publishes the new
// message. A message of the gift that was out of reach (in the main queue on its way to the DLQ,
// or in someone else's hands) stays behind, harmless: it belongs to the earlier series, which
// neither the reconciler nor redrive acts on, and `dlq redrive` drops it.
func (c *CLI) retry(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("retry", flag.ContinueOnError)
	reason := fs.String("reason", "", "why, and what was fixed (required; kept in the gift's history)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	actor := fs.String("actor", "", "a name to record with your identity (the AWS caller ARN, or the OS user locally)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return c.usageError(err)
	}
	id, err := uuid.Parse(pos[0])
	if err != nil {
		return c.usageError(fmt.Errorf("retry: %q is not a gift id", pos[0]))
	}
	if strings.TrimSpace(*reason) == "" {
		return c.usageError(errors.New("retry: --reason is required: say what failed and what was fixed"))
	}
	del, err := d.store.Delivery(ctx, id)
	if errors.Is(err, gift.ErrNotFound) {
		return c.fail(ExitRefused, "retry refused: no gift %s", id)
	}
	if err != nil {
		return c.fail(ExitUsage, "retry: %v", err)
	}
	if !del.Status.Retryable() {
		return c.fail(ExitRefused, "retry refused: gift %s is %s; only a FAILED gift can be retried (nothing changed)", id, del.Status)
	}
	lastError := ""
	if del.LastError != nil {
		lastError = *del.LastError
	}
	fmt.Fprintf(c.Stdout, "gift %s is FAILED (request %s): %s\n", id, del.RequestID, lastError)
	who := c.actor(ctx, d, *actor)
	if !*yes && !c.confirm(fmt.Sprintf("Queue it again as retry %d, by %s, because %q? [y/N] ", del.Retries+1, who, *reason)) {
		return c.fail(ExitRefused, "retry cancelled: nothing changed")
	}

	dlq, msgs, away, err := browseAllDLQ(ctx, d)
	if err != nil {
		return c.fail(ExitUsage, "retry: read the DLQ first: %v (nothing changed)", err)
	}
	if away > 0 {
		fmt.Fprintf(c.Stdout, "%d DLQ message(s) stayed in someone else's hands; any of this gift among them is superseded by the retry and `giftctl dlq redrive` drops it\n", away)
	}
	r, err := d.store.RetryFailed(ctx, id, who, *reason)
	if err != nil {
		c.release(ctx, dlq, msgs)
		if gift.KindOf(err) == gift.KindConflict {
			return c.fail(ExitRefused, "retry refused: %v (it changed meanwhile; nothing changed)", err)
		}
		return c.fail(ExitUsage, "retry: %v", err)
	}
	var mine, others []queue.Received
	for _, m := range msgs {
		if msg, err := queue.Parse([]byte(m.Body)); err == nil && msg.GiftID == id && msg.Retry < r.Series {
			mine = append(mine, m)
		} else {
			others = append(others, m)
		}
	}
	removed := 0
	for _, m := range mine {
		if err := dlq.Delete(ctx, m.ReceiptHandle); err != nil {
			fmt.Fprintf(c.Stderr, "giftctl: DLQ message %s not removed (harmless: superseded; `giftctl dlq redrive` drops it): %v\n", m.ID, err)
			others = append(others, m)
			continue
		}
		removed++
	}
	c.release(ctx, dlq, others)
	fmt.Fprintf(c.Stdout, "gift %s: FAILED -> QUEUED (retry %d, by %s); %d DLQ message(s) removed; the API's relay publishes it now.\n",
		id, r.Series, who, removed)
	fmt.Fprintf(c.Stdout, "follow it: giftctl gift wait %s\n", id)
	return ExitOK
}

// confirm asks on stdout and reads one line from stdin; only y or yes agrees.
func (c *CLI) confirm(question string) bool {
	fmt.Fprint(c.Stdout, question)
	line, _ := bufio.NewReader(c.Stdin).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes"
}
