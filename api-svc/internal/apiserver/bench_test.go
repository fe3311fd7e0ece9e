package apiserver_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkCreateGift measures POST /gifts through the whole process wiring on a real database,
// for profiling (`go test -run ^$ -bench CreateGift -cpuprofile cpu.out ./api-svc/internal/apiserver/`).
// The system-level figures (against pgbench) come from `make bench`.
func BenchmarkCreateGift(b *testing.B) {
	s := startStack(b, withEnv("LOG_LEVEL", "INFO"))
	c := &http.Client{Transport: keyed(&http.Transport{MaxIdleConnsPerHost: 64}, s.Key)}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Post(s.URL+"/gifts", "application/json", strings.NewReader(`{"amount":1000,"message":"bench"}`))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
