// Command devstack runs the whole system locally in the foreground (`make run`): a throwaway
// PostgreSQL (unless DATABASE_URL is set), the SQS emulator (unless SQS_ENDPOINT is set), the
// queue pair with production's redrive settings, the migrations, then the API and the worker with
// JSON logs on stdout, each connected as its own database role (gift_api, gift_worker; giftctl's
// settings as gift_operator). It builds api, worker and giftctl into .local/bin first, and makes
// the API client "local" with a key of its own (GIFT_API_KEY in .local/giftctl.env, for giftctl
// and for curl: `set -a; . .local/giftctl.env; set +a`, then `.local/bin/giftctl status` or
// `curl -H "Authorization: Bearer $GIFT_API_KEY" ...`). Ctrl-C or SIGTERM stops everything it
// started and exits 0.
//
// DEVSTACK_SQS_LATENCY (a duration, off by default) rehearses a slow SQS: the API then reaches the
// emulator through a fault proxy (testkit/faultproxy) that holds every request back that long, so
// every SendMessage and SendMessageBatch takes at least that much; the worker's receives are
// untouched. devkit/cmd/slowsqs drives that scenario and prints its figures.
//
// The services run in a process group of their own, so the terminal's Ctrl-C (SIGINT to the whole
// foreground group) reaches devstack alone, which then stops them in order with SIGTERM. Were they
// in the terminal's group they would stop on their own at the same moment, and devstack could not
// tell that exit from a crash.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/devkit/devstack"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/envconfig"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/platform"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/faultproxy"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/repo"
)

func main() {
	// Die with the parent (make): without this, killing make would orphan the stack.
	_ = setParentDeathSignal(syscall.SIGTERM)
	log := logging.New(os.Stdout, "devstack", slog.LevelInfo)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err := run(ctx, log)
	switch {
	case err != nil && ctx.Err() == nil:
		log.Error("devstack failed", logging.KeyStatus, "failed", logging.KeyErrorCode, "DEVSTACK_FAILED", logging.Err(err))
		os.Exit(1)
	case err != nil:
		// Stopped while starting: the error is the interrupted step, not a failure.
		log.Info("stopped before the system was running", logging.KeyStatus, "stopped", "interrupted", err.Error())
	default:
		log.Info("stopped", logging.KeyStatus, "stopped")
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	r := &envconfig.Reader{}
	state := r.String("DEVSTACK_STATE_DIR", filepath.Join(root, ".local"))
	queue := platform.ReadQueue(r)
	databaseURL := r.String("DATABASE_URL", "")
	pgPort := r.Int("DEVSTACK_PG_PORT", 55432, 1024, 65535)
	sqsPort := r.Int("SQS_EMULATOR_PORT", 4566, 1024, 65535)
	apiPort := r.Int("API_PORT", 8080, 0, 65535)
	sqsLatency := r.Duration("DEVSTACK_SQS_LATENCY", 0, 0)
	if err := r.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(state, "bin"), 0o750); err != nil {
		return fmt.Errorf("create %s: %w", state, err)
	}

	log.Info("building api, worker and giftctl", logging.KeyStatus, "building")
	bin, err := devstack.Build(ctx, root, filepath.Join(state, "bin"))
	if err != nil {
		return err
	}
	deps, err := devstack.StartDeps(ctx, devstack.DepsOptions{StateDir: state, DatabaseURL: databaseURL, PGPort: pgPort,
		Queue: devstack.Queue(queue), SQSPort: sqsPort, API: bin.API, Log: log})
	defer deps.Stop()
	if err != nil {
		return err
	}
	// Every API call but the probes needs a key: one of the client "local" (made on the first
	// run; with a DATABASE_URL kept between runs, its oldest key is revoked once it has two).
	key, err := deps.IssueAPIKey(ctx, "local")
	if err != nil {
		return err
	}
	envFile := filepath.Join(state, "giftctl.env")
	if err := writeGiftctlEnv(envFile, deps.RoleEnv(devstack.RoleOperator), apiPort, key); err != nil {
		return err
	}
	log.Info("giftctl and curl: set -a; . "+envFile+"; set +a; then .local/bin/giftctl status, or curl -H \"Authorization: Bearer $GIFT_API_KEY\"",
		logging.KeyStatus, "ready", "env_file", envFile)
	// Each program as its own database role (docs/architecture.md, "Database roles").
	apiEnv, workerEnv := deps.RoleEnv(devstack.RoleAPI), deps.RoleEnv(devstack.RoleWorker)
	if sqsLatency > 0 {
		proxy, stopProxy, err := slowSQS(deps.SQSEndpoint, sqsLatency)
		if err != nil {
			return err
		}
		defer stopProxy()
		apiEnv = append(slices.Clip(apiEnv), "SQS_ENDPOINT="+proxy) // the last value wins
		log.Info("slow SQS for the API: every request held back", logging.KeyStatus, "degraded",
			"latency", sqsLatency.String(), "proxy", proxy, "endpoint", deps.SQSEndpoint)
	}
	return runServices(ctx, log, service{apiEnv, []string{bin.API, "serve"}}, service{workerEnv, []string{bin.Worker, "run"}})
}

// writeGiftctlEnv writes the connection settings of the running stack and the API key of the
// local client, one VAR=value a line (unquoted), readable by the user alone, so
// giftctl and curl can be pointed at it: `set -a; . .local/giftctl.env; set +a`, or
// `env $(cat .local/giftctl.env) .local/bin/giftctl status`.
func writeGiftctlEnv(path string, env []string, apiPort int, apiKey string) error {
	var b strings.Builder
	for _, name := range []string{"DATABASE_URL=", "SQS_ENDPOINT=", "SQS_QUEUE_URL=", "SQS_DLQ_URL=", "AWS_REGION="} {
		// The last value, as a process started with env would see it.
		for _, kv := range slices.Backward(env) {
			if strings.HasPrefix(kv, name) {
				b.WriteString(kv + "\n")
				break
			}
		}
	}
	fmt.Fprintf(&b, "API_URL=http://127.0.0.1:%d\n", apiPort)
	fmt.Fprintf(&b, "GIFT_API_KEY=%s\n", apiKey)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// slowSQS starts a proxy to the SQS endpoint that delays every request by latency and returns
// its endpoint URL.
func slowSQS(endpoint string, latency time.Duration) (string, func(), error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", nil, fmt.Errorf("SQS endpoint: %w", err)
	}
	if u.Host == "" {
		return "", nil, fmt.Errorf("SQS endpoint %q has no host", endpoint)
	}
	fp := faultproxy.New()
	p, err := fp.Listen("sqs", "", u.Host)
	if err != nil {
		return "", nil, err
	}
	p.AddLatency(faultproxy.Upstream, latency, 0)
	return u.Scheme + "://" + p.Addr(), fp.Close, nil
}

// service is one process to run, with its environment.
type service struct {
	env  []string
	argv []string
}

// runServices runs each command until ctx is done or one of them exits, then sends SIGTERM to
// the others and waits for them (they drain within their own shutdown budgets).
func runServices(ctx context.Context, log *slog.Logger, services ...service) error {
	var procs []*exec.Cmd
	exited := make(chan error, len(services))
	var wg sync.WaitGroup
	for _, svc := range services {
		argv := svc.argv
		c := exec.Command(argv[0], argv[1:]...)
		c.Env, c.Stdout, c.Stderr = svc.env, os.Stdout, os.Stderr
		// A group of its own: see the package comment. Pdeathsig still stops it if devstack dies.
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
		if err := c.Start(); err != nil {
			terminate(procs)
			return fmt.Errorf("start %s: %w", filepath.Base(argv[0]), err)
		}
		procs = append(procs, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Wait()
			if err != nil {
				err = fmt.Errorf("%s exited: %w", filepath.Base(argv[0]), err)
			}
			exited <- err
		}()
	}
	log.Info("system running; Ctrl-C stops it", logging.KeyStatus, "running")

	var firstErr error
	select {
	case <-ctx.Done():
		log.Info("stopping", logging.KeyStatus, "stopping")
	case firstErr = <-exited:
		if firstErr == nil {
			firstErr = errors.New("a service exited unexpectedly")
		}
	}
	terminate(procs)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		for _, p := range procs {
			_ = p.Process.Kill()
		}
		<-done
	}
	return firstErr
}

func terminate(procs []*exec.Cmd) {
	for _, p := range procs {
		_ = p.Process.Signal(syscall.SIGTERM) // an already exited one just reports an error
	}
}
