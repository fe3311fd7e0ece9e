package giftctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
)

const (
	// browseHold hides the DLQ messages giftctl is looking at until it releases them, which it
	// does before it exits; only a giftctl killed meanwhile leaves them hidden this long.
	browseHold = 2 * time.Minute
	// browseLimit is the most DLQ messages one command looks at.
	browseLimit = 1000
)

// What to do about a DLQ message.
const (
	ActionRetry       = "retry"       // its gift is FAILED: giftctl retry, once the cause is fixed
	ActionRedrive     = "redrive"     // its gift is still QUEUED: giftctl dlq redrive moves it back
	ActionDrop        = "drop"        // its gift is SENT, or it was superseded by a retry: redrive deletes it
	ActionInvestigate = "investigate" // not a send request of a known gift: look, then purge
)

// DLQEntry is one DLQ message with its gift, as `giftctl dlq list --json` prints it.
type DLQEntry struct {
	MessageID    string     `json:"message_id"`
	GiftID       *uuid.UUID `json:"gift_id"`
	RequestID    string     `json:"request_id"`
	ReceiveCount int        `json:"receive_count"`
	SentAt       *time.Time `json:"sent_at"`
	// Retry is the attempt series the message belongs to; GiftRetry the gift's current one.
	Retry         int     `json:"retry"`
	GiftStatus    string  `json:"gift_status"`
	GiftLastError *string `json:"gift_last_error"`
	GiftRetry     int     `json:"gift_retry"`
	// Settlement is what the worker's DLQ reconciler decided about the message ("" not yet).
	Settlement string `json:"reconciler_settlement"`
	Action     string `json:"action"`

	received queue.Received
}

// inspect joins DLQ messages with their gifts and decides the action for each.
func inspect(ctx context.Context, d *deps, msgs []queue.Received) ([]DLQEntry, error) {
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	settled, err := d.store.DLQSettled(ctx, ids)
	if err != nil {
		return nil, err
	}
	entries := make([]DLQEntry, len(msgs))
	for i, m := range msgs {
		e := DLQEntry{MessageID: m.ID, ReceiveCount: m.ReceiveCount, Settlement: string(settled[m.ID]), Action: ActionInvestigate, received: m}
		if !m.SentAt.IsZero() {
			at := m.SentAt.UTC()
			e.SentAt = &at
		}
		msg, perr := queue.Parse([]byte(m.Body))
		var del gift.Delivery
		if perr == nil {
			e.GiftID, e.RequestID, e.Retry = &msg.GiftID, msg.RequestID, msg.Retry
			del, err = d.store.Delivery(ctx, msg.GiftID)
		}
		switch {
		case perr != nil:
			e.GiftStatus = "not a send request"
		case errors.Is(err, gift.ErrNotFound):
			e.GiftStatus = "no such gift"
		case err != nil:
			return nil, err
		case del.RequestID != msg.RequestID:
			e.GiftStatus = string(del.Status) + " (under another request id)"
		default:
			e.GiftStatus, e.GiftLastError, e.GiftRetry = string(del.Status), del.LastError, del.Retries
			e.Action = action(del.Status, msg.Retry, del.Retries)
		}
		entries[i] = e
	}
	return entries, nil
}

func action(status gift.Status, retry, current int) string {
	switch {
	case retry < current || status == gift.StatusSent:
		return ActionDrop
	case status == gift.StatusFailed:
		return ActionRetry
	case status == gift.StatusQueued:
		return ActionRedrive
	}
	return ActionInvestigate
}

// browseDLQ takes the DLQ's visible messages for a look; the caller must release them.
func browseDLQ(ctx context.Context, d *deps) (DLQ, []queue.Received, error) {
	dlq, err := d.dlq(ctx)
	if err != nil {
		return nil, nil, err
	}
	msgs, err := dlq.Browse(ctx, browseHold, browseLimit)
	if err != nil {
		return nil, nil, err
	}
	return dlq, msgs, nil
}

// othersWait bounds how long browseAllDLQ waits for messages someone else holds.
const othersWait = 15 * time.Second

// browseAllDLQ is browseDLQ for commands that change things (retry, redrive): while SQS reports
// more messages in flight than this command holds (the worker's reconciler is sweeping, or another
// operator is looking), it waits for them to come back, up to othersWait, so that it acts on the
// whole DLQ. It returns how many stayed out of reach.
func browseAllDLQ(ctx context.Context, d *deps) (DLQ, []queue.Received, int, error) {
	dlq, msgs, err := browseDLQ(ctx, d)
	if err != nil {
		return nil, nil, 0, err
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[m.ID] = true
	}
	deadline := time.Now().Add(othersWait)
	for {
		depth, err := d.queues.Depth(ctx, dlq.URL())
		if err != nil {
			_ = dlq.Release(context.WithoutCancel(ctx), msgs) // best effort: they come back after browseHold
			return nil, nil, 0, err
		}
		away := depth.InFlight - len(msgs)
		if away <= 0 || time.Now().After(deadline) || len(msgs) >= browseLimit {
			return dlq, msgs, max(away, 0), nil
		}
		more, err := dlq.Browse(ctx, browseHold, browseLimit-len(msgs))
		if err != nil {
			_ = dlq.Release(context.WithoutCancel(ctx), msgs) // best effort: they come back after browseHold
			return nil, nil, 0, err
		}
		for _, m := range more {
			if !seen[m.ID] {
				seen[m.ID] = true
				msgs = append(msgs, m)
			}
		}
		if len(more) == 0 {
			select {
			case <-ctx.Done():
				return dlq, msgs, away, nil
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

// release puts the messages back, visible at once, reporting a failure (they come back after
// browseHold anyway).
func (c *CLI) release(ctx context.Context, dlq DLQ, msgs []queue.Received) {
	if err := dlq.Release(context.WithoutCancel(ctx), msgs); err != nil {
		fmt.Fprintf(c.Stderr, "giftctl: DLQ messages not released, visible again within %s: %v\n", browseHold, err)
	}
}

func (c *CLI) dlqList(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("dlq list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args, 0); err != nil {
		return c.usageError(err)
	}
	dlq, msgs, err := browseDLQ(ctx, d)
	if err != nil {
		return c.fail(ExitUsage, "dlq list: %v", err)
	}
	entries, err := inspect(ctx, d, msgs)
	// Read while this listing still holds its messages: what is visible now is beyond the limit,
	// what is in flight beyond ours is in someone else's hands.
	away, beyond, depthKnown := 0, 0, false
	if depth, derr := d.queues.Depth(ctx, dlq.URL()); derr == nil {
		away, beyond, depthKnown = max(depth.InFlight-len(msgs), 0), depth.Visible+depth.Delayed, true
	}
	c.release(ctx, dlq, msgs) // visible again at once: listing consumes nothing
	if err != nil {
		return c.fail(ExitUsage, "dlq list: %v", err)
	}
	// Only part of the DLQ is shown when the listing stopped at its limit or messages were out of
	// reach; said on stderr with --json, so the JSON stays an array.
	partial := len(msgs) >= browseLimit || away > 0 || beyond > 0
	if partial {
		w := c.Stdout
		if *asJSON {
			w = c.Stderr
		}
		total := "an unknown number of"
		if depthKnown {
			total = fmt.Sprintf("about %d", len(msgs)+away+beyond)
		}
		fmt.Fprintf(w, "PARTIAL: showing %d of %s DLQ message(s); more exist: %d beyond the listing limit of %d, %d in someone else's hands"+
			" (the worker's DLQ reconciler holds a large DLQ while it reads it through)\n", len(msgs), total, beyond, browseLimit, away)
	}
	if *asJSON {
		if entries == nil {
			entries = []DLQEntry{}
		}
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(entries)
		return ExitOK
	}
	fmt.Fprintf(c.Stdout, "%d message(s) in the DLQ\n", len(entries))
	if len(entries) == 0 {
		return ExitOK
	}
	fmt.Fprintf(c.Stdout, "%-36s  %-24s  %-8s  %-6s  %-26s  %-11s  %s\n", "GIFT_ID", "REQUEST_ID", "RECEIVES", "RETRY", "GIFT_STATUS", "ACTION", "LAST_ERROR")
	for _, e := range entries {
		id := "-"
		if e.GiftID != nil {
			id = e.GiftID.String()
		}
		lastError := ""
		if e.GiftLastError != nil {
			lastError = *e.GiftLastError
		}
		fmt.Fprintf(c.Stdout, "%-36s  %-24s  %-8d  %-6s  %-26s  %-11s  %s\n", id, e.RequestID, e.ReceiveCount,
			fmt.Sprintf("%d/%d", e.Retry, e.GiftRetry), e.GiftStatus, e.Action, lastError)
	}
	fmt.Fprintln(c.Stdout, "actions: retry = `giftctl retry GIFT_ID --reason ...` once the cause is fixed; redrive and drop = `giftctl dlq redrive`;")
	fmt.Fprintln(c.Stdout, "         investigate = not a send request of a known gift (see runbook). RECEIVES counts every look at the DLQ too.")
	return ExitOK
}

func (c *CLI) dlqRedrive(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("dlq redrive", flag.ContinueOnError)
	dryRun := fs.Bool("dry-run", false, "only say what would be done")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	actor := fs.String("actor", "", "a name to record with your identity (the AWS caller ARN, or the OS user locally)")
	if _, err := parse(fs, args, 0); err != nil {
		return c.usageError(err)
	}
	// The send queue first: a redrive with no send queue configured stops before it changes anything.
	if _, err := d.queueURL(ctx); err != nil {
		return c.fail(ExitUsage, "dlq redrive: %v", err)
	}
	dlq, msgs, away, err := browseAllDLQ(ctx, d)
	if err != nil {
		return c.fail(ExitUsage, "dlq redrive: %v", err)
	}
	if away > 0 {
		fmt.Fprintf(c.Stdout, "%d message(s) were in someone else's hands and were not looked at: run it again later\n", away)
	}
	gone := map[string]bool{} // moved back or dropped: nothing left to release
	defer func() {
		var keep []queue.Received
		for _, m := range msgs {
			if !gone[m.ID] {
				keep = append(keep, m)
			}
		}
		c.release(ctx, dlq, keep)
	}()
	entries, err := inspect(ctx, d, msgs)
	if err != nil {
		return c.fail(ExitUsage, "dlq redrive: %v", err)
	}
	counts := map[string]int{}
	for _, e := range entries {
		counts[e.Action]++
	}
	if !*dryRun && counts[ActionRedrive]+counts[ActionDrop] > 0 {
		who := c.actor(ctx, d, *actor)
		if !*yes && !c.confirm(fmt.Sprintf("Move back %d message(s) and drop %d, by %s? [y/N] ", counts[ActionRedrive], counts[ActionDrop], who)) {
			return c.fail(ExitRefused, "dlq redrive cancelled: nothing changed")
		}
		*actor = who
	}
	verb := map[bool]string{true: "would ", false: ""}[*dryRun]
	code := ExitOK
	for _, e := range entries {
		switch e.Action {
		case ActionRedrive:
			fmt.Fprintf(c.Stdout, "%smove back  %s (QUEUED, request %s)\n", verb, e.GiftID, e.RequestID)
			if !*dryRun {
				if err := moveBack(ctx, d, dlq, e, *actor); err != nil {
					code = c.fail(ExitRefused, "move back %s: %v", e.GiftID, err)
				} else {
					gone[e.MessageID] = true
				}
			}
		case ActionDrop:
			fmt.Fprintf(c.Stdout, "%sdrop       %s (%s, message of retry %d of %d: nothing left to do)\n", verb, e.GiftID, e.GiftStatus, e.Retry, e.GiftRetry)
			if !*dryRun {
				if err := dlq.Delete(ctx, e.received.ReceiptHandle); err != nil {
					code = c.fail(ExitRefused, "drop %s: %v", e.GiftID, err)
				} else {
					gone[e.MessageID] = true
				}
			}
		case ActionRetry:
			fmt.Fprintf(c.Stdout, "leave      %s (FAILED: once the cause is fixed, giftctl retry %s --reason '...')\n", e.GiftID, e.GiftID)
		default:
			fmt.Fprintf(c.Stdout, "leave      message %s (%s: investigate, see the runbook)\n", e.MessageID, e.GiftStatus)
		}
	}
	fmt.Fprintf(c.Stdout, "%d message(s): %d %smoved back, %d %sdropped, %d FAILED (retry), %d to investigate\n", len(entries),
		counts[ActionRedrive], verb, counts[ActionDrop], verb, counts[ActionRetry], counts[ActionInvestigate])
	return code
}

// moveBack queues a DLQ message's gift again as a new attempt series, through the outbox, in one
// transaction with its history (postgres.Store.Redrive), then deletes the DLQ copy. An interrupted
// move (the delete failed, Ctrl-C) leaves a copy of the earlier series, which the reconciler
// settles as superseded and the next redrive drops: the gift is sent as the redrive intended.
func moveBack(ctx context.Context, d *deps, dlq DLQ, e DLQEntry, who string) error {
	msg, err := queue.Parse([]byte(e.received.Body))
	if err != nil {
		return err
	}
	r, err := d.store.Redrive(ctx, msg, who, fmt.Sprintf("giftctl dlq redrive: DLQ message %s moved back", e.MessageID))
	if err != nil {
		return err
	}
	if err := dlq.Delete(ctx, e.received.ReceiptHandle); err != nil {
		return fmt.Errorf("queued again as retry %d, but its DLQ copy stays (superseded: the next redrive drops it): %w", r.Series, err)
	}
	return nil
}
