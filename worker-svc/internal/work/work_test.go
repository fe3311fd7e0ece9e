package work_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/work"
)

// A body that is not a send request is released to reach the DLQ at once: no retry can fix it, so
// Work asks nothing of the store, the sender or the DLQ (the Runner here has none).
func TestABodyThatIsNotASendRequestIsReleasedUntouched(t *testing.T) {
	var logs testenv.LogBuffer
	j := work.NewJob(queue.Received{ID: "m-1", Body: `{"gift_id":"not a uuid"}`, ReceiveCount: 1}, time.Now(), logging.New(&logs, "worker", 0))
	o := (&work.Runner{MaxAttempts: 5}).Work(context.Background(), j)
	if want := (work.Outcome{Action: work.Release, Status: work.StatusInvalid}); o != want {
		t.Fatalf("Work = %+v, want %+v", o, want)
	}
	if !strings.Contains(logs.String(), `"error_code":"`+work.CodeMessageInvalid+`"`) {
		t.Fatalf("no %s line:\n%s", work.CodeMessageInvalid, logs.String())
	}
}
