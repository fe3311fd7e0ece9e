package outbox_test

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/outbox"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/faultproxy"
)

// The dispatcher's publish and delete have a deadline each. Here SQS takes at least 1 s of the
// 3 s publish deadline and PostgreSQL at least 2.5 s to answer the delete: with one deadline for
// both (as before) the delete ran out of time and the published message stayed in the outbox, to
// be published again by the relay.
func TestDispatcherDeleteIsNotBoundByWhatThePublishLeft(t *testing.T) {
	ctx := context.Background()
	fp := faultproxy.Start(t)

	direct, err := url.Parse(env.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	db := fp.Proxy(t, "postgres", direct.Host)
	proxied := *direct
	proxied.Host = db.Addr()
	pool, err := postgres.OpenPool(ctx, postgres.PoolConfig{URL: proxied.String(), MaxConns: 1, ConnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := postgres.NewStore(pool, 10*time.Second)
	g, err := gift.New(uuid.Nil, gift.NewGift{Amount: 1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateGift(ctx, g); err != nil { // also opens the pool's one connection
		t.Fatal(err)
	}

	emulator, err := url.Parse(env.SQSEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	q := env.NewQueues(t, 5)
	slowSQS := fp.Proxy(t, "sqs", emulator.Host)
	client, err := sqs.NewClient(ctx, sqs.ClientConfig{Region: "ap-northeast-1", Endpoint: "http://" + slowSQS.Addr()})
	if err != nil {
		t.Fatal(err)
	}

	d := outbox.NewDispatcher(ctx, sqs.NewPublisher(client, q.URL), store, slog.New(slog.NewTextHandler(io.Discard, nil)),
		outbox.DispatcherConfig{MaxInFlight: 1, Lease: time.Hour, PublishTimeout: 3 * time.Second, StoreTimeout: 10 * time.Second, RetryDelay: time.Second})
	claim := d.Claim()
	out, err := store.Send(ctx, gift.SendRequest{GiftID: g.ID, RequestID: "k"}, []byte(`{}`), []byte(`{"m":1}`), claim)
	if err != nil {
		t.Fatal(err)
	}
	slowSQS.AddLatency(faultproxy.Upstream, time.Second, 0)
	db.AddLatency(faultproxy.Downstream, 2500*time.Millisecond, 0)
	d.Dispatch(context.Background(), claim, out.OutboxID, `{"m":1}`, uuid.New(), "k", "")
	d.Wait()

	db.RemoveAll()
	b, err := store.OutboxBacklog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b.Pending != 0 {
		t.Fatalf("%d messages left in the outbox after a successful publish", b.Pending)
	}
	if depth, err := sqs.QueueDepth(ctx, q.Client, q.URL); err != nil || depth.Visible != 1 {
		t.Fatalf("queue depth %+v (%v), want the one message", depth, err)
	}
}
