package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/devkit/devstack"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/faultproxy"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/repo"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/servers"
)

// stack is the system under soak, all on loopback: PostgreSQL, the SQS emulator behind a
// fault-injecting proxy, two API processes and one worker process, each restartable.
type stack struct {
	dir      string // binaries and logs
	pg       *servers.Postgres
	emu      *servers.SQSEmulator
	faults   *faultproxy.Server
	sqsProxy *faultproxy.Proxy
	sqs      *awssqs.Client // straight to the emulator, for the audit
	urls     sqs.QueuePairURLs
	db       *pgxpool.Pool // the audit's own pool
	apis     []*service
	worker   *service
	env      []string // the services' environment, for giftctl
	clients  []soakClient

	// restartEmulator adds the emulator's restart to the faults; emulatorRestarted is when it
	// happened (zero: it did not).
	restartEmulator   bool
	emulatorRestarted time.Time
}

func startStack(ctx context.Context, dir string, restartEmulator bool) (*stack, error) {
	s := &stack{dir: dir, restartEmulator: restartEmulator}
	root, err := repo.Root()
	if err != nil {
		return s, err
	}
	for name, pkg := range map[string]string{"api": "./api-svc/cmd/api", "worker": "./worker-svc/cmd/worker", "giftctl": "./api-svc/cmd/giftctl"} {
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, name), pkg)
		build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return s, fmt.Errorf("go build %s: %w", pkg, err)
		}
	}
	pgLog, err := os.Create(filepath.Join(dir, "postgres.log")) //nolint:gosec // a file in the soak's own directory
	if err != nil {
		return s, fmt.Errorf("create postgres log: %w", err)
	}
	if s.pg, err = servers.StartPostgres(ctx, servers.PostgresOptions{Durable: true, Log: pgLog}); err != nil {
		return s, err
	}
	if s.emu, err = servers.StartSQSEmulator(ctx, 0, nil); err != nil {
		return s, err
	}
	s.faults = faultproxy.New()
	if s.sqsProxy, err = s.faults.Listen("sqs", "", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.emu.Port))); err != nil {
		return s, err
	}
	if s.sqs, err = sqs.NewClient(ctx, sqs.ClientConfig{Region: "ap-northeast-1", Endpoint: s.emu.Endpoint}); err != nil {
		return s, err
	}
	if s.urls, err = sqs.EnsureQueues(ctx, s.sqs, sqs.QueuePair{Name: "soak", DLQName: "soak-dlq", MaxReceiveCount: maxReceiveCount}); err != nil {
		return s, err
	}
	if s.db, err = pgxpool.New(ctx, s.pg.URL); err != nil {
		return s, fmt.Errorf("audit pool: %w", err)
	}

	env := append(os.Environ(),
		"DATABASE_URL="+s.pg.URL,
		"SQS_ENDPOINT=http://"+s.sqsProxy.Addr(), // every SQS call of the services crosses the proxy
		"SQS_QUEUE_URL="+s.urls.URL,
		"SQS_DLQ_URL="+s.urls.DLQURL,
		"AWS_REGION=ap-northeast-1",
		"LOG_LEVEL=INFO",
		"FAILURE_INJECTION_ENABLED=true",
		"SHUTDOWN_TIMEOUT=5s",
		// A forced failure reaches the DLQ in about 15 s (1+2+4+8 s between its 5 attempts).
		"WORKER_RETRY_BASE_DELAY=1s",
		"WORKER_RETRY_MAX_DELAY=8s",
		"WORKER_RECEIVE_WAIT=1s",
		"WORKER_SHUTDOWN_TIMEOUT=5s",
		// Messages held by a killed worker come back after 10 s instead of 30.
		"WORKER_VISIBILITY_TIMEOUT=10s",
		"WORKER_DLQ_RECONCILE_INTERVAL=5s",
	)
	s.env = env
	migrate := exec.CommandContext(ctx, filepath.Join(dir, "api"), "migrate")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		return s, fmt.Errorf("api migrate: %w: %s", err, out)
	}
	// The services and giftctl connect as their own roles, as in production; the audit (s.db)
	// reads everything as the migration user.
	if err := devstack.SetRolePasswords(ctx, s.pg.URL); err != nil {
		return s, err
	}
	if err := s.issueKeys(ctx); err != nil {
		return s, err
	}
	// Two APIs and the worker's health port.
	ports, err := servers.FreePorts(3)
	if err != nil {
		return s, err
	}
	for i, port := range ports[:2] {
		api := &service{name: fmt.Sprintf("api-%d", i+1), argv: []string{filepath.Join(dir, "api"), "serve"},
			env: append(slices.Clone(env), "API_PORT="+strconv.Itoa(port), "DATABASE_URL="+devstack.RoleURL(s.pg.URL, devstack.RoleAPI)), addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			ready: "/readyz", dir: dir}
		s.apis = append(s.apis, api)
	}
	port := ports[2]
	health := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.worker = &service{name: "worker", argv: []string{filepath.Join(dir, "worker"), "run"},
		env: append(slices.Clone(env), "WORKER_HEALTH_ADDR="+health, "DATABASE_URL="+devstack.RoleURL(s.pg.URL, devstack.RoleWorker)), addr: health, ready: "/healthz", dir: dir}
	for _, svc := range append(append([]*service(nil), s.apis...), s.worker) {
		if err := svc.start(ctx); err != nil {
			return s, err
		}
	}
	return s, nil
}

// soakClient is one of the API clients the load alternates between.
type soakClient struct {
	name string
	id   uuid.UUID
	key  string // what it sends as "Authorization: Bearer <key>"
}

// soakClientNames are the soak's two clients: each gift belongs to one, and the other must never
// see it.
var soakClientNames = []string{"soak-a", "soak-b"}

// issueKeys makes the soak's clients and a key of each (their rate limit far above the soak's).
func (s *stack) issueKeys(ctx context.Context) error {
	for _, name := range soakClientNames {
		key, err := devstack.IssueAPIKey(ctx, s.pg.URL, name, "soak")
		if err != nil {
			return err
		}
		c := soakClient{name: name, key: key}
		if err := s.db.QueryRow(ctx, `SELECT id FROM api_clients WHERE name = $1`, name).Scan(&c.id); err != nil {
			return fmt.Errorf("read client %s: %w", name, err)
		}
		s.clients = append(s.clients, c)
	}
	return nil
}

// keys are the clients' keys, in the order of s.clients.
func (s *stack) keys() []string {
	keys := make([]string, len(s.clients))
	for i, c := range s.clients {
		keys[i] = c.key
	}
	return keys
}

// restartSQSEmulator stops the emulator and starts it again on the same port with empty queues:
// every message it held is lost, as an accidental purge would lose them (SQS itself never does).
func (s *stack) restartSQSEmulator(ctx context.Context) error {
	s.emu.Stop()
	s.emulatorRestarted = time.Now()
	emu, err := servers.StartSQSEmulator(ctx, s.emu.Port, nil)
	if err != nil {
		return err
	}
	s.emu = emu
	if _, err := sqs.EnsureQueues(ctx, s.sqs, sqs.QueuePair{Name: "soak", DLQName: "soak-dlq", MaxReceiveCount: maxReceiveCount}); err != nil {
		return fmt.Errorf("recreate the queues: %w", err)
	}
	return nil
}

// giftctl runs the operator's command line against the stack and returns its output.
func (s *stack) giftctl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.dir, "giftctl"), args...)
	cmd.Env = append(slices.Clone(s.env), "API_URL=http://"+s.apis[0].addr, "DATABASE_URL="+devstack.RoleURL(s.pg.URL, devstack.RoleOperator),
		"GIFT_API_KEY="+s.clients[0].key)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("giftctl %v: %w", args, err)
	}
	return string(out), nil
}

// stop ends everything it started.
func (s *stack) stop() {
	var procs []*service
	procs = append(procs, s.apis...)
	if s.worker != nil {
		procs = append(procs, s.worker)
	}
	for _, p := range procs {
		p.signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		p.wait(15 * time.Second)
	}
	if s.db != nil {
		s.db.Close()
	}
	if s.faults != nil {
		s.faults.Close()
	}
	if s.emu != nil {
		s.emu.Stop()
	}
	if s.pg != nil {
		_ = s.pg.Stop()
	}
}

// service is one API or worker process, which the soak kills and starts again.
type service struct {
	name, addr, ready, dir string
	argv, env              []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	runs int
}

// start runs the process and waits until its probe answers 200.
func (p *service) start(ctx context.Context) error {
	p.mu.Lock()
	p.runs++
	logFile, err := os.OpenFile(filepath.Join(p.dir, p.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s log: %w", p.name, err)
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = p.env, logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		_ = logFile.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(done) }()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()

	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-done:
			return fmt.Errorf("%s exited while starting (see %s.log)", p.name, filepath.Join(p.dir, p.name))
		default:
		}
		resp, err := client.Get("http://" + p.addr + p.ready)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %d", p.ready, resp.StatusCode)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready within 60 s: %w", p.name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *service) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// wait waits for the current process to exit, killing it after limit.
func (p *service) wait(limit time.Duration) bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	case <-time.After(limit):
		p.signal(syscall.SIGKILL)
		<-done
		return false
	}
}

// restart stops the process with sig, waits for it to exit, and starts it again.
func (p *service) restart(ctx context.Context, sig syscall.Signal) error {
	p.signal(sig)
	if !p.wait(30 * time.Second) {
		return fmt.Errorf("%s did not exit within 30 s of %s", p.name, sig)
	}
	return p.start(ctx)
}
