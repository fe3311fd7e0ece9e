// Command api is the Gift API.
//
//	api [serve]        serve HTTP until SIGTERM/SIGINT, then drain and exit 0
//	api migrate        apply the embedded database migrations and exit
//	api healthcheck    exit 0 when this container's /healthz answers 200 (ECS health check)
//	api outbox-status  print the outbox backlog (sends not yet on SQS) as JSON
//	api giftctl ...    run giftctl, the operator's command line, from the same image
//
// Configuration comes from the environment; see the README.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/apiserver"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/config"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/platform"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/tracing"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprintln(stdout, "usage: api [serve|migrate|healthcheck|outbox-status|giftctl ...]")
		return 0
	}
	if cmd == "giftctl" {
		return execGiftctl(args[1:], stderr)
	}
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		platform.ConfigInvalid(cfg.Log, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	switch cmd {
	case "serve":
		stopTracing := tracing.Start(cfg.Tracing, cfg.Log)
		err = apiserver.Serve(ctx, cfg, nil)
		stopTracing()
	case "migrate":
		err = migrate(ctx, cfg)
	case "healthcheck":
		err = healthcheck(ctx, cfg.Addr)
	case "outbox-status":
		err = outboxStatus(ctx, cfg, stdout)
	default:
		fmt.Fprintf(stderr, "api: unknown command %q; usage: api [serve|migrate|healthcheck|outbox-status]\n", cmd)
		return 2
	}
	if err != nil {
		cfg.Log.Error("api "+cmd+" failed", logging.KeyStatus, "failed", logging.KeyErrorCode, "COMMAND_FAILED", logging.Err(err))
		return 1
	}
	return 0
}

// execGiftctl replaces this process with giftctl, installed beside api in the image: an ECS
// run-task override can change a container's command but not its entrypoint (api), so
// `["giftctl", "status"]` as the command reaches giftctl this way (docs/runbook.md).
func execGiftctl(args []string, stderr io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "api giftctl:", err)
		return 2
	}
	path := filepath.Join(filepath.Dir(self), "giftctl")
	err = syscall.Exec(path, append([]string{path}, args...), os.Environ()) //nolint:gosec // our own binary, beside this one
	fmt.Fprintf(stderr, "api giftctl: run %s: %v\n", path, err)
	return 2
}

func migrate(ctx context.Context, cfg config.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	pool, _, err := cfg.Database.Open(ctx, cfg.Queue.Region)
	if err != nil {
		return err
	}
	defer pool.Close()
	n, err := postgres.Migrate(ctx, pool, cfg.Log)
	if err != nil {
		return err
	}
	cfg.Log.Info("migrations complete", logging.KeyStatus, "migrated", "applied", n)
	return nil
}

// healthcheck asks the API in this container (network namespace) for /healthz; images have no
// shell or curl, so ECS runs this subcommand.
func healthcheck(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("API address %q: %w", addr, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthz: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %d", resp.StatusCode)
	}
	return nil
}

func outboxStatus(ctx context.Context, cfg config.Config, out io.Writer) error {
	pool, store, err := cfg.Database.Open(ctx, cfg.Queue.Region)
	if err != nil {
		return err
	}
	defer pool.Close()
	b, err := store.OutboxBacklog(ctx)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(map[string]any{
		"pending":            b.Pending,
		"oldest_age_seconds": b.OldestAge.Seconds(),
	})
}
