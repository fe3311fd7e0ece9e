package worker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/devkit/testenv"
)

// WORKER_RECEIVE_WAIT=0 leaves the long-poll wait to the queue (ReceiveMessageWaitTimeSeconds, 20 s
// in Terraform). The receive must be bounded past the queue's wait, not cut off while SQS still
// holds the poll open: here the queue waits 11 s, longer than the margin a zero wait alone would
// give, and the first receive returns empty-handed without an error.
func TestAZeroWaitLongPollsForTheQueuesOwnWait(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{wait: queueWait, queueWaitSeconds: 11})
	testenv.Eventually(t, 40*time.Second, "the first receive to return", func() (bool, string) {
		calls, underWay := h.queue.receives()
		return calls-underWay >= 1, fmt.Sprintf("%d receives, %d under way", calls, underWay)
	})
	if errs := h.queue.receiveErrors(); len(errs) != 0 {
		t.Fatalf("a receive on the queue's own wait failed: %v", errs)
	}
	if l := h.lines(map[string]any{"error_code": "QUEUE_UNAVAILABLE"}); len(l) != 0 {
		t.Fatalf("receive logged as failed: %v", l)
	}
}
