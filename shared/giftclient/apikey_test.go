package giftclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
)

func TestWithAPIKeySendsTheKeyOnEveryRequest(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	c, err := giftclient.NewClient(srv.URL, giftclient.WithAPIKey("gk_k"))
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range []func() (*http.Response, error){
		func() (*http.Response, error) { return c.ListGifts(context.Background(), nil) },
		func() (*http.Response, error) { return c.GetHealthz(context.Background()) },
	} {
		resp, err := call()
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	if len(got) != 2 || got[0] != "Bearer gk_k" || got[1] != "Bearer gk_k" {
		t.Fatalf("Authorization headers %q, want Bearer gk_k on both calls", got)
	}
}
