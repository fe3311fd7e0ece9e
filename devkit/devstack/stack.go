// Package devstack runs the local system for developers (`make run`, the drill, the lifecycle
// test): it builds the binaries, starts their dependencies (testkit/servers: PostgreSQL and the
// SQS emulator) with production's queue settings and the migrations applied, and runs the services
// as processes of their own. Nothing here is used in production.
package devstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/servers"
)

// MaxReceiveCount is production's redrive setting (modules/sqs): five attempts, then the DLQ.
const MaxReceiveCount = 5

// Binaries are the programs of the local system, built from the working tree.
type Binaries struct {
	API, Worker, Giftctl string
}

// Build builds the API, the worker and giftctl into binDir.
func Build(ctx context.Context, root, binDir string) (Binaries, error) {
	b := Binaries{API: filepath.Join(binDir, "api"), Worker: filepath.Join(binDir, "worker"), Giftctl: filepath.Join(binDir, "giftctl")}
	for bin, pkg := range map[string]string{b.API: "./api-svc/cmd/api", b.Worker: "./worker-svc/cmd/worker", b.Giftctl: "./api-svc/cmd/giftctl"} {
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
		build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return Binaries{}, fmt.Errorf("go build %s: %w", pkg, err)
		}
	}
	return b, nil
}

// Queue is the queue settings of shared/platform.Queue (AWS_REGION, SQS_ENDPOINT, SQS_QUEUE_URL,
// SQS_QUEUE_NAME, SQS_DLQ_NAME). Its own type: shared/platform imports the secrets adapter, whose
// tests import this package.
type Queue struct {
	Region, Endpoint, URL, Name, DLQName string
}

// DepsOptions say which dependencies to start for a local system.
type DepsOptions struct {
	// StateDir receives the PostgreSQL and emulator logs.
	StateDir string
	// DatabaseURL, when set, is used instead of starting PostgreSQL on PGPort (0: a free port).
	DatabaseURL string
	PGPort      int
	// Queue names the queue pair; with Queue.Endpoint or Queue.URL set no emulator is started,
	// else one is on SQSPort (0: a free port).
	Queue   Queue
	SQSPort int
	// API is the api binary, which applies the migrations; MigrateOutput receives its log (nil:
	// stdout).
	API           string
	MigrateOutput io.Writer
	Log           *slog.Logger
}

// Deps are a local system's running dependencies: PostgreSQL (unless an outside one was given),
// the SQS emulator (likewise), the queue pair, the applied migrations and the login roles'
// passwords, and the environment the services run with.
type Deps struct {
	Postgres *servers.Postgres    // nil when DatabaseURL was given
	Emulator *servers.SQSEmulator // nil when an endpoint was given
	URLs     sqs.QueuePairURLs
	// SQSEndpoint is the SQS endpoint the services use (the emulator's, or the one given).
	SQSEndpoint string
	// Env is the process environment plus the services' connection settings, DATABASE_URL
	// connecting as the migration user; RoleEnv connects as a service's own role.
	Env         []string
	databaseURL string
	closers     []func()
}

// DatabaseURL connects as the migration user.
func (d *Deps) DatabaseURL() string { return d.databaseURL }

// RoleEnv is Env with DATABASE_URL connecting as role (RoleAPI, RoleWorker, RoleOperator).
func (d *Deps) RoleEnv(role string) []string {
	return append(slices.Clone(d.Env), "DATABASE_URL="+RoleURL(d.databaseURL, role)) // the last value wins
}

// StartDeps starts the dependencies, creates the queue pair with production's redrive settings,
// applies the migrations (as the migration user) and sets the login roles' local passwords. Stop
// them with Stop, also after an error.
func StartDeps(ctx context.Context, opts DepsOptions) (*Deps, error) {
	d := &Deps{}
	databaseURL, queue := opts.DatabaseURL, opts.Queue
	if databaseURL == "" {
		pgLog, err := os.Create(filepath.Join(opts.StateDir, "postgres.log"))
		if err != nil {
			return d, fmt.Errorf("create postgres log: %w", err)
		}
		d.closers = append(d.closers, func() { _ = pgLog.Close() })
		pg, err := servers.StartPostgres(ctx, servers.PostgresOptions{Port: opts.PGPort, Durable: true, Log: pgLog})
		if err != nil {
			return d, err
		}
		d.Postgres = pg
		d.closers = append(d.closers, func() { _ = pg.Stop() })
		databaseURL = pg.URL
		opts.Log.Info("postgres started", logging.KeyStatus, "ready", "url", pg.URL, "log", pgLog.Name())
	}
	if queue.Endpoint == "" && queue.URL == "" {
		emuLog, err := os.Create(filepath.Join(opts.StateDir, "sqs-emulator.log"))
		if err != nil {
			return d, fmt.Errorf("create emulator log: %w", err)
		}
		d.closers = append(d.closers, func() { _ = emuLog.Close() })
		emu, err := servers.StartSQSEmulator(ctx, opts.SQSPort, emuLog)
		if err != nil {
			return d, err
		}
		d.Emulator = emu
		d.closers = append(d.closers, emu.Stop)
		queue.Endpoint = emu.Endpoint
		opts.Log.Info("sqs emulator started", logging.KeyStatus, "ready", "endpoint", emu.Endpoint)
	}
	d.SQSEndpoint, d.databaseURL = queue.Endpoint, databaseURL
	client, err := sqs.NewClient(ctx, sqs.ClientConfig{Region: queue.Region, Endpoint: queue.Endpoint})
	if err != nil {
		return d, err
	}
	d.URLs, err = sqs.EnsureQueues(ctx, client, sqs.QueuePair{Name: queue.Name, DLQName: queue.DLQName, MaxReceiveCount: MaxReceiveCount})
	if err != nil {
		return d, err
	}
	opts.Log.Info("queues ready", logging.KeyStatus, "ready", "queue_url", d.URLs.URL, "dlq_url", d.URLs.DLQURL, "max_receive_count", MaxReceiveCount)

	d.Env = append(os.Environ(),
		"DATABASE_URL="+databaseURL,
		"SQS_ENDPOINT="+queue.Endpoint,
		"SQS_QUEUE_URL="+d.URLs.URL,
		"SQS_DLQ_URL="+d.URLs.DLQURL,
		"AWS_REGION="+queue.Region,
	)
	// Local defaults that differ from production's, unless the developer set them.
	for name, value := range map[string]string{
		"FAILURE_INJECTION_ENABLED": "true", // rehearse the DLQ path with X-Force-Failure
		"WORKER_RETRY_BASE_DELAY":   "1s",   // a forced failure reaches the DLQ in ~15 s
		"WORKER_RECEIVE_WAIT":       "1s",   // a stop waits for the current poll: keep it short here
	} {
		if _, set := os.LookupEnv(name); !set {
			d.Env = append(d.Env, name+"="+value)
		}
	}
	migrate := exec.CommandContext(ctx, opts.API, "migrate")
	migrate.Env, migrate.Stdout, migrate.Stderr = d.Env, os.Stdout, os.Stderr
	if opts.MigrateOutput != nil {
		migrate.Stdout, migrate.Stderr = opts.MigrateOutput, opts.MigrateOutput
	}
	if err := migrate.Run(); err != nil {
		return d, fmt.Errorf("api migrate: %w", err)
	}
	if err := SetRolePasswords(ctx, databaseURL); err != nil {
		return d, err
	}
	return d, nil
}

// Stop stops what StartDeps started, in reverse order.
func (d *Deps) Stop() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
}

// Service is a running service process (the API or a worker) in a process group of its own, so a
// terminal's Ctrl-C reaches only its parent, which stops it in order.
type Service struct {
	Name string
	env  []string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartService starts argv with env, its output to out; it dies with this process.
func StartService(name string, env []string, out io.Writer, argv ...string) (*Service, error) {
	c := exec.Command(argv[0], argv[1:]...)
	c.Env, c.Stdout, c.Stderr = env, out, out
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &Service{Name: name, env: env, cmd: c, done: make(chan struct{})}
	go func() {
		s.err = c.Wait()
		close(s.done)
	}()
	return s, nil
}

// Env is the environment the service runs with.
func (s *Service) Env() []string { return s.env }

// PID is the process id.
func (s *Service) PID() int { return s.cmd.Process.Pid }

// Done is closed when the process has exited; Err then says how.
func (s *Service) Done() <-chan struct{} { return s.done }

// Err is the process's exit error (nil for exit 0), once Done is closed.
func (s *Service) Err() error { return s.err }

// Signal sends sig to the process (an exited one just reports an error, which is ignored).
func (s *Service) Signal(sig syscall.Signal) { _ = s.cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits up to limit for the exit, then kills it; it returns the exit error.
func (s *Service) Stop(limit time.Duration) error {
	s.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(limit):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	return s.err
}
