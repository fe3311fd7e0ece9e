package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/outbox"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, testenv.Needs{Postgres: true, SQS: true}, &env) }

type noGauges struct{}

func (noGauges) Gauge(string, float64) {}

// crashingStore is the real store, except that the first delete never happens and the relay is
// stopped right there: a task that dies between SQS accepting a chunk and the outbox delete.
type crashingStore struct {
	*postgres.Store
	once  sync.Once
	crash context.CancelFunc
}

func (c *crashingStore) DeleteOutbox(ctx context.Context, token uuid.UUID, ids ...int64) (int64, error) {
	crashed := false
	c.once.Do(func() { crashed = true; c.crash() })
	if crashed {
		return 0, errors.New("the task died before the delete")
	}
	return c.Store.DeleteOutbox(ctx, token, ids...)
}

func relayConfig() outbox.RelayConfig {
	return outbox.RelayConfig{
		Interval: 20 * time.Millisecond, BatchSize: 100, Lease: 2 * time.Second, MaxBackoff: 100 * time.Millisecond,
		PublishTimeout: 500 * time.Millisecond, StoreTimeout: 500 * time.Millisecond,
		ReportInterval: time.Hour, StaleAfter: time.Hour,
	}
}

// The duplicate bound of docs/architecture.md: a relay that dies after SQS accepted a chunk and
// before it deleted it leaves that chunk, and only that chunk, to be published again; the rows it
// had claimed but not sent are sent once, by the next relay, after the lease.
func TestACrashBetweenPublishAndDeleteDuplicatesAtMostOneChunk(t *testing.T) {
	ctx := context.Background()
	_, store := env.NewStore(t)
	q := env.NewQueues(t, 5)
	const n = 45
	for i := range n {
		g, err := gift.New(uuid.Nil, gift.NewGift{Amount: 1}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := store.CreateGift(ctx, g); err != nil {
			t.Fatal(err)
		}
		body, err := queue.Message{GiftID: g.ID, RequestID: fmt.Sprint(i)}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Send(ctx, gift.SendRequest{GiftID: g.ID, RequestID: fmt.Sprint(i)}, []byte(`{}`), body, gift.OutboxClaim{}); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	publisher := sqs.NewPublisher(q.Client, q.URL)

	crashCtx, crash := context.WithCancel(ctx)
	first := outbox.NewRelay(&crashingStore{Store: store, crash: crash}, publisher, noGauges{}, log, relayConfig())
	first.Run(crashCtx) // returns at the crash, after one chunk of 10 went to SQS

	next, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); outbox.NewRelay(store, publisher, noGauges{}, log, relayConfig()).Run(next) }()
	testenv.Eventually(t, time.Minute, "the next relay to drain the outbox", func() (bool, string) {
		b, err := store.OutboxBacklog(ctx)
		if err != nil {
			return false, err.Error()
		}
		return b.Pending == 0, fmt.Sprintf("%d pending", b.Pending)
	})
	stop()
	<-done

	perGift := map[string]int{}
	total := 0
	for {
		out, err := q.Client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			msg, err := queue.Parse([]byte(aws.ToString(m.Body)))
			if err != nil {
				t.Fatal(err)
			}
			perGift[msg.GiftID.String()]++
			total++
		}
	}
	twice := 0
	for _, c := range perGift {
		if c > 1 {
			twice++
		}
	}
	if len(perGift) != n {
		t.Fatalf("messages for %d gifts on the queue, want %d", len(perGift), n)
	}
	if twice != queue.MaxBatch || total != n+queue.MaxBatch {
		t.Fatalf("%d messages for %d sends, %d gifts twice: want exactly the crashed chunk (%d) again", total, n, twice, queue.MaxBatch)
	}
}
