package giftctl_test

import (
	"strings"
	"testing"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/giftctl"
)

func TestLoad(t *testing.T) {
	lookup := func(vars map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	c, err := giftctl.Load(lookup(nil))
	if err != nil || c.APIURL != giftctl.DefaultAPIURL || c.DLQURL != "" || c.Queue.Name != "gift-send" {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c, err = giftctl.Load(lookup(map[string]string{"API_URL": "http://api:8080/", "SQS_DLQ_URL": "http://q/dlq"}))
	if err != nil || c.APIURL != "http://api:8080" || c.DLQURL != "http://q/dlq" {
		t.Fatalf("set: %+v, %v", c, err)
	}
	_, err = giftctl.Load(lookup(map[string]string{"DB_MAX_CONNS": "0", "DB_CONNECT_TIMEOUT": "soon"}))
	for _, want := range []string{"DB_MAX_CONNS", "DB_CONNECT_TIMEOUT"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}
