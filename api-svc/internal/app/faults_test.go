package app_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/devkit/devstack"
	"github.com/gift-platform/ecs-sre-gift-worker/devkit/testenv"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
)

// SQS down: sends are still accepted (the message waits in the outbox) and every one of them is
// delivered once SQS is back, by the relay, with no operator.
func TestSendsAcceptedWhileSQSIsDownAreDeliveredWhenItReturns(t *testing.T) {
	ctx := context.Background()
	emu, err := devstack.StartSQSEmulator(ctx, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { emu.Stop() }()
	client, err := sqs.NewClient(ctx, sqs.ClientConfig{Region: "ap-northeast-1", Endpoint: emu.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	pair := sqs.QueuePair{Name: "outage", DLQName: "outage-dlq", MaxReceiveCount: 5}
	urls, err := sqs.EnsureQueues(ctx, client, pair)
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t,
		withEnv("SQS_ENDPOINT", emu.Endpoint), withEnv("SQS_QUEUE_URL", urls.URL),
		withEnv("OUTBOX_RELAY_DELAY", "100ms"), withEnv("OUTBOX_PUBLISH_TIMEOUT", "500ms"))

	emu.Stop()
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

	// SQS comes back (the emulator restarts empty: the queues are recreated as Terraform would
	// have kept them).
	emu, err = devstack.StartSQSEmulator(ctx, emu.Port, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqs.EnsureQueues(ctx, client, pair); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "the outbox to drain", func() (bool, string) { return s.outboxPending(t) == 0, "" })

	var got []string
	for _, b := range receiveAll(t, testenv.Queues{Client: client, QueuePairURLs: urls}) {
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

// PostgreSQL down: readiness turns 503 and requests fail fast with the envelope; when it comes
// back the same process serves again.
func TestDatabaseOutageIsReportedAndRecoveredWithoutRestart(t *testing.T) {
	ctx := context.Background()
	pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{})
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
			r, _ := s.Client.CreateGiftWithResponse(ctx, giftclient.CreateGiftJSONRequestBody{Amount: 1})
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
func migratedDatabase(t *testing.T, pg *devstack.Postgres) string {
	t.Helper()
	if err := testenv.MigrateURL(context.Background(), pg.URL); err != nil {
		t.Fatal(err)
	}
	return pg.URL
}
