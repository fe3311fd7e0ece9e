package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

func sendParams(key string) *giftclient.SendGiftParams {
	return &giftclient.SendGiftParams{IdempotencyKey: key}
}

func TestGiftLifecycle(t *testing.T) {
	ctx := context.Background()
	s := startStack(t)
	msg := "お誕生日おめでとう！"

	created, err := s.Client.CreateGiftWithResponse(ctx, nil, giftclient.CreateGiftJSONRequestBody{Amount: 3000, Message: &msg})
	if err != nil || created.StatusCode() != http.StatusCreated {
		t.Fatalf("create: %v %d %s", err, created.StatusCode(), created.Body)
	}
	g := created.JSON201
	if g.Status != giftclient.CreatedGiftStatusCREATED || g.Code == "" || g.Code == g.GiftId.String() {
		t.Fatalf("created gift: %+v", g)
	}
	if loc := created.HTTPResponse.Header.Get("Location"); loc != "/gifts/"+g.GiftId.String() {
		t.Fatalf("Location %q", loc)
	}

	got, err := s.Client.GetGiftWithResponse(ctx, g.GiftId)
	if err != nil || got.JSON200 == nil {
		t.Fatalf("get: %v %s", err, got.Body)
	}
	if got.JSON200.Status != giftclient.GiftStatusCREATED || got.JSON200.Amount != 3000 || *got.JSON200.Message != msg ||
		got.JSON200.LastError != nil || got.JSON200.Code != g.Code {
		t.Fatalf("read back %+v", got.JSON200)
	}

	first, err := s.Client.SendGiftWithResponse(ctx, g.GiftId, sendParams("key-1"))
	if err != nil || first.StatusCode() != http.StatusAccepted {
		t.Fatalf("send: %v %d %s", err, first.StatusCode(), first.Body)
	}
	if first.JSON202.Status != giftclient.SendAcceptedStatusQUEUED || first.JSON202.RequestId != "key-1" || first.JSON202.GiftId != g.GiftId {
		t.Fatalf("send body: %s", first.Body)
	}

	again, err := s.Client.SendGiftWithResponse(ctx, g.GiftId, sendParams("key-1"))
	if err != nil || again.StatusCode() != http.StatusOK || string(again.Body) != string(first.Body) {
		t.Fatalf("replay: %v %d %q, want 200 %q", err, again.StatusCode(), again.Body, first.Body)
	}

	got, _ = s.Client.GetGiftWithResponse(ctx, g.GiftId)
	if got.JSON200.Status != giftclient.GiftStatusQUEUED || !got.JSON200.UpdatedAt.After(got.JSON200.CreatedAt) {
		t.Fatalf("after send: %+v", got.JSON200)
	}

	bodies := receiveAll(t, s.Queues)
	if len(bodies) != 1 {
		t.Fatalf("queue holds %d messages, want 1: %v", len(bodies), bodies)
	}
	m, err := queue.Parse([]byte(bodies[0]))
	if err != nil || m.GiftID != g.GiftId || m.RequestID != "key-1" || m.ForceFailure {
		t.Fatalf("queue message %s: %+v %v", bodies[0], m, err)
	}
	testenv.Eventually(t, 5*time.Second, "the outbox to be empty", func() (bool, string) { return s.outboxPending(t) == 0, "" })

	for _, want := range []string{`"service":"api"`, `"request_id":"key-1"`, `"gift_id":"` + g.GiftId.String() + `"`, `"status":"QUEUED"`} {
		if !strings.Contains(s.Logs.String(), want) {
			t.Errorf("logs lack %s", want)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	s := startStack(t)
	h, err := s.Client.GetHealthzWithResponse(context.Background())
	if err != nil || h.JSON200 == nil || h.JSON200.Status != giftclient.Ok {
		t.Fatalf("healthz: %v %s", err, h.Body)
	}
	r, err := s.Client.GetReadyzWithResponse(context.Background())
	if err != nil || r.JSON200 == nil || r.JSON200.Status != giftclient.Ready {
		t.Fatalf("readyz: %v %s", err, r.Body)
	}
}

func TestSendConflicts(t *testing.T) {
	ctx := context.Background()
	s := startStack(t)

	for _, final := range []string{"SENT", "FAILED"} {
		t.Run("new key on a "+final+" gift conflicts, the first key still replays", func(t *testing.T) {
			g := s.createGift(t)
			first, _ := s.Client.SendGiftWithResponse(ctx, g.GiftId, sendParams("first"))
			if first.StatusCode() != http.StatusAccepted {
				t.Fatalf("send: %d %s", first.StatusCode(), first.Body)
			}
			if _, err := s.Pool.Exec(ctx, `UPDATE gifts SET status = $2 WHERE id = $1`, g.GiftId, final); err != nil {
				t.Fatal(err)
			}
			other, _ := s.Client.SendGiftWithResponse(ctx, g.GiftId, sendParams("second"))
			if other.StatusCode() != http.StatusConflict {
				t.Fatalf("new key: %d %s", other.StatusCode(), other.Body)
			}
			if code, rid := envelope(t, other.Body); code != "CONFLICT" || rid == nil || *rid != "second" {
				t.Fatalf("envelope %s", other.Body)
			}
			replay, _ := s.Client.SendGiftWithResponse(ctx, g.GiftId, sendParams("first"))
			if replay.StatusCode() != http.StatusOK || string(replay.Body) != string(first.Body) {
				t.Fatalf("replay: %d %s", replay.StatusCode(), replay.Body)
			}
		})
	}

	t.Run("new key while queued conflicts", func(t *testing.T) {
		g := s.createGift(t)
		_, _ = s.Client.SendGiftWithResponse(ctx, g.GiftId, sendParams("a"))
		other, _ := s.Client.SendGiftWithResponse(ctx, g.GiftId, sendParams("b"))
		if other.StatusCode() != http.StatusConflict {
			t.Fatalf("got %d %s", other.StatusCode(), other.Body)
		}
	})

	t.Run("unknown gift is not found", func(t *testing.T) {
		resp, _ := s.Client.SendGiftWithResponse(ctx, uuid.New(), sendParams("a"))
		if resp.StatusCode() != http.StatusNotFound {
			t.Fatalf("got %d %s", resp.StatusCode(), resp.Body)
		}
		get, _ := s.Client.GetGiftWithResponse(ctx, uuid.New())
		if get.StatusCode() != http.StatusNotFound {
			t.Fatalf("get: %d %s", get.StatusCode(), get.Body)
		}
		if code, _ := envelope(t, get.Body); code != "NOT_FOUND" {
			t.Fatalf("code %s", code)
		}
	})
}

func TestFiftyConcurrentSendsWithDifferentKeysQueueOnce(t *testing.T) {
	ctx := context.Background()
	s := startStack(t)
	g := s.createGift(t)

	const n = 50
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := s.Client.SendGiftWithResponse(ctx, g.GiftId, sendParams("key-"+string(rune('A'+i))))
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = resp.StatusCode()
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, st := range statuses {
		count[st]++
	}
	if count[http.StatusAccepted] != 1 || count[http.StatusConflict] != n-1 {
		t.Fatalf("statuses %v, want one 202 and %d 409", count, n-1)
	}
	if got := receiveAll(t, s.Queues); len(got) != 1 {
		t.Fatalf("queue holds %d messages, want exactly 1", len(got))
	}
}

func TestFiftyConcurrentSendsWithTheSameKeyGetTheSameBody(t *testing.T) {
	ctx := context.Background()
	s := startStack(t)
	g := s.createGift(t)

	const n = 50
	bodies := make([]string, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := s.Client.SendGiftWithResponse(ctx, g.GiftId, sendParams("same-key"))
			if err != nil {
				t.Error(err)
				return
			}
			bodies[i], statuses[i] = string(resp.Body), resp.StatusCode()
		})
	}
	wg.Wait()
	accepted := 0
	for i := range n {
		if bodies[i] != bodies[0] {
			t.Fatalf("body %d %q differs from %q", i, bodies[i], bodies[0])
		}
		switch statuses[i] {
		case http.StatusAccepted:
			accepted++
		case http.StatusOK:
		default:
			t.Fatalf("status %d", statuses[i])
		}
	}
	if accepted != 1 {
		t.Fatalf("%d requests got 202, want exactly 1 (the rest replay with 200)", accepted)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(bodies[0]), &m); err != nil || m["request_id"] != "same-key" {
		t.Fatalf("body %s", bodies[0])
	}
	if got := receiveAll(t, s.Queues); len(got) != 1 {
		t.Fatalf("queue holds %d messages, want exactly 1", len(got))
	}
}

func TestForceFailureHeader(t *testing.T) {
	ctx := context.Background()
	t.Run("refused unless failure injection is enabled", func(t *testing.T) {
		s := startStack(t)
		g := s.createGift(t)
		yes := true
		resp, _ := s.Client.SendGiftWithResponse(ctx, g.GiftId, &giftclient.SendGiftParams{IdempotencyKey: "k", XForceFailure: &yes})
		if resp.StatusCode() != http.StatusBadRequest {
			t.Fatalf("got %d %s", resp.StatusCode(), resp.Body)
		}
		if got, _ := s.Client.GetGiftWithResponse(ctx, g.GiftId); got.JSON200.Status != giftclient.GiftStatusCREATED {
			t.Fatalf("a refused send changed the gift: %s", got.Body)
		}
	})
	t.Run("travels in the queue message when enabled", func(t *testing.T) {
		s := startStack(t, withEnv("FAILURE_INJECTION_ENABLED", "true"))
		g := s.createGift(t)
		yes := true
		resp, _ := s.Client.SendGiftWithResponse(ctx, g.GiftId, &giftclient.SendGiftParams{IdempotencyKey: "k", XForceFailure: &yes})
		if resp.StatusCode() != http.StatusAccepted {
			t.Fatalf("got %d %s", resp.StatusCode(), resp.Body)
		}
		bodies := receiveAll(t, s.Queues)
		if len(bodies) != 1 {
			t.Fatalf("%d messages", len(bodies))
		}
		if m, err := queue.Parse([]byte(bodies[0])); err != nil || !m.ForceFailure {
			t.Fatalf("message %s lacks force_failure", bodies[0])
		}
	})
}

// A client that gives up is not a server error: the request is logged as canceled (499), at INFO.
func TestClientThatGivesUpIsLoggedAsCanceledNotAsAnError(t *testing.T) {
	ctx := context.Background()
	s := startStack(t)
	g := s.createGift(t)

	// Hold the gift's row lock so the send blocks inside its transaction.
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // released below already; a second rollback is a no-op
	if _, err := tx.Exec(ctx, `SELECT 1 FROM gifts WHERE id = $1 FOR UPDATE`, g.GiftId); err != nil {
		t.Fatal(err)
	}
	reqCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := s.Client.SendGiftWithResponse(reqCtx, g.GiftId, sendParams("impatient")); err == nil {
		t.Fatal("the send answered while the gift was locked")
	}
	testenv.Eventually(t, 10*time.Second, "the canceled request's access-log line", func() (bool, string) {
		return strings.Contains(s.Logs.String(), `"http_status":499`), "no line with http_status 499 yet"
	})
	_ = tx.Rollback(ctx)
	for _, line := range strings.Split(s.Logs.String(), "\n") {
		if strings.Contains(line, `"http_status":499`) &&
			(!strings.Contains(line, `"level":"INFO"`) || !strings.Contains(line, `"status":"canceled"`)) {
			t.Fatalf("canceled request logged as %s", line)
		}
	}
	// The lock released, the gift is still CREATED and can be sent.
	resp, _ := s.Client.SendGiftWithResponse(ctx, g.GiftId, sendParams("patient"))
	if resp.StatusCode() != http.StatusAccepted {
		t.Fatalf("send after the canceled one: %d %s", resp.StatusCode(), resp.Body)
	}
}
