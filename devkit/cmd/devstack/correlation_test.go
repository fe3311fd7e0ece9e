package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
)

// One send is found by its correlation id across the whole system (`make run`: API, worker,
// PostgreSQL, the SQS emulator, each a process of its own): the Correlation-Id the client was
// answered with is on the API's access-log line of the send, on its "send accepted" line, and on
// the worker's "gift sent" line of that gift.
func TestOneSendIsFoundByItsCorrelationID(t *testing.T) {
	root, bin := buildDevstack(t)
	st := startDevstack(t, root, bin, "WORKER_FAILURE_RATE=0") // the first attempt sends it: the test waits for no retry
	lines := st.lines
	key := localAPIKey(t, st)

	base := fmt.Sprintf("http://127.0.0.1:%d", st.ports[2])
	client := &http.Client{Timeout: 30 * time.Second} // a guard against a hang
	// "system running" means the services were started: wait until the API answers.
	ready := time.Now().Add(time.Minute) // a guard against a hang, not a measurement
	for {
		r, err := client.Get(base + "/readyz")
		if err == nil {
			_ = r.Body.Close()
			if r.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(ready) {
			t.Fatalf("the API was not ready after a minute (%v):\n%s", err, lines)
		}
		time.Sleep(50 * time.Millisecond) // polling readiness, with the deadline above
	}
	bearer := map[string]string{"Authorization": "Bearer " + key}
	resp, body := post(t, client, base+"/gifts", `{"amount": 500}`, bearer)
	var created struct {
		GiftID string `json:"gift_id"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &created) != nil {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, client, base+"/gifts/"+created.GiftID+"/send", "", map[string]string{"Idempotency-Key": "corr-e2e", "Authorization": "Bearer " + key})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("send: %d %s", resp.StatusCode, body)
	}
	id := resp.Header.Get("Correlation-Id")
	if id == "" {
		t.Fatal("the send's answer has no Correlation-Id")
	}

	var sent map[string]any
	deadline := time.Now().Add(2 * time.Minute) // a guard against a hang, not a measurement
	for sent == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no \"gift sent\" line for %s after 2 minutes:\n%s", created.GiftID, lines)
		}
		sent = lines.find(map[string]string{"service": "worker", "msg": "gift sent", "gift_id": created.GiftID})
		if sent == nil {
			time.Sleep(50 * time.Millisecond) // polling the log for the line, with the deadline above
		}
	}
	access := lines.find(map[string]string{"service": "api", "msg": "http request", "method": "POST", "path": "/gifts/" + created.GiftID + "/send"})
	accepted := lines.find(map[string]string{"service": "api", "msg": "send accepted", "gift_id": created.GiftID})
	for name, line := range map[string]map[string]any{"access log": access, "send accepted": accepted, "gift sent": sent} {
		if line == nil || line["correlation_id"] != id {
			t.Errorf("%s line %v, want correlation_id %s", name, line, id)
		}
	}
}

// localAPIKey reads the key `make run` wrote for giftctl and curl (GIFT_API_KEY in giftctl.env,
// readable by the user alone), and checks it is a key of the client "local" that the database
// knows, active.
func localAPIKey(t *testing.T, st *stack) string {
	t.Helper()
	path := filepath.Join(st.state, "giftctl.env")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600: it holds a key and a password", path, info.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		vars[k] = v
	}
	text := vars["GIFT_API_KEY"]
	key, err := apikey.Parse(text)
	if err != nil {
		t.Fatalf("GIFT_API_KEY=%q in %s: %v\n%s", text, path, err, b)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, vars["DATABASE_URL"]) // as giftctl: gift_operator
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	stored, err := postgres.NewStore(pool, 10*time.Second).LookupAPIKey(ctx, key.ID)
	if err != nil || !key.Matches(stored.SecretHash) || !stored.Active() || stored.Client.Name != "local" {
		t.Fatalf("GIFT_API_KEY's key %s as stored: %+v, %v; want an active key of client local that matches", key.ID, stored, err)
	}
	return text
}

func post(t *testing.T, c *http.Client, url, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// find returns the first JSON line whose fields include every key and value of match, nil if none.
func (l *logLines) find(match map[string]string) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, raw := range l.lines {
		var line map[string]any
		if json.Unmarshal([]byte(raw), &line) != nil {
			continue
		}
		ok := true
		for k, v := range match {
			if fmt.Sprint(line[k]) != v {
				ok = false
				break
			}
		}
		if ok {
			return line
		}
	}
	return nil
}
