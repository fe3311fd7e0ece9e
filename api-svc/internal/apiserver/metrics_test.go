package apiserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// The API's metrics reach a DogStatsD listener with their names, their own tags and the unified
// service tags: the counters the availability and latency SLOs are computed from, and the
// business counters of docs/observability.md.
func TestMetricsReachTheAgent(t *testing.T) {
	agent := testenv.NewAgent(t)
	s := startStack(t, withEnv("DD_AGENT_HOST", agent.Host()), withEnv("DD_DOGSTATSD_PORT", agent.Port()),
		withEnv("DD_SERVICE", "gift-api"), withEnv("DD_ENV", "test"), withEnv("DD_VERSION", "1.2.3"))

	g := s.createGift(t)
	key := uuid.NewString()
	for range 2 { // accepted, then replayed
		resp, err := s.Client.SendGiftWithResponse(context.Background(), g.GiftId, &giftclient.SendGiftParams{IdempotencyKey: key})
		if err != nil || (resp.StatusCode() != 202 && resp.StatusCode() != 200) {
			t.Fatalf("send: %v %d %s", err, resp.StatusCode(), resp.Body)
		}
	}
	other := uuid.NewString() // a second key while QUEUED: 409
	if resp, err := s.Client.SendGiftWithResponse(context.Background(), g.GiftId, &giftclient.SendGiftParams{IdempotencyKey: other}); err != nil || resp.StatusCode() != 409 {
		t.Fatalf("conflicting send: %v %d", err, resp.StatusCode())
	}
	if resp, err := s.Client.GetGiftWithResponse(context.Background(), uuid.New()); err != nil || resp.StatusCode() != 404 {
		t.Fatalf("get unknown gift: %v %d", err, resp.StatusCode())
	}
	if err := s.stop(); err != nil { // closing the client flushes what it buffered
		t.Fatal(err)
	}

	unified := []string{"service:gift-api", "env:test", "version:1.2.3"}
	for _, want := range []struct {
		name string
		tags []string
	}{
		{"gift.api.requests", []string{"operation:create_gift", "status_class:2xx"}},
		{"gift.api.requests", []string{"operation:send_gift", "status_class:2xx"}},
		{"gift.api.requests", []string{"operation:send_gift", "status_class:4xx"}},
		{"gift.api.requests", []string{"operation:get_gift", "status_class:4xx"}},
		{"gift.api.request.duration", []string{"operation:send_gift", "status_class:2xx"}},
		{"gift.api.gifts.created", nil},
		{"gift.api.sends", []string{"result:accepted"}},
		{"gift.api.sends", []string{"result:replayed"}},
		{"gift.api.sends", []string{"result:conflicted"}},
	} {
		m := agent.WaitFor(t, 10*time.Second, want.name, append(want.tags, unified...)...)
		if want.name == "gift.api.requests" && !m.HasTags("fast:true") && !m.HasTags("fast:false") {
			t.Errorf("%s without the fast tag the latency SLO counts: %v", want.name, m.Tags)
		}
	}
}
