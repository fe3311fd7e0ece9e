package giftctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
)

// The gift commands talk to the API as any client does (the generated client), for demos and
// post-deploy smoke checks; only --history reads the database.

func (c *CLI) giftCreate(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("gift create", flag.ContinueOnError)
	amount := fs.Int64("amount", 1000, "amount")
	message := fs.String("message", "", "message (none when empty)")
	key := fs.String("key", "", "Idempotency-Key: run again with the same key to get the same gift back (none when empty)")
	if _, err := parse(fs, args, 0); err != nil {
		return c.usageError(err)
	}
	body := giftclient.CreateGiftRequest{Amount: int32(min(max(*amount, 0), 1<<31-1))} // clamped; the API validates the range
	if *message != "" {
		body.Message = message
	}
	var params giftclient.CreateGiftParams
	if *key != "" {
		params.IdempotencyKey = key
	}
	resp, err := d.api.CreateGiftWithResponse(ctx, &params, body)
	if err != nil {
		return c.fail(ExitUsage, "POST /gifts: %v", err)
	}
	return c.answer(resp.StatusCode(), resp.Body, http.StatusCreated)
}

func (c *CLI) giftSend(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("gift send", flag.ContinueOnError)
	key := fs.String("key", "", "Idempotency-Key (default: a new UUID)")
	force := fs.Bool("force-failure", false, "X-Force-Failure: true (rehearse the DLQ path; local runs and dev only)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return c.usageError(err)
	}
	id, err := uuid.Parse(pos[0])
	if err != nil {
		return c.usageError(fmt.Errorf("gift send: %q is not a gift id", pos[0]))
	}
	params := giftclient.SendGiftParams{IdempotencyKey: *key}
	if params.IdempotencyKey == "" {
		params.IdempotencyKey = uuid.NewString()
	}
	if *force {
		params.XForceFailure = force
	}
	resp, err := d.api.SendGiftWithResponse(ctx, id, &params)
	if err != nil {
		return c.fail(ExitUsage, "POST /gifts/%s/send: %v", id, err)
	}
	return c.answer(resp.StatusCode(), resp.Body, http.StatusAccepted, http.StatusOK)
}

func (c *CLI) giftGet(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("gift get", flag.ContinueOnError)
	history := fs.Bool("history", false, "also print the gift's history (from the database)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return c.usageError(err)
	}
	id, err := uuid.Parse(pos[0])
	if err != nil {
		return c.usageError(fmt.Errorf("gift get: %q is not a gift id", pos[0]))
	}
	resp, err := d.api.GetGiftWithResponse(ctx, id)
	if err != nil {
		return c.fail(ExitUsage, "GET /gifts/%s: %v", id, err)
	}
	if code := c.answer(resp.StatusCode(), resp.Body, http.StatusOK); code != ExitOK || !*history {
		return code
	}
	events, err := d.store.History(ctx, id)
	if err != nil {
		return c.fail(ExitUsage, "history of gift %s: %v", id, err)
	}
	printHistory(c, events)
	return ExitOK
}

// printHistory writes one line per event, oldest first.
func printHistory(c *CLI, events []gift.Event) {
	fmt.Fprintf(c.Stdout, "%-27s %-18s %-26s %-24s %s\n", "AT", "TRANSITION", "BY", "REQUEST_ID", "REASON")
	for _, e := range events {
		from := string(e.From)
		if from == "" {
			from = "new"
		}
		by := string(e.Actor)
		if e.ActorName != "" {
			by += " (" + e.ActorName + ")"
		}
		fmt.Fprintf(c.Stdout, "%-27s %-18s %-26s %-24s %s\n", e.At.UTC().Format("2006-01-02T15:04:05.000000Z"),
			from+"->"+string(e.To), by, e.RequestID, e.Reason)
	}
}

func (c *CLI) giftWait(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("gift wait", flag.ContinueOnError)
	want := fs.String("for", string(gift.StatusSent), "the final status that counts as success: SENT or FAILED")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long (exit 1)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return c.usageError(err)
	}
	id, err := uuid.Parse(pos[0])
	if err != nil {
		return c.usageError(fmt.Errorf("gift wait: %q is not a gift id", pos[0]))
	}
	if s := gift.Status(*want); !s.Terminal() {
		return c.usageError(fmt.Errorf("gift wait: --for %s: want SENT or FAILED", *want))
	}
	g, err := waitFinal(ctx, d, id, *timeout)
	if err != nil {
		return c.fail(ExitRefused, "gift wait %s: %v", id, err)
	}
	b, _ := json.Marshal(g)
	fmt.Fprintln(c.Stdout, string(b))
	if string(g.Status) != *want {
		return c.fail(ExitRefused, "gift %s ended %s, not %s", id, g.Status, *want)
	}
	return ExitOK
}

// waitFinal polls GET /gifts/{id} until the gift is SENT or FAILED or timeout passes. Answers
// other than 200 (a 503 while the database is away) are waited out too.
func waitFinal(ctx context.Context, d *deps, id uuid.UUID, timeout time.Duration) (*giftclient.Gift, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		resp, err := d.api.GetGiftWithResponse(ctx, id)
		switch {
		case err != nil:
			last = err.Error()
		case resp.JSON404 != nil:
			return nil, errors.New("no such gift")
		case resp.JSON200 != nil:
			if gift.Status(resp.JSON200.Status).Terminal() {
				return resp.JSON200, nil
			}
			last = "status " + string(resp.JSON200.Status)
		default:
			last = fmt.Sprintf("answer %d", resp.StatusCode())
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("not SENT or FAILED within %s (last: %s)", timeout, last)
		case <-tick.C:
		}
	}
}

// answer prints the API's body and returns ExitOK when the status is one of ok, else prints the
// status to stderr and returns ExitRefused.
func (c *CLI) answer(status int, body []byte, ok ...int) int {
	fmt.Fprintln(c.Stdout, string(body))
	for _, s := range ok {
		if status == s {
			return ExitOK
		}
	}
	return c.fail(ExitRefused, "the API answered %d %s", status, http.StatusText(status))
}
