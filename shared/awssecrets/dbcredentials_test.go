package awssecrets

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// clock is a settable time for the cache.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newCreds(secret *testenv.Secret) (*DBCredentials, *clock) {
	clk := &clock{t: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)}
	c := NewDBCredentials(secret, testenv.SecretARN, time.Minute)
	c.now = clk.now
	return c, clk
}

func password(t *testing.T, c *DBCredentials) string {
	t.Helper()
	user, pw, err := c.Credentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if user != "app" {
		t.Fatalf("user %q", user)
	}
	return pw
}

func TestDBCredentials(t *testing.T) {
	t.Run("cached_for_the_TTL_then_read_again", func(t *testing.T) {
		secret := testenv.NewSecret("app", "v1")
		c, clk := newCreds(secret)
		password(t, c)
		secret.Set("v2")
		clk.advance(59 * time.Second)
		if pw := password(t, c); pw != "v1" || secret.Reads() != 1 {
			t.Fatalf("within the TTL: %q after %d reads", pw, secret.Reads())
		}
		clk.advance(time.Second)
		if pw := password(t, c); pw != "v2" || secret.Reads() != 2 {
			t.Fatalf("after the TTL: %q after %d reads", pw, secret.Reads())
		}
	})

	t.Run("a_refused_password_is_read_again_once_however_many_connections_report_it", func(t *testing.T) {
		secret := testenv.NewSecret("app", "v1")
		c, _ := newCreds(secret)
		password(t, c)
		secret.Set("v2")
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				c.Refused("v1")
				if _, _, err := c.Credentials(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if pw := password(t, c); pw != "v2" || secret.Reads() != 2 {
			t.Fatalf("after the refusals: %q after %d reads; want v2 after 2", pw, secret.Reads())
		}
		c.Refused("v1") // a late report about the old password changes nothing
		if pw := password(t, c); pw != "v2" || secret.Reads() != 2 {
			t.Fatalf("after a late refusal: %q after %d reads", pw, secret.Reads())
		}
	})

	t.Run("a_reread_password_refused_again_is_read_at_most_once_per_floor", func(t *testing.T) {
		secret := testenv.NewSecret("app", "v1")
		c, clk := newCreds(secret)
		password(t, c)
		c.Refused("v1") // the database moved to v2, the secret has not yet
		password(t, c)
		c.Refused("v1")
		if password(t, c); secret.Reads() != 2 {
			t.Fatalf("%d reads within the floor; want 2", secret.Reads())
		}
		clk.advance(RereadFloor)
		c.Refused("v1")
		secret.Set("v2")
		if pw := password(t, c); pw != "v2" || secret.Reads() != 3 {
			t.Fatalf("after the floor: %q after %d reads", pw, secret.Reads())
		}
	})

	t.Run("Secrets_Manager_down_keeps_an_unrefused_copy_and_fails_without_one", func(t *testing.T) {
		secret := testenv.NewSecret("app", "v1")
		c, clk := newCreds(secret)
		password(t, c)
		secret.Fail(errors.New("dial tcp: connection refused"))
		clk.advance(2 * time.Minute)
		if pw := password(t, c); pw != "v1" {
			t.Fatalf("expired copy while Secrets Manager is down: %q", pw)
		}
		c.Refused("v1")
		if _, _, err := c.Credentials(context.Background()); err == nil {
			t.Fatal("a refused copy was served while Secrets Manager is down")
		}
		secret.Fail(nil)
		secret.Set("v2")
		if pw := password(t, c); pw != "v2" {
			t.Fatalf("after Secrets Manager is back: %q", pw)
		}
	})
}
