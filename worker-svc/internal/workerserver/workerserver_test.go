package workerserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/config"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/seed"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/workerserver"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, testenv.Needs{Postgres: true, SQS: true}, &env) }

// load reads the worker's configuration for a fresh database and the queue pair q, as main does,
// with extra overriding variables, and logs into logs.
func load(t *testing.T, dbURL string, q testenv.Queues, logs *testenv.LogBuffer, extra map[string]string) config.Config {
	t.Helper()
	vars := map[string]string{
		"DATABASE_URL":             env.RoleURL(t, dbURL, testenv.RoleWorker), // the worker's role, as in production
		"AWS_REGION":               "ap-northeast-1",
		"SQS_ENDPOINT":             env.SQSEndpoint,
		"SQS_QUEUE_URL":            q.URL,
		"SQS_DLQ_URL":              q.DLQURL,
		"WORKER_HEALTH_ADDR":       "127.0.0.1:0",
		"WORKER_RECEIVE_WAIT":      "1s",
		"WORKER_DB_RETRY_INTERVAL": "100ms",
		"WORKER_FAILURE_RATE":      "0",
		"WORKER_SEND_LATENCY":      "0s",
		"DD_TRACE_ENABLED":         "false",
	}
	for k, v := range extra {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Log = logging.New(logs, "worker", slog.LevelDebug)
	return cfg
}

// Serve logs the configuration once, answers /healthz on the address it sends to ready, sends a
// queued gift, and returns nil when its context ends.
func TestServeRunsTheWorkerUntilCancelled(t *testing.T) {
	dbURL, q, logs := env.NewDatabase(t), env.NewQueues(t, 5), &testenv.LogBuffer{}
	cfg := load(t, dbURL, q, logs, nil)
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	send, err := seed.Queued(context.Background(), postgres.NewStore(pool, 5*time.Second), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Publish(context.Background(), sqs.NewPublisher(q.Client, q.URL), send); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- workerserver.Serve(ctx, cfg, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Serve returned before starting: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("not ready 30s later\n%s", logs.String())
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz answered %d", resp.StatusCode)
	}
	testenv.Eventually(t, 30*time.Second, "the gift SENT", func() (bool, string) {
		st, err := seed.Statuses(context.Background(), pool)
		return err == nil && st[gift.StatusSent] == 1, fmt.Sprint(st, err)
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve still running 30s after cancel")
	}

	var configLines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "configuration" {
			configLines = append(configLines, line)
		}
	}
	if len(configLines) != 1 {
		t.Fatalf("%d configuration lines, want one:\n%s", len(configLines), logs.String())
	}
	values, _ := configLines[0]["config"].(map[string]any)
	if values["SQS_QUEUE_URL"] != q.URL || values["WORKER_RECEIVE_WAIT"] != "1s" || values["DB_MAX_CONNS"] != "12" {
		t.Fatalf("configuration line: %v", configLines[0])
	}
}

// A DLQ that is not where the queue's RedrivePolicy sends is refused before the worker receives.
func TestServeRefusesADLQThatIsNotTheDeadLetterTarget(t *testing.T) {
	q, logs := env.NewQueues(t, 5), &testenv.LogBuffer{}
	cfg := load(t, env.NewDatabase(t), q, logs, map[string]string{"SQS_DLQ_URL": q.URL})
	ready := make(chan string, 1)
	err := workerserver.Serve(context.Background(), cfg, ready)
	if err == nil || !strings.Contains(err.Error(), "RedrivePolicy") {
		t.Fatalf("Serve: %v, want the RedrivePolicy mismatch", err)
	}
	if len(ready) != 0 {
		t.Fatal("ready was sent by a worker that did not start")
	}
}
