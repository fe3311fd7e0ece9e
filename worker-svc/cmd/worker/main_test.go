package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
	"github.com/gift-platform/ecs-sre-gift-worker/worker-svc/internal/seed"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, testenv.Needs{Postgres: true, SQS: true}, &env) }

// The tests of this file run the real binary, built once into the parent test's temporary
// directory, as ECS would: started, killed with SIGKILL, stopped with SIGTERM.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "worker")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for name, test := range map[string]func(*testing.T, string){
		"SIGKILL_mid_batch_then_restart_finishes_every_gift": sigkillMidBatch,
		"SIGTERM_finishes_in-flight_work_within_budget":      sigtermFinishesInFlight,
		"SIGTERM_past_budget_releases_unfinished_messages":   sigtermReleasesUnfinished,
		"SIGTERM_during_a_long_poll_leaves_nothing_hidden":   sigtermDuringALongPoll,
		"health_endpoint_and_healthcheck_subcommand":         healthEndpoint,
		"refuses_to_start_when_misconfigured":                refusesToStart,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, bin)
		})
	}
}

// stack is one test's database and queue pair.
type stack struct {
	t      *testing.T
	pool   *pgxpool.Pool
	store  *postgres.Store
	dbURL  string
	queues testenv.Queues
}

func newStack(t *testing.T) *stack {
	t.Helper()
	url := env.NewDatabase(t)
	pool, err := postgres.OpenPool(context.Background(), postgres.PoolConfig{URL: url, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &stack{t: t, pool: pool, store: postgres.NewStore(pool, 5*time.Second), dbURL: url, queues: env.NewQueues(t, 5)}
}

func (s *stack) queued(n int) []seed.Send {
	s.t.Helper()
	sends := s.create(n)
	s.publish(sends...)
	return sends
}

// create creates n QUEUED gifts without publishing their messages.
func (s *stack) create(n int) []seed.Send {
	s.t.Helper()
	sends := make([]seed.Send, n)
	for i := range sends {
		var err error
		if sends[i], err = seed.Queued(context.Background(), s.store, false); err != nil {
			s.t.Fatal(err)
		}
	}
	return sends
}

func (s *stack) publish(sends ...seed.Send) {
	s.t.Helper()
	if err := seed.Publish(context.Background(), sqs.NewPublisher(s.queues.Client, s.queues.URL), sends...); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stack) statuses() map[gift.Status]int {
	s.t.Helper()
	st, err := seed.Statuses(context.Background(), s.pool)
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

func (s *stack) depth(url string) queue.Depth {
	s.t.Helper()
	d, err := sqs.QueueDepth(context.Background(), s.queues.Client, url)
	if err != nil {
		s.t.Fatal(err)
	}
	return d
}

// env returns the worker's environment for this stack: short timings so the tests run fast.
func (s *stack) env(healthAddr string, extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"DATABASE_URL=" + env.RoleURL(s.t, s.dbURL, testenv.RoleWorker), // the worker's role, as in production
		"AWS_REGION=ap-northeast-1",
		"SQS_ENDPOINT=" + env.SQSEndpoint,
		"SQS_QUEUE_URL=" + s.queues.URL,
		"SQS_DLQ_URL=" + s.queues.DLQURL,
		"WORKER_HEALTH_ADDR=" + healthAddr,
		"WORKER_FAILURE_RATE=0",
		"WORKER_SEND_LATENCY=0s",
		"WORKER_VISIBILITY_TIMEOUT=2s",
		"WORKER_RECEIVE_WAIT=1s",
		"WORKER_RETRY_BASE_DELAY=1s",
		"WORKER_RETRY_MAX_DELAY=2s",
		"WORKER_DB_RETRY_INTERVAL=100ms",
		"WORKER_DLQ_RECONCILE_INTERVAL=1s",
		"LOG_LEVEL=DEBUG",
	}, extra...)
}

// proc is a running worker binary.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *testenv.LogBuffer
	health string
	exited chan struct{}
	err    error
}

func start(t *testing.T, bin string, environ []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, out: &testenv.LogBuffer{}, exited: make(chan struct{})}
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "WORKER_HEALTH_ADDR="); ok {
			p.health = v
		}
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = environ
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the test
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("worker output (pid %d):\n%s", p.cmd.Process.Pid, p.out.String())
		}
	})
	return p
}

// startWorker starts `worker run` and waits until /healthz answers 200.
func startWorker(t *testing.T, bin string, environ []string) *proc {
	t.Helper()
	p := start(t, bin, environ, "run")
	testenv.Eventually(t, 30*time.Second, "worker healthy", func() (bool, string) {
		select {
		case <-p.exited:
			t.Fatalf("worker exited at start: %v\n%s", p.err, p.out.String())
		default:
		}
		code, body := get(p.health)
		return code == 200, fmt.Sprintf("%d %s", code, body)
	})
	return p
}

// exitCode waits for the process to exit (within limit, a deadline, not a threshold) and returns
// its exit code.
func (p *proc) exitCode(limit time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(limit):
		p.t.Fatalf("worker still running %s later", limit)
	}
	var exitErr *exec.ExitError
	if errors.As(p.err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return exitErr.ExitCode()
	}
	if p.err != nil {
		p.t.Fatal(p.err)
	}
	return 0
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// lines returns the process's JSON log lines whose fields include every key/value of match.
func (p *proc) lines(match map[string]any) []map[string]any {
	p.t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue // not a log line (stderr of a failed start)
		}
		ok := true
		for k, v := range match {
			if fmt.Sprint(line[k]) != fmt.Sprint(v) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// get asks http://addr/healthz and returns the status code (0 when nothing answers) and body.
func get(addr string) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// adminExec returns a function that runs statements as the test server's superuser.
func adminExec(t *testing.T) func(sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, env.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}
