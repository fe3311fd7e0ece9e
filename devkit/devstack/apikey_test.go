package devstack_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gift-platform/ecs-sre-gift-worker/devkit/devstack"
)

func TestBearerSkipsTheProbes(t *testing.T) {
	edit := devstack.Bearer("k")
	for path, want := range map[string]string{"/gifts": "Bearer k", "/gifts/x/send": "Bearer k", "/readyz": "", "/healthz": ""} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if err := edit(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if got := req.Header.Get("Authorization"); got != want {
			t.Errorf("%s: Authorization %q, want %q", path, got, want)
		}
	}
}
