package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/contracttest"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

var (
	env    *testenv.Env
	apiBin string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "api-bin-")
	if err != nil {
		panic(err)
	}
	apiBin = filepath.Join(dir, "api")
	if out, err := exec.Command("go", "build", "-o", apiBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build api: %v\n%s", err, out)
		os.Exit(1)
	}
	// giftctl beside it, as in the image.
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "giftctl"), "../giftctl").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build giftctl: %v\n%s", err, out)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	testenv.Main(m, testenv.Needs{Postgres: true, SQS: true}, &env)
}

// apiEnv is the environment of an api process on a fresh database and queue pair.
// The environment of `api serve` on a database and queues of its own, and an API key of a client
// on that database.
func apiEnv(t *testing.T, port string) ([]string, string) {
	q := env.NewQueues(t, 5)
	db := env.NewDatabase(t)
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := postgres.NewStore(pool, 10*time.Second)
	client, err := store.CreateClient(context.Background(), "test", gift.DefaultRateLimit, "test")
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := store.IssueAPIKey(context.Background(), client.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(),
		"DATABASE_URL="+env.RoleURL(t, db, testenv.RoleAPI), "SQS_ENDPOINT="+env.SQSEndpoint, "SQS_QUEUE_URL="+q.URL,
		"API_PORT="+port, "SHUTDOWN_TIMEOUT=5s", "AWS_REGION=ap-northeast-1"), key
}

// startAPI runs `api serve` and waits until it listens; its log lines arrive on the channel.
func startAPI(t *testing.T, environ []string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(apiBin, "serve")
	cmd.Env = environ
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1000)
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := false
		for sc.Scan() {
			lines <- sc.Text()
			if !once && strings.Contains(sc.Text(), `"msg":"api listening"`) {
				close(listening)
				once = true
			}
		}
		close(lines)
	}()
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		t.Fatal("api did not start listening")
	}
	return cmd, lines
}

// SIGTERM: the API stops accepting, finishes the request in flight, and exits 0.
func TestSIGTERMDrainsInFlightRequestsAndExitsZero(t *testing.T) {
	addr := testenv.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	environ, key := apiEnv(t, port)
	cmd, lines := startAPI(t, environ)

	// A request in flight: headers sent, half the body still to come.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"amount": 1200}`
	fmt.Fprintf(conn, "POST /gifts HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		addr, key, len(body), body[:5])
	time.Sleep(100 * time.Millisecond) // let the server start reading it (not a wait for a condition: an ordering of events)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for line := range lines {
		if strings.Contains(line, `"status":"draining"`) {
			break
		}
	}
	// While the request is still in flight, the listener closes: new connections are refused.
	testenv.Eventually(t, 5*time.Second, "new connections refused during the drain", func() (bool, string) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true, ""
		}
		c.Close()
		return false, "a new connection was accepted"
	})
	fmt.Fprint(conn, body[5:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("in-flight request: %d %s", resp.StatusCode, b)
	}
	sent, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/gifts", strings.NewReader(body))
	sent.Header.Set("Content-Type", "application/json")
	if err := contracttest.ValidateResponse(sent, resp.StatusCode, resp.Header, b); err != nil {
		t.Fatalf("contract violation: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("api did not exit 0: %v", err)
	}
}

func TestMigrateCreatesTheSchemaAndIsRepeatable(t *testing.T) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, env.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("migrate_cmd_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)") }()
	url := strings.Replace(env.AdminURL(), "/postgres?", "/"+name+"?", 1)

	for run := 1; run <= 2; run++ {
		cmd := exec.Command(apiBin, "migrate")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+url)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("migrate run %d: %v\n%s", run, err, out)
		}
		var applied float64 = -1
		for _, line := range strings.Split(string(out), "\n") {
			var l map[string]any
			if json.Unmarshal([]byte(line), &l) == nil && l["msg"] == "migrations complete" {
				applied = l["applied"].(float64)
			}
		}
		if (run == 1 && applied < 1) || (run == 2 && applied != 0) {
			t.Fatalf("run %d applied %v migrations\n%s", run, applied, out)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tables int
	_ = conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name IN ('gifts','send_requests','outbox_messages')`).Scan(&tables)
	if tables != 3 {
		t.Fatalf("%d of 3 tables exist after migrate", tables)
	}
}

func TestHealthcheckCommand(t *testing.T) {
	addr := testenv.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	check := exec.Command(apiBin, "healthcheck")
	check.Env = append(os.Environ(), "API_PORT="+port)
	if err := check.Run(); err == nil {
		t.Fatal("healthcheck passed with nothing listening")
	}
	environ, _ := apiEnv(t, port)
	startAPI(t, environ)
	check = exec.Command(apiBin, "healthcheck")
	check.Env = append(os.Environ(), "API_PORT="+port)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("healthcheck against a running API: %v\n%s", err, out)
	}
}

func TestInvalidConfigurationRefusesToStart(t *testing.T) {
	cmd := exec.Command(apiBin, "serve")
	cmd.Env = append(os.Environ(), "API_PORT=eighty", "SHUTDOWN_TIMEOUT=soon")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("want exit code 2, got %v\n%s", err, out)
	}
	for _, want := range []string{`"error_code":"CONFIG_INVALID"`, "API_PORT", "SHUTDOWN_TIMEOUT"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the error does not name %s: %s", want, out)
		}
	}
}

func TestOutboxStatusCommand(t *testing.T) {
	cmd := exec.Command(apiBin, "outbox-status")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+env.RoleURL(t, env.NewDatabase(t), testenv.RoleAPI))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var status struct {
		Pending *int64 `json:"pending"`
	}
	if err := json.Unmarshal(out, &status); err != nil || status.Pending == nil || *status.Pending != 0 {
		t.Fatalf("outbox-status printed %s", out)
	}
}

// `api giftctl ...` runs giftctl from beside api (an ECS override can change the command, not
// the entrypoint), with its arguments, its output and its exit code.
func TestGiftctlCommandHandsOverToGiftctl(t *testing.T) {
	cmd := exec.Command(apiBin, "giftctl", "status", "--json")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+env.RoleURL(t, env.NewDatabase(t), testenv.RoleOperator), "API_URL=http://"+testenv.FreeAddr(t),
		"SQS_ENDPOINT="+env.SQSEndpoint, "SQS_QUEUE_URL=", "SQS_QUEUE_NAME=no-such-queue", "AWS_REGION=ap-northeast-1")
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("want exit code 2 (cannot tell: no API, no queue), got %v\n%s", err, out)
	}
	var status struct {
		Verdict string `json:"verdict"`
	}
	if err := json.Unmarshal(out, &status); err != nil || status.Verdict != "unknown" {
		t.Fatalf("api giftctl status --json printed %s", out)
	}
}
