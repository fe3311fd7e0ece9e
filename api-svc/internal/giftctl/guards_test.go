package giftctl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/giftctl"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/giftctl/connect"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// failDelete is an SQS transport that refuses DeleteMessage (JSON protocol: X-Amz-Target), as a
// network cut or a Ctrl-C between the move and the delete would.
type failDelete struct{}

func (failDelete) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("X-Amz-Target") == "AmazonSQS.DeleteMessage" {
		return nil, errors.New("connection reset (injected)")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// runWith runs giftctl like run, with cli's hooks changed by set.
func (s *system) runWith(t *testing.T, set func(*giftctl.CLI), vars map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	cli := &giftctl.CLI{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, User: func() string { return "tester" }, Connect: connect.Open,
		Lookup: func(k string) (string, bool) {
			if v, ok := vars[k]; ok {
				return v, true
			}
			v, ok := s.vars[k]
			return v, ok
		}}
	set(cli)
	code := cli.Run(context.Background(), args)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// An interrupted redrive: the gift is queued again, then the DLQ delete fails. The leftover DLQ
// copy must not fail the gift when the worker's reconciler finds it, and the moved message must
// still send it.
func TestInterruptedRedriveStillSendsTheGift(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	ctx := context.Background()
	id, body := s.sendWithMessage(t, false)
	s.toDLQ(t, body) // QUEUED, its message in the DLQ: redrive moves it back

	r := s.runWith(t, func(c *giftctl.CLI) { c.SQSHTTP = &http.Client{Transport: failDelete{}} }, nil, "", "dlq", "redrive", "--yes")
	if r.code != 1 || !strings.Contains(r.stderr, "connection reset (injected)") {
		t.Fatalf("redrive with the delete failing: %+v", r)
	}
	if d := s.depth(t, s.queues.DLQURL); d.Total() != 1 {
		t.Fatalf("DLQ after the interrupted redrive: %+v; want the leftover copy", d)
	}

	// The worker's reconciler finds the leftover copy and settles it (its store call, as its sweep
	// makes it).
	dlq := sqs.NewConsumer(s.queues.Client, s.queues.DLQURL)
	left, err := dlq.Browse(ctx, time.Minute, 10)
	if err != nil || len(left) != 1 {
		t.Fatalf("DLQ browse: %d, %v", len(left), err)
	}
	if got, err := s.store.SettleDLQMessage(ctx, left[0].ID, left[0].Body, 5); err != nil || got == gift.SettledFailed {
		t.Fatalf("reconciler's settlement of the leftover copy: %q, %v", got, err)
	}
	if err := dlq.Release(ctx, left); err != nil {
		t.Fatal(err)
	}
	if st := s.status(t, id); st != gift.StatusQueued {
		t.Fatalf("the reconciler settled the leftover copy: gift %s", st)
	}
	// The moved message reaches the send queue and the worker finishes the gift with it.
	var got []queue.Received
	testenv.Eventually(t, 20*time.Second, "the moved message on the send queue", func() (bool, string) {
		msgs, err := sqs.NewConsumer(s.queues.Client, s.queues.URL).Receive(ctx, 10, time.Second, time.Minute)
		got = append(got, msgs...)
		return len(got) > 0, errString(err)
	})
	m, err := queue.Parse([]byte(got[0].Body))
	if err != nil || m.GiftID != id || m.Retry != 1 {
		t.Fatalf("moved message: %+v, %v", m, err)
	}
	if ok, err := s.store.MarkSent(ctx, gift.Series{GiftID: id, RequestID: m.RequestID, Retry: m.Retry}); !ok || err != nil {
		t.Fatalf("the worker's finish with the moved message: %v, %v; gift %s", ok, err, s.status(t, id))
	}
	// The next redrive drops the leftover copy.
	if r := s.run(t, "", "dlq", "redrive", "--yes"); r.code != 0 || !strings.Contains(r.stdout, "1 dropped") {
		t.Fatalf("second redrive: %+v", r)
	}
	if d := s.depth(t, s.queues.DLQURL); d.Total() != 0 {
		t.Fatalf("DLQ after the second redrive: %+v", d)
	}
}

// reconcile --apply refuses while the send queue holds a message, says why and what to check,
// changes nothing, and goes ahead when told to.
func TestReconcileApplyRefusesWhileTheQueueHoldsMessages(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	ctx := context.Background()
	lost, body := s.sendWithMessage(t, false)
	if _, err := s.pool.Exec(ctx, fmt.Sprintf(`
		UPDATE gifts SET updated_at = now() - interval '2 hours' WHERE id = '%[1]s';
		ALTER TABLE gift_events DISABLE TRIGGER gift_events_append_only;
		UPDATE gift_events SET at = now() - interval '2 hours' WHERE gift_id = '%[1]s';
		ALTER TABLE gift_events ENABLE TRIGGER gift_events_append_only`, lost)); err != nil {
		t.Fatal(err)
	}
	// Its message is still waiting on the send queue (the worker was down for two hours).
	if err := sqs.NewPublisher(s.queues.Client, s.queues.URL).Publish(ctx, body); err != nil {
		t.Fatal(err)
	}
	before := len(history(t, s, lost))
	r := s.run(t, "", "reconcile", "--apply")
	if r.code != 1 || !strings.Contains(r.stderr, "refused: the send queue holds 1 message(s) (1 visible, 0 in flight, 0 delayed)") ||
		!strings.Contains(r.stderr, "is the worker running") || !strings.Contains(r.stderr, "--ignore-queue-depth") {
		t.Fatalf("reconcile --apply with a message on the queue: %+v", r)
	}
	if len(history(t, s, lost)) != before {
		t.Fatal("a refused reconcile changed the gift")
	}
	r = s.run(t, "", "reconcile", "--apply", "--ignore-queue-depth")
	if r.code != 0 || !strings.Contains(r.stdout, "1 gift(s) re-enqueued") {
		t.Fatalf("reconcile --apply --ignore-queue-depth: %+v", r)
	}
}

// The actor recorded is the caller's identity: the AWS caller ARN where the credentials are AWS's,
// the OS user when STS cannot answer; --actor adds a name in front and never replaces it.
func TestActorIsTheCallersIdentity(t *testing.T) {
	t.Parallel()
	s := newSystem(t)
	const arn = "arn:aws:sts::123456789012:assumed-role/OpsAdmin/alice"
	aws := map[string]string{"AWS_PROFILE": "ops"} // AWS credentials, not the emulator's fixed ones
	for _, tc := range []struct {
		name   string
		vars   map[string]string
		caller func(context.Context) (string, error)
		actor  []string
		want   string
	}{
		{"AWS credentials: the caller ARN", aws, func(context.Context) (string, error) { return arn, nil }, nil, arn},
		{"--actor adds a name to the ARN", aws, func(context.Context) (string, error) { return arn, nil }, []string{"--actor", "bob"}, "bob <" + arn + ">"},
		{"STS unreachable: the OS user, marked", aws, func(context.Context) (string, error) { return "", errors.New("dial tcp: timeout") }, nil, "os:tester (STS unavailable)"},
		{"local emulator: the OS user, STS not asked", nil, func(context.Context) (string, error) { return "", errors.New("STS asked") }, []string{"--actor", "bob"}, "bob <os:tester>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := s.deadLettered(t)
			args := append([]string{"retry", id.String(), "--reason", "fixed", "--yes"}, tc.actor...)
			r := s.runWith(t, func(c *giftctl.CLI) { c.Caller = tc.caller }, tc.vars, "", args...)
			if r.code != 0 || !strings.Contains(r.stdout, "by "+tc.want+")") {
				t.Fatalf("retry: %+v", r)
			}
			events := history(t, s, id)
			if last := events[len(events)-1]; last.ActorName != tc.want {
				t.Fatalf("history records %q, want %q", last.ActorName, tc.want)
			}
		})
	}
}
