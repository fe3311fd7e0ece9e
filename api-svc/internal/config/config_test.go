package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/config"
)

func TestOutboxClaimLease(t *testing.T) {
	for _, tt := range []struct {
		name    string
		vars    map[string]string
		want    time.Duration
		wantErr string
	}{
		{"defaults to 30s", nil, 30 * time.Second, ""},
		{"longer than the dispatcher's transaction, publish and delete", map[string]string{"OUTBOX_CLAIM_LEASE": "14s"}, 14 * time.Second, ""},
		{"no room for the dispatcher's transaction, publish and delete is refused", map[string]string{"OUTBOX_CLAIM_LEASE": "13s"}, 0,
			"OUTBOX_CLAIM_LEASE (13s) must be longer than DB_QUERY_TIMEOUT + OUTBOX_PUBLISH_TIMEOUT + DB_QUERY_TIMEOUT (13s)"},
		{"room for a relay chunk only is refused", map[string]string{"OUTBOX_CLAIM_LEASE": "9s"}, 0,
			"OUTBOX_CLAIM_LEASE (9s) must be longer than DB_QUERY_TIMEOUT + OUTBOX_PUBLISH_TIMEOUT + DB_QUERY_TIMEOUT (13s)"},
		{"the bound follows both timeouts", map[string]string{"OUTBOX_CLAIM_LEASE": "6s", "OUTBOX_PUBLISH_TIMEOUT": "1s", "DB_QUERY_TIMEOUT": "2s"}, 6 * time.Second, ""},
		{"a long publish timeout is refused", map[string]string{"OUTBOX_CLAIM_LEASE": "5s", "OUTBOX_PUBLISH_TIMEOUT": "2s", "DB_QUERY_TIMEOUT": "1500ms"}, 0,
			"OUTBOX_CLAIM_LEASE (5s) must be longer than DB_QUERY_TIMEOUT + OUTBOX_PUBLISH_TIMEOUT + DB_QUERY_TIMEOUT (5s)"},
		{"the removed relay delay is refused by name", map[string]string{"OUTBOX_RELAY_DELAY": "5s"}, 0, "OUTBOX_RELAY_DELAY was removed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(func(k string) (string, bool) { v, ok := tt.vars[k]; return v, ok })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || c.Outbox.ClaimLease != tt.want {
				t.Fatalf("lease %s (%v), want %s", c.Outbox.ClaimLease, err, tt.want)
			}
		})
	}
}
