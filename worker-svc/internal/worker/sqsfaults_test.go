package worker_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/faultproxy"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/seed"
)

// SQS connections reset mid-request under the worker (a real TCP proxy, testkit/faultproxy, between
// the worker and the emulator, the SDK's own retries off): answers are cut in short bursts, so
// receives, deletes and visibility changes fail at random, after SQS acted on them (a receive whose messages never arrive, a delete that happened but reports an error). The worker must keep going: every
// gift ends SENT, each is sent once (a redelivery finds the gift SENT and only deletes), and the
// queue ends empty with nothing in the DLQ. The queue allows 20 receives per message, since every
// cut receive spends one.
func TestSQSConnectionResetsUnderTheWorkerLoseNothingAndSendOnce(t *testing.T) {
	emulator, err := url.Parse(env.SQSEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := faultproxy.Start(t).Proxy(t, "sqs", emulator.Host)
	h := newHarness(t, options{maxReceiveCount: 20, sqsEndpoint: "http://" + p.Addr()})

	// A flapping network: answers are cut for 150 ms out of every 470 ms (not a divisor of the worker's 1 s retry pause, which would always land in a cut), on open connections and
	// new ones alike, until every gift is settled.
	flapping := make(chan struct{})
	flapped := make(chan struct{})
	go func() {
		defer close(flapped)
		for {
			cut := p.ResetPeer(faultproxy.Downstream, 0)
			select {
			case <-flapping:
				cut.Remove()
				return
			case <-time.After(150 * time.Millisecond):
			}
			cut.Remove()
			select {
			case <-flapping:
				return
			case <-time.After(320 * time.Millisecond):
			}
		}
	}()
	// The fault did hit the worker: SQS calls failed and were survived. A batch can drain between
	// two cuts (it takes about a second on a quiet machine); then another batch is queued under the
	// same flapping, at most five, until one did meet a cut.
	faults := func() (failed, unsettled int) {
		return len(h.lines(map[string]any{"error_code": "QUEUE_UNAVAILABLE"})),
			len(h.lines(map[string]any{"msg": "could not settle the message with SQS: it comes back after its visibility timeout"}))
	}
	const n = 30
	var sends []seed.Send
	for batch := 0; batch < 5; batch++ {
		sends = append(sends, h.queued(n, 0)...)
		h.settled(3*time.Minute, sends)
		if failed, unsettled := faults(); failed+unsettled > 0 {
			break
		}
	}
	close(flapping)
	<-flapped
	if s := h.statuses(); s[gift.StatusSent] != len(sends) {
		t.Fatalf("statuses %v, want all %d SENT", s, len(sends))
	}
	for _, s := range sends {
		if c := h.sender.count(s.GiftID); c != 1 {
			t.Errorf("gift %s sent %d times", s.GiftID, c)
		}
	}
	// Messages whose delete was cut come back after their visibility timeout and are deleted
	// then; the queue empties without help.
	testenv.Eventually(t, time.Minute, "the queue to empty", func() (bool, string) {
		d := h.depth(h.queues.URL)
		return d.Visible+d.InFlight+d.Delayed == 0, fmt.Sprintf("%+v", d)
	})
	if d := h.depth(h.queues.DLQURL); d.Visible+d.InFlight+d.Delayed != 0 {
		t.Fatalf("DLQ holds %+v", d)
	}
	failed, unsettled := faults()
	if failed+unsettled == 0 {
		t.Fatalf("no SQS call of the worker failed in %d batches: the fault was not injected", len(sends)/n)
	}
	t.Logf("%d batches; %d failed receives, %d failed settles survived", len(sends)/n, failed, unsettled)
}
