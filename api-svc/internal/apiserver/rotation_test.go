package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/config"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// The database password rotates behind DB_SECRET_ARN (a stand-in secret source: the Secrets Manager
// client's interface, the production reading code). Connections are recycled every 20 ms here, so
// new ones are opened all the time, as they would be over an hour in production.
//   - Rotation as RDS does it (database and secret together): every request succeeds, and the
//     secret is read again exactly once.
//   - The secret lagging behind the database: requests answer 503 SERVICE_UNAVAILABLE with
//     Retry-After, never 500, and succeed again once the secret has the new password.
func TestPasswordRotation(t *testing.T) {
	ctx := context.Background()
	cluster := testenv.StartPasswordCluster(t)
	url := cluster.NewRole(t, "gift_api", "v1") + "&pool_max_conn_lifetime=20ms"
	secret := testenv.NewSecret("gift_api", "v1")
	s := startStack(t, withEnv("DATABASE_URL", url), withEnv("DB_SECRET_ARN", testenv.SecretARN),
		withConfig(func(c *config.Config) { c.Database.Secrets = secret }))
	g := s.createGift(t)
	get := func() (int, []byte, http.Header) {
		r, err := s.Client.GetGiftWithResponse(ctx, g.GiftId)
		if err != nil {
			t.Fatal(err)
		}
		return r.StatusCode(), r.Body, r.HTTPResponse.Header
	}

	reads := secret.Reads()
	secret.Set("v2")
	cluster.SetPassword(t, "gift_api", "v2")
	testenv.Eventually(t, 10*time.Second, "the secret read again after the rotation", func() (bool, string) {
		if status, body, _ := get(); status != http.StatusOK {
			t.Fatalf("request after the rotation: %d %s", status, body)
		}
		return secret.Reads() > reads, fmt.Sprintf("%d reads", secret.Reads()-reads)
	})
	for range 20 { // connections keep being recycled: all of them now use v2
		if status, body, _ := get(); status != http.StatusOK {
			t.Fatalf("request after the rotation: %d %s", status, body)
		}
	}
	if n := secret.Reads() - reads; n != 1 {
		t.Fatalf("the secret was read %d times after one rotation; want once", n)
	}

	cluster.SetPassword(t, "gift_api", "v3") // the secret still holds v2
	testenv.Eventually(t, 10*time.Second, "503 while the secret lags", func() (bool, string) {
		status, body, header := get()
		switch status {
		case http.StatusOK: // a connection opened before the change, not yet recycled
			return false, "200"
		case http.StatusServiceUnavailable:
			if code, _ := envelope(t, body); code != "SERVICE_UNAVAILABLE" || header.Get("Retry-After") == "" {
				t.Fatalf("503 without the envelope or Retry-After: %s %v", body, header)
			}
			return true, ""
		}
		t.Fatalf("while the secret lags: %d %s; want 503", status, body)
		return false, ""
	})
	if r, err := s.Client.GetReadyzWithResponse(ctx); err != nil || r.StatusCode() != http.StatusServiceUnavailable {
		t.Fatalf("readyz while the secret lags: %v %d", err, r.StatusCode())
	}

	secret.Set("v3")
	testenv.Eventually(t, 10*time.Second, "requests to succeed once the secret has caught up", func() (bool, string) {
		status, body, _ := get()
		if status != http.StatusOK && status != http.StatusServiceUnavailable {
			t.Fatalf("after the secret caught up: %d %s", status, body)
		}
		return status == http.StatusOK, fmt.Sprint(status)
	})
}
