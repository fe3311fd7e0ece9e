package giftctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
)

// reconcileReason is recorded in the history of every gift reconcile --apply re-enqueues.
const reconcileReason = "giftctl reconcile: QUEUED with no outbox message and no message in the DLQ"

// reconcile finds QUEUED gifts whose message is nowhere: no outbox row, nothing in the DLQ, and
// older than --older-than. The main queue cannot be searched without taking messages away from
// the worker (and spending their attempts), so the age stands in for it: the default hour is far
// beyond a message's whole life on the queue (five attempts with backoff capped at five minutes).
// Should a message still be there after all, the duplicate is harmless: the worker finishes a gift
// once. With --apply each one is re-enqueued through the outbox, recorded in its history.
func (c *CLI) reconcile(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	apply := fs.Bool("apply", false, "re-enqueue them (default: only list them)")
	olderThan := fs.Duration("older-than", time.Hour, "only gifts QUEUED for longer than this")
	actor := fs.String("actor", "", "who is reconciling (default: the OS user)")
	if _, err := parse(fs, args, 0); err != nil {
		return c.usageError(err)
	}
	who := *actor
	if who == "" {
		who = c.User()
	}
	candidates, err := d.store.QueuedWithoutOutbox(ctx, *olderThan, browseLimit)
	if err != nil {
		return c.fail(ExitUsage, "reconcile: %v", err)
	}
	inDLQ, err := dlqGifts(ctx, c, d)
	if err != nil {
		return c.fail(ExitUsage, "reconcile: %v", err)
	}
	var lost []postgres.Orphan
	for _, o := range candidates {
		if series, ok := inDLQ[o.GiftID]; ok && series >= o.Series {
			fmt.Fprintf(c.Stdout, "skip       %s (its message is in the DLQ: giftctl dlq redrive)\n", o.GiftID)
			continue
		}
		lost = append(lost, o)
	}
	if queueURL, err := d.queueURL(ctx); err == nil {
		if q, err := sqs.QueueDepth(ctx, d.sqs, queueURL); err == nil {
			fmt.Fprintf(c.Stdout, "send queue: %d visible, %d in flight, %d delayed\n", q.Visible, q.InFlight, q.Delayed)
		}
	}
	verb := "would re-enqueue"
	if *apply {
		verb = "re-enqueue"
	}
	done := 0
	for _, o := range lost {
		fmt.Fprintf(c.Stdout, "%s %s (request %s, QUEUED for %s)\n", verb, o.GiftID, o.RequestID, round(o.QueuedFor))
		if !*apply {
			continue
		}
		if _, err := d.store.Reenqueue(ctx, o.GiftID, who, reconcileReason); err != nil {
			if errors.Is(err, postgres.ErrNotOrphaned) {
				fmt.Fprintf(c.Stdout, "  skipped: %v\n", err)
				continue
			}
			return c.fail(ExitUsage, "reconcile: %v", err)
		}
		done++
	}
	if *apply {
		fmt.Fprintf(c.Stdout, "%d gift(s) re-enqueued through the outbox\n", done)
	} else {
		fmt.Fprintf(c.Stdout, "%d gift(s) QUEUED for longer than %s with no message found; dry run: add --apply to re-enqueue\n", len(lost), *olderThan)
	}
	return ExitOK
}

// dlqGifts returns the gifts that have a message in the DLQ, with the latest attempt series seen.
func dlqGifts(ctx context.Context, c *CLI, d *deps) (map[uuid.UUID]int, error) {
	dlq, msgs, err := browseDLQ(ctx, d)
	if err != nil {
		return nil, err
	}
	defer c.release(ctx, dlq, msgs)
	out := map[uuid.UUID]int{}
	for _, m := range msgs {
		if msg, err := queue.Parse([]byte(m.Body)); err == nil {
			if series, ok := out[msg.GiftID]; !ok || msg.Retry > series {
				out[msg.GiftID] = msg.Retry
			}
		}
	}
	return out, nil
}
