package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// One send is found by its correlation id across the whole system (`make run`: API, worker,
// PostgreSQL, the SQS emulator, each a process of its own): the Correlation-Id the client was
// answered with is on the API's access-log line of the send, on its "send accepted" line, and on
// the worker's "gift sent" line of that gift.
func TestOneSendIsFoundByItsCorrelationID(t *testing.T) {
	root, bin := buildDevstack(t)
	ports := freePorts(t, 4)
	cmd := exec.Command(bin)
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"DEVSTACK_STATE_DIR="+t.TempDir(),
		fmt.Sprintf("DEVSTACK_PG_PORT=%d", ports[0]),
		fmt.Sprintf("SQS_EMULATOR_PORT=%d", ports[1]),
		fmt.Sprintf("API_PORT=%d", ports[2]),
		fmt.Sprintf("WORKER_HEALTH_ADDR=127.0.0.1:%d", ports[3]),
		"WORKER_FAILURE_RATE=0", // the first attempt sends it: the test waits for no retry
	)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := &logLines{running: make(chan struct{})}
	scanned := make(chan struct{})
	go func() { defer close(scanned); lines.scan(stdout) }()
	t.Cleanup(func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		<-scanned
		_ = cmd.Wait()
	})
	select {
	case <-lines.running:
	case <-scanned:
		t.Fatalf("devstack ended before the system was running:\n%s", lines)
	case <-time.After(3 * time.Minute): // a guard against a hang, not a measurement
		t.Fatalf("the system was not running after 3 minutes:\n%s", lines)
	}

	base := fmt.Sprintf("http://127.0.0.1:%d", ports[2])
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
	resp, body := post(t, client, base+"/gifts", `{"amount": 500}`, nil)
	var created struct {
		GiftID string `json:"gift_id"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &created) != nil {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, client, base+"/gifts/"+created.GiftID+"/send", "", map[string]string{"Idempotency-Key": "corr-e2e"})
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
