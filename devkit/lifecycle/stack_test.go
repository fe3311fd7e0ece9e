package lifecycle

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/devkit/devstack"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/faultproxy"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/repo"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/servers"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// stack is the shared system of one run: the test's own database and queue pair on the binary's
// PostgreSQL and emulator, one API and one worker process, and a fault proxy on each path from a
// service to PostgreSQL and to SQS (the test, its audit and giftctl go straight).
type stack struct {
	dir      string
	bin      devstack.Binaries
	db       *pgxpool.Pool
	sqs      *awssqs.Client
	queues   testenv.Queues
	apiAddr  string
	pgAPI    *faultproxy.Proxy
	pgWorker *faultproxy.Proxy
	sqsAPI   *faultproxy.Proxy
	sqsWork  *faultproxy.Proxy
	apiEnv   []string
	workEnv  []string
	ctlEnv   []string
	api      *devstack.Service
	workerMu sync.Mutex
	worker   *devstack.Service
	workLog  string
	// opMu serialises what reads the whole DLQ (giftctl, the audit): one operator at a time, as
	// giftctl's own wait for messages in other hands assumes.
	opMu sync.Mutex
	// giftctl flags that differ between builds.
	redriveYes bool
}

// legacyRelayDelay is given to a build that still has the relay's fixed delay (before the
// dispatcher's lease, issue 14 defect 2), short enough for its race with the dispatcher to show;
// a build without it refuses to start with it set, and is started again without.
const legacyRelayDelay = "OUTBOX_RELAY_DELAY=1s"

// The settings of the run (package doc, "Settings").
var serviceSettings = []string{
	"AWS_REGION=ap-northeast-1",
	"LOG_LEVEL=INFO",
	"FAILURE_INJECTION_ENABLED=true",
	"OUTBOX_POLL_INTERVAL=200ms",
	"WORKER_RETRY_BASE_DELAY=1s",
	"WORKER_RETRY_MAX_DELAY=1s",
	"WORKER_VISIBILITY_TIMEOUT=2s",
	"WORKER_RECEIVE_WAIT=1s",
	"WORKER_SHUTDOWN_TIMEOUT=2s",
	"WORKER_DB_RETRY_INTERVAL=200ms",
	"WORKER_DLQ_RECONCILE_INTERVAL=10s",
	"WORKER_SEND_LATENCY=100ms",
}

func startStack(t *testing.T) *stack {
	t.Helper()
	ctx := context.Background()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	// The services' logs stay in .local/lifecycle/<time>/ when the test fails; the binaries go
	// with the test's temporary directory.
	s := &stack{dir: filepath.Join(root, ".local", "lifecycle", time.Now().UTC().Format("20060102T150405.000Z"))}
	if err := os.MkdirAll(s.dir, 0o750); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_ = os.RemoveAll(s.dir)
		}
	})
	began := time.Now()
	if s.bin, err = devstack.Build(ctx, root, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Logf("built api, worker and giftctl in %s", time.Since(began).Round(time.Second))
	dbURL := env.NewDatabase(t)
	if s.db, err = pgxpool.New(ctx, dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.db.Close)
	s.queues = env.NewQueues(t, devstack.MaxReceiveCount)
	s.sqs = s.queues.Client

	fp := faultproxy.Start(t)
	pg, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("database URL: %v", err)
	}
	sqsURL, err := url.Parse(env.SQSEndpoint)
	if err != nil {
		t.Fatalf("SQS endpoint: %v", err)
	}
	s.pgAPI, s.pgWorker = fp.Proxy(t, "pg-api", pg.Host), fp.Proxy(t, "pg-worker", pg.Host)
	s.sqsAPI, s.sqsWork = fp.Proxy(t, "sqs-api", sqsURL.Host), fp.Proxy(t, "sqs-worker", sqsURL.Host)
	// Each program connects as its own database role, as in production.
	asRole := func(role string) *url.URL {
		u, err := url.Parse(env.RoleURL(t, dbURL, role))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	via := func(p *faultproxy.Proxy, role string) string { u := asRole(role); u.Host = p.Addr(); return u.String() }

	ports, err := servers.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	s.apiAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	common := append(append(os.Environ(), serviceSettings...), "SQS_QUEUE_URL="+s.queues.URL, "SQS_DLQ_URL="+s.queues.DLQURL)
	s.apiEnv = append(slices.Clone(common), "DATABASE_URL="+via(s.pgAPI, testenv.RoleAPI), "SQS_ENDPOINT=http://"+s.sqsAPI.Addr(),
		"API_PORT="+strconv.Itoa(ports[0]))
	s.workEnv = append(slices.Clone(common), "DATABASE_URL="+via(s.pgWorker, testenv.RoleWorker), "SQS_ENDPOINT=http://"+s.sqsWork.Addr(),
		"WORKER_HEALTH_ADDR="+net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])))
	s.ctlEnv = append(slices.Clone(common), "DATABASE_URL="+asRole(testenv.RoleOperator).String(), "SQS_ENDPOINT="+env.SQSEndpoint, "API_URL=http://"+s.apiAddr)

	apiLog, err := os.Create(filepath.Join(s.dir, "api.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = apiLog.Close() })
	if err := s.startAPI(ctx, apiLog); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.api.Stop(10 * time.Second) })
	s.workLog = filepath.Join(s.dir, "worker.log")
	if err := s.startWorker(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.workerMu.Lock()
		defer s.workerMu.Unlock()
		_ = s.worker.Stop(10 * time.Second)
	})
	if err := waitHTTP(ctx, "http://"+s.apiAddr+"/readyz", s.api); err != nil {
		t.Fatal(err)
	}
	help, _ := s.giftctl(ctx, "help")
	s.redriveYes = strings.Contains(help, "redrive [--dry-run] [--yes]") || strings.Contains(help, "redrive [--yes]")
	return s
}

// startAPI starts the API, with legacyRelayDelay if the build still has that setting.
func (s *stack) startAPI(ctx context.Context, log *os.File) error {
	var err error
	if s.api, err = devstack.StartService("api", append(slices.Clone(s.apiEnv), legacyRelayDelay), log, s.bin.API, "serve"); err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+s.apiAddr+"/readyz", s.api); err == nil {
		return nil
	}
	_ = s.api.Stop(10 * time.Second)
	out, rerr := os.ReadFile(log.Name())
	if rerr != nil || !strings.Contains(string(out), "OUTBOX_RELAY_DELAY was removed") {
		return fmt.Errorf("api did not start (log %s)", log.Name())
	}
	if s.api, err = devstack.StartService("api", s.apiEnv, log, s.bin.API, "serve"); err != nil {
		return err
	}
	return waitHTTP(ctx, "http://"+s.apiAddr+"/readyz", s.api)
}

// startWorker starts a worker process whose output is appended to the worker's log.
func (s *stack) startWorker() error {
	f, err := os.OpenFile(s.workLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("worker log: %w", err)
	}
	w, err := devstack.StartService("worker", s.workEnv, f, s.bin.Worker, "run")
	if err != nil {
		_ = f.Close()
		return err
	}
	go func() { <-w.Done(); _ = f.Close() }()
	s.worker = w
	return nil
}

// stopWorker signals the worker and waits for it to exit (SIGKILL after 30 s).
func (s *stack) stopWorker(sig syscall.Signal) error {
	s.workerMu.Lock()
	defer s.workerMu.Unlock()
	s.worker.Signal(sig)
	select {
	case <-s.worker.Done():
		return nil
	case <-time.After(30 * time.Second):
		s.worker.Signal(syscall.SIGKILL)
		<-s.worker.Done()
		return fmt.Errorf("worker did not exit within 30 s of %s", sig)
	}
}

func (s *stack) restartWorker() error {
	s.workerMu.Lock()
	defer s.workerMu.Unlock()
	return s.startWorker()
}

// waitHTTP polls url until it answers 200, the process exits, or a minute passes.
func waitHTTP(ctx context.Context, url string, svc *devstack.Service) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-svc.Done():
			return fmt.Errorf("%s exited while starting: %w", svc.Name, svc.Err())
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within a minute: %w", url, err)
		}
		time.Sleep(50 * time.Millisecond) // polling for readiness, not waiting for a result
	}
}

// giftctl runs the operator's command line against the stack.
func (s *stack) giftctl(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin.Giftctl, args...)
	cmd.Env = s.ctlEnv
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("giftctl %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// sendRaw puts body on the main queue as a new message, straight to the emulator, and returns its
// id.
func (s *stack) sendRaw(ctx context.Context, body string) (string, error) {
	out, err := s.sqs.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(s.queues.URL), MessageBody: aws.String(body)})
	if err != nil {
		return "", fmt.Errorf("send message: %w", err)
	}
	return aws.ToString(out.MessageId), nil
}

// readDLQ takes every message of the DLQ for a look, once no one else holds any (the worker's
// reconciler sweeps), and calls look with them before it releases them.
func (s *stack) readDLQ(ctx context.Context, look func([]queue.Received, *sqs.Consumer)) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	dlq := sqs.NewConsumer(s.sqs, s.queues.DLQURL)
	// Longer than the reconciler's hold (2 minutes), which a receive whose answer was lost in an
	// SQS outage keeps until it runs out.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		msgs, err := dlq.Browse(ctx, time.Minute, 100000)
		if err != nil {
			return err
		}
		depth, err := sqs.QueueDepth(ctx, s.sqs, s.queues.DLQURL)
		if err != nil {
			_ = dlq.Release(context.WithoutCancel(ctx), msgs)
			return err
		}
		if depth.Total() == len(msgs) {
			look(msgs, dlq)
			return dlq.Release(context.WithoutCancel(ctx), msgs)
		}
		if err := dlq.Release(context.WithoutCancel(ctx), msgs); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the DLQ never came whole into view: %d of %d messages", len(msgs), depth.Total())
		}
		time.Sleep(300 * time.Millisecond) // another reader holds some: poll again
	}
}

// workerLines reads the worker's log and returns, per gift id of interest, its lines in order.
func (s *stack) workerLines(gifts map[string]bool) (map[string][]LogLine, error) {
	f, err := os.Open(s.workLog)
	if err != nil {
		return nil, fmt.Errorf("open worker log: %w", err)
	}
	defer f.Close()
	out := map[string][]LogLine{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var raw struct {
			Timestamp time.Time `json:"timestamp"`
			Msg       string    `json:"msg"`
			GiftID    string    `json:"gift_id"`
			MessageID string    `json:"message_id"`
			Attempt   any       `json:"attempt"`
			Series    any       `json:"series"`
			Status    string    `json:"status"`
		}
		if json.Unmarshal(sc.Bytes(), &raw) != nil || !gifts[raw.GiftID] {
			continue
		}
		l := LogLine{At: raw.Timestamp, Msg: raw.Msg, MessageID: raw.MessageID, Status: raw.Status}
		if n, ok := number(raw.Attempt); ok {
			l.Attempt = n
		}
		if n, ok := number(raw.Series); ok {
			l.Series = &n
		}
		out[raw.GiftID] = append(out[raw.GiftID], l)
	}
	return out, sc.Err()
}

func number(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		return int(n), true
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}
