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
		{"longer than one chunk's publish and delete", map[string]string{"OUTBOX_CLAIM_LEASE": "9s"}, 9 * time.Second, ""},
		{"no room for one chunk is refused", map[string]string{"OUTBOX_CLAIM_LEASE": "8s"}, 0, "OUTBOX_CLAIM_LEASE (8s) must be longer than OUTBOX_PUBLISH_TIMEOUT + DB_QUERY_TIMEOUT (8s)"},
		{"the bound follows both timeouts", map[string]string{"OUTBOX_CLAIM_LEASE": "5s", "OUTBOX_PUBLISH_TIMEOUT": "1s", "DB_QUERY_TIMEOUT": "2s"}, 5 * time.Second, ""},
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
