package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"testing"
	"time"

	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/servers"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// SQS down: sends are still accepted (the message waits in the outbox) and every one of them is
// delivered once SQS is back, by the relay, with no operator.
func TestSendsAcceptedWhileSQSIsDownAreDeliveredWhenItReturns(t *testing.T) {
	ctx := context.Background()
	q := startOwnSQS(t, "outage")
	s := startStack(t,
		withEnv("SQS_ENDPOINT", q.Endpoint()), withEnv("SQS_QUEUE_URL", q.URLs.URL),
		withEnv("OUTBOX_PUBLISH_TIMEOUT", "500ms"))

	q.Down()
	const n = 5
	want := make([]string, 0, n)
	for i := range n {
		g := s.createGift(t)
		key := "outage-" + strconv.Itoa(i)
		resp, err := s.Client.SendGiftWithResponse(ctx, g.GiftId, sendParams(key))
		if err != nil || resp.StatusCode() != http.StatusAccepted {
			t.Fatalf("send while SQS is down: %v %d %s", err, resp.StatusCode(), resp.Body)
		}
		want = append(want, g.GiftId.String())
	}
	// The relay has tried and failed at least once per message, and kept them.
	testenv.Eventually(t, 10*time.Second, "failed relay attempts to be recorded", func() (bool, string) {
		var untried int
		_ = s.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox_messages WHERE attempts = 0`).Scan(&untried)
		pending := s.outboxPending(t)
		return pending == n && untried == 0, fmt.Sprintf("%d pending, %d never tried", pending, untried)
	})

	q.Up(t) // SQS comes back
	testenv.Eventually(t, 15*time.Second, "the outbox to drain", func() (bool, string) { return s.outboxPending(t) == 0, "" })

	var got []string
	for _, b := range receiveAll(t, testenv.Queues{Client: q.Client, QueuePairURLs: q.URLs}) {
		m, err := queue.Parse([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.GiftID.String())
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(got) != n || got[0] != want[0] || got[n-1] != want[n-1] {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

// ownSQS is an SQS emulator of one test's own, with one queue pair, so that the test can take
// SQS down and bring it back on the same address. It comes back empty, and the queues are
// recreated, as Terraform keeps them in AWS.
type ownSQS struct {
	emu    *servers.SQSEmulator
	pair   sqs.QueuePair
	Client *awssqs.Client
	URLs   sqs.QueuePairURLs
}

func startOwnSQS(t *testing.T, name string) *ownSQS {
	t.Helper()
	ctx := context.Background()
	emu, err := servers.StartSQSEmulator(ctx, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := &ownSQS{emu: emu, pair: sqs.QueuePair{Name: name, DLQName: name + "-dlq", MaxReceiveCount: 5}}
	t.Cleanup(func() { q.emu.Stop() })
	if q.Client, err = sqs.NewClient(ctx, sqs.ClientConfig{Region: "ap-northeast-1", Endpoint: emu.Endpoint}); err != nil {
		t.Fatal(err)
	}
	if q.URLs, err = sqs.EnsureQueues(ctx, q.Client, q.pair); err != nil {
		t.Fatal(err)
	}
	return q
}

func (q *ownSQS) Endpoint() string { return q.emu.Endpoint }

// Down stops the emulator: SQS refuses connections.
func (q *ownSQS) Down() { q.emu.Stop() }

// Up starts it again on the same port and recreates the queue pair.
func (q *ownSQS) Up(t *testing.T) {
	t.Helper()
	emu, err := servers.StartSQSEmulator(context.Background(), q.emu.Port, nil)
	if err != nil {
		t.Fatal(err)
	}
	q.emu = emu
	if _, err := sqs.EnsureQueues(context.Background(), q.Client, q.pair); err != nil {
		t.Fatal(err)
	}
}

// PostgreSQL down: readiness turns 503 and requests fail fast with the envelope; when it comes
// back the same process serves again.
func TestDatabaseOutageIsReportedAndRecoveredWithoutRestart(t *testing.T) {
	ctx := context.Background()
	pg, err := servers.StartPostgres(ctx, servers.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pg.Stop() }()
	s := startStack(t, withEnv("DATABASE_URL", migratedDatabase(t, pg)), withEnv("DB_CONNECT_TIMEOUT", "500ms"))
	g := s.createGift(t)

	pg.Kill()
	testenv.Eventually(t, 5*time.Second, "readyz to report not ready", func() (bool, string) {
		r, err := s.Client.GetReadyzWithResponse(ctx)
		if err != nil {
			return false, err.Error()
		}
		return r.StatusCode() == http.StatusServiceUnavailable && r.JSON503 != nil &&
			r.JSON503.Status == giftclient.NotReady && *r.JSON503.Reason == "database unreachable", string(r.Body)
	})
	for name, call := range map[string]func() (int, []byte, http.Header){
		"get": func() (int, []byte, http.Header) {
			r, _ := s.Client.GetGiftWithResponse(ctx, g.GiftId)
			return r.StatusCode(), r.Body, r.HTTPResponse.Header
		},
		"create": func() (int, []byte, http.Header) {
			r, _ := s.Client.CreateGiftWithResponse(ctx, nil, giftclient.CreateGiftJSONRequestBody{Amount: 1})
			return r.StatusCode(), r.Body, r.HTTPResponse.Header
		},
		"send": func() (int, []byte, http.Header) {
			r, _ := s.Client.SendGiftWithResponse(ctx, g.GiftId, sendParams("during-outage"))
			return r.StatusCode(), r.Body, r.HTTPResponse.Header
		},
	} {
		status, body, header := call()
		if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" {
			t.Fatalf("%s during the outage: %d %s", name, status, body)
		}
		if code, _ := envelope(t, body); code != "SERVICE_UNAVAILABLE" {
			t.Fatalf("%s: code %s", name, code)
		}
	}
	if h, _ := s.Client.GetHealthzWithResponse(ctx); h.StatusCode() != http.StatusOK {
		t.Fatal("liveness must not depend on the database")
	}

	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "readyz to recover", func() (bool, string) {
		r, err := s.Client.GetReadyzWithResponse(ctx)
		if err != nil {
			return false, err.Error()
		}
		return r.StatusCode() == http.StatusOK, string(r.Body)
	})
	resp, _ := s.Client.SendGiftWithResponse(ctx, g.GiftId, sendParams("after-outage"))
	if resp.StatusCode() != http.StatusAccepted {
		t.Fatalf("send after recovery: %d %s", resp.StatusCode(), resp.Body)
	}
}

// migratedDatabase creates a migrated database on a cluster of the test's own.
func migratedDatabase(t *testing.T, pg *servers.Postgres) string {
	t.Helper()
	if err := testenv.MigrateURL(context.Background(), pg.URL); err != nil {
		t.Fatal(err)
	}
	return pg.URL
}
