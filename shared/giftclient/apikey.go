package giftclient

import (
	"context"
	"net/http"
)

// WithAPIKey makes the client send key, the caller's API key (gk_...), as "Authorization: Bearer
// <key>" on every request (API 2.0; the probes need none and ignore it). Written by hand beside the
// generated client.
func WithAPIKey(key string) ClientOption {
	return WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+key)
		return nil
	})
}
