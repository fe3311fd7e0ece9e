package sqs_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
)

// Browse sees every visible message once (more than one receive's worth), hides them while the
// caller works, and Release puts back what was not deleted, visible at once.
func TestBrowseSeesEachMessageOnceAndReleaseShowsThemAgain(t *testing.T) {
	ctx := context.Background()
	q := env.NewQueues(t, 5)
	p := sqs.NewPublisher(q.Client, q.DLQURL)
	want := make([]string, 23)
	for i := range want {
		want[i] = fmt.Sprintf("m%02d", i)
		must(t, p.Publish(ctx, want[i]))
	}
	c := sqs.NewConsumer(q.Client, q.DLQURL)
	before := time.Now().Add(-time.Minute)

	got, err := c.Browse(ctx, time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	bodies := make([]string, len(got))
	for i, m := range got {
		bodies[i] = m.Body
		if m.SentAt.Before(before) || m.ReceiveCount != 1 {
			t.Fatalf("message %s: sent at %s, receive count %d", m.Body, m.SentAt, m.ReceiveCount)
		}
	}
	sort.Strings(bodies)
	if fmt.Sprint(bodies) != fmt.Sprint(want) {
		t.Fatalf("browsed %v, want %v", bodies, want)
	}
	if d, _ := sqs.QueueDepth(ctx, q.Client, q.DLQURL); d.Visible != 0 || d.InFlight != len(want) {
		t.Fatalf("depth while browsing: %+v", d)
	}

	must(t, c.Delete(ctx, got[0].ReceiptHandle))
	must(t, c.Release(ctx, got)) // the deleted one is ignored
	if d, _ := sqs.QueueDepth(ctx, q.Client, q.DLQURL); d.Visible != len(want)-1 || d.InFlight != 0 {
		t.Fatalf("depth after release: %+v", d)
	}

	limited, err := c.Browse(ctx, time.Minute, 4)
	if err != nil || len(limited) != 4 {
		t.Fatalf("browse of at most 4: %d, %v", len(limited), err)
	}
	must(t, c.Release(ctx, limited))
}
