package httpapi

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/auth"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/ratelimit"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// The handler tests without a database check keys with the real checker (auth.Checker) over keys
// held in memory; the checker against the real store is tested in apiserver.
var testKeyText, testClient = func() (string, gift.Client) {
	text, _, err := apikey.New()
	if err != nil {
		panic(err)
	}
	return text, gift.Client{ID: uuid.MustParse("0193a000-0000-7000-8000-000000000001"), Name: "test-client",
		Limit: gift.RateLimit{PerSecond: 1e9, Burst: 1 << 30}}
}()

type memoryKeys map[string]gift.StoredKey

func (m memoryKeys) LookupAPIKey(_ context.Context, id string) (gift.StoredKey, error) {
	if k, ok := m[id]; ok {
		return k, nil
	}
	return gift.StoredKey{}, gift.ErrKeyNotFound
}

func withTestAuth(o Options) Options {
	k, err := apikey.Parse(testKeyText)
	if err != nil {
		panic(err)
	}
	h := k.Hash()
	o.Keys = auth.NewChecker(memoryKeys{k.ID: {ID: k.ID, Client: testClient, SecretHash: h[:]}}, auth.Config{TTL: 30e9, Size: 100})
	o.Limiter = ratelimit.New()
	return o
}

func authorize(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testKeyText) }
