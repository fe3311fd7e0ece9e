package giftctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

// reconcileReason is recorded in the history of every gift reconcile --apply re-enqueues.
const reconcileReason = "giftctl reconcile: QUEUED with no outbox message and no message in the DLQ"

// reconcile finds QUEUED gifts whose message is nowhere: no outbox row, nothing in the DLQ, and
// older than --older-than. The main queue cannot be searched without taking messages away from
// the worker (and spending their attempts), so the age stands in for it: the default hour is far
// beyond a message's whole life on the queue (five attempts with backoff capped at five minutes).
// That holds only while the worker drains the queue: after a worker outage longer than
// --older-than every QUEUED gift looks lost while its message still waits. So --apply refuses
// while the send queue holds any message (visible, in flight or delayed, GetQueueAttributes) or
// its depth cannot be read, unless --ignore-queue-depth says the operator has checked. With --apply
// each one is re-enqueued through the outbox, recorded in its history with who acted.
func (c *CLI) reconcile(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	apply := fs.Bool("apply", false, "re-enqueue them (default: only list them)")
	olderThan := fs.Duration("older-than", time.Hour, "only gifts QUEUED for longer than this")
	ignoreDepth := fs.Bool("ignore-queue-depth", false, "with --apply: go ahead although the send queue holds messages")
	actor := fs.String("actor", "", "a name to record with your identity (the AWS caller ARN, or the OS user locally)")
	if _, err := parse(fs, args, 0); err != nil {
		return c.usageError(err)
	}
	candidates, err := d.store.QueuedWithoutOutbox(ctx, *olderThan, browseLimit)
	if err != nil {
		return c.fail(ExitUsage, "reconcile: %v", err)
	}
	inDLQ, err := dlqGifts(ctx, c, d)
	if err != nil {
		return c.fail(ExitUsage, "reconcile: %v", err)
	}
	var lost []gift.Orphan
	for _, o := range candidates {
		if series, ok := inDLQ[o.GiftID]; ok && series >= o.Series {
			fmt.Fprintf(c.Stdout, "skip       %s (its message is in the DLQ: giftctl dlq redrive)\n", o.GiftID)
			continue
		}
		lost = append(lost, o)
	}
	var q queue.Depth
	queueURL, err := d.queueURL(ctx)
	if err == nil {
		q, err = d.queues.Depth(ctx, queueURL)
	}
	if err == nil {
		fmt.Fprintf(c.Stdout, "send queue: %d visible, %d in flight, %d delayed\n", q.Visible, q.InFlight, q.Delayed)
	}
	if *apply && len(lost) > 0 && !*ignoreDepth {
		if err != nil {
			return c.fail(ExitRefused, "reconcile --apply refused: the send queue's depth cannot be read (%v), so these gifts' messages may still be on it "+
				"and re-enqueueing would send them twice; nothing changed. Check SQS access, or rerun with --ignore-queue-depth once you know the queue is empty", err)
		}
		if q.Total() > 0 {
			return c.fail(ExitRefused, "reconcile --apply refused: the send queue holds %d message(s) (%d visible, %d in flight, %d delayed); "+
				"these gifts' messages may be among them (after a worker outage longer than --older-than, every waiting gift looks lost) "+
				"and re-enqueueing would send them twice; nothing changed. Check: is the worker running and draining the queue "+
				"(giftctl status, the worker's logs)? Wait until it is empty and run this again, or rerun with --ignore-queue-depth "+
				"if you know these messages are not these gifts'", q.Total(), q.Visible, q.InFlight, q.Delayed)
		}
	}
	who := ""
	if *apply && len(lost) > 0 {
		who = c.actor(ctx, d, *actor)
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
			if errors.Is(err, gift.ErrNotOrphaned) {
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
