package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/devkit/devstack"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/platform"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/repo"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/servers"
)

// rehearsal is one drill's own local system and the operator's view of it.
type rehearsal struct {
	name    string
	dir     string // state: binaries, logs
	bin     devstack.Binaries
	deps    *devstack.Deps
	env     []string
	apiURL  string
	apiKey  string // the drill client's key: every API call of the drill and of giftctl carries it
	api     *devstack.Service
	workers []*devstack.Service
	client  *giftclient.ClientWithResponses
	began   time.Time
	startup time.Duration
	mu      sync.Mutex
}

// newRehearsal builds the binaries, starts PostgreSQL, the emulator and the API on free ports;
// the scenario starts its workers itself.
func newRehearsal(ctx context.Context, name string) (*rehearsal, error) {
	root, err := repo.Root()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(root, ".local"), 0o750); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(filepath.Join(root, ".local"), "drill-"+name+"-")
	if err != nil {
		return nil, err
	}
	r := &rehearsal{name: name, dir: dir, began: time.Now()}
	r.say("drill %s: building api, worker and giftctl; stack state and logs in %s", name, dir)
	if r.bin, err = devstack.Build(ctx, root, filepath.Join(dir, "bin")); err != nil {
		return r, err
	}
	quiet := logging.New(io.Discard, "drill", slog.LevelInfo)
	queue := devstack.Queue{Region: platform.DefaultRegion, Name: platform.DefaultQueueName, DLQName: platform.DefaultDLQName}
	r.deps, err = devstack.StartDeps(ctx, devstack.DepsOptions{StateDir: dir, Queue: queue, API: r.bin.API, MigrateOutput: io.Discard, Log: quiet})
	if err != nil {
		return r, err
	}
	if r.apiKey, err = r.deps.IssueAPIKey(ctx, "drill"); err != nil {
		return r, err
	}
	// Chosen once PostgreSQL and the emulator listen, so that neither can take it.
	apiPort, err := servers.FreePort()
	if err != nil {
		return r, err
	}
	r.apiURL = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	r.env = append(r.deps.Env,
		fmt.Sprintf("API_PORT=%d", apiPort),
		"API_URL="+r.apiURL,
		"WORKER_FAILURE_RATE=0", // outcomes are certain: a drill verifies every gift SENT
		"WORKER_DB_RETRY_INTERVAL=250ms",
		"LOG_LEVEL=INFO",
	)
	if r.api, err = r.start("api", r.roleEnv(devstack.RoleAPI), r.bin.API, "serve"); err != nil {
		return r, err
	}
	if r.client, err = giftclient.NewClientWithResponses(r.apiURL, giftclient.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}),
		giftclient.WithAPIKey(r.apiKey)); err != nil {
		return r, err
	}
	err = r.poll(ctx, "the API ready", 30*time.Second, func() (bool, string) {
		resp, err := r.client.GetReadyzWithResponse(ctx)
		if err != nil {
			return false, err.Error()
		}
		return resp.StatusCode() == http.StatusOK, string(resp.Body)
	})
	r.startup = time.Since(r.began)
	return r, err
}

// roleEnv is the setting that connects a program to the database as role, as in production
// (docs/architecture.md, "Database roles"); it goes after the stack's environment, where it wins.
func (r *rehearsal) roleEnv(role string) []string {
	return []string{"DATABASE_URL=" + devstack.RoleURL(r.deps.DatabaseURL(), role)}
}

// start runs a service with the stack's environment plus extra, logging to DIR/NAME.log.
func (r *rehearsal) start(name string, extra []string, argv ...string) (*devstack.Service, error) {
	out, err := os.OpenFile(filepath.Join(r.dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600) //nolint:gosec // under the drill's dir
	if err != nil {
		return nil, err
	}
	env := append(append([]string{}, r.env...), extra...)
	return devstack.StartService(name, env, out, argv...)
}

// startWorker starts a worker named name with its own health port and extra settings.
func (r *rehearsal) startWorker(name string, extra ...string) (*devstack.Service, error) {
	port, err := servers.FreePort()
	if err != nil {
		return nil, err
	}
	w, err := r.start(name, append(append(r.roleEnv(devstack.RoleWorker), fmt.Sprintf("WORKER_HEALTH_ADDR=127.0.0.1:%d", port)), extra...),
		r.bin.Worker, "run")
	if err != nil {
		return nil, err
	}
	r.workers = append(r.workers, w)
	return w, nil
}

func (r *rehearsal) close(pass bool) {
	var wg sync.WaitGroup
	for _, s := range append([]*devstack.Service{r.api}, r.workers...) {
		if s != nil {
			wg.Go(func() { _ = s.Stop(30 * time.Second) })
		}
	}
	wg.Wait()
	if r.deps != nil {
		r.deps.Stop()
	}
	if pass {
		_ = os.RemoveAll(r.dir) //nolint:gosec // the drill's own temporary directory under .local
	}
}

// say prints a line with the time since the drill began.
func (r *rehearsal) say(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Printf("[%6.1fs] %s\n", time.Since(r.began).Seconds(), fmt.Sprintf(format, args...))
}

// step announces what the drill does next, and the runbook step it stands for.
func (r *rehearsal) step(what, runbook string) {
	r.say("ACTION   %s", what)
	if runbook != "" {
		r.say("RUNBOOK  %s", runbook)
	}
}

// giftctl runs the operator's command, prints its output indented and returns it with the exit
// code.
func (r *rehearsal) giftctl(ctx context.Context, args ...string) (string, int) {
	out, code := r.giftctlQuiet(ctx, args...)
	r.say("$ giftctl %s   (exit %d)", strings.Join(args, " "), code)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		fmt.Printf("           | %s\n", sc.Text())
	}
	return out, code
}

func (r *rehearsal) giftctlQuiet(ctx context.Context, args ...string) (string, int) {
	cmd := exec.CommandContext(ctx, r.bin.Giftctl, args...) //nolint:gosec // our own binary
	// giftctl's gift commands call the API as the drill's client (GIFT_API_KEY).
	cmd.Env = append(append(append([]string{}, r.env...), r.roleEnv(devstack.RoleOperator)...), "GIFT_API_KEY="+r.apiKey)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return out.String(), exit.ExitCode()
	case err != nil:
		return out.String() + err.Error(), -1
	}
	return out.String(), 0
}

// statusJSON is the part of `giftctl status --json` the drills judge.
type statusJSON struct {
	Verdict                string           `json:"verdict"`
	APIReady               *bool            `json:"api_ready"`
	GiftsByStatus          map[string]int64 `json:"gifts_by_status"`
	QueuedOldestAgeSeconds *float64         `json:"queued_oldest_age_seconds"`
	StuckQueued            *int64           `json:"stuck_queued"`
	QueueVisible           *int             `json:"queue_visible"`
	QueueInFlight          *int             `json:"queue_in_flight"`
	DLQDepth               *int             `json:"dlq_depth"`
}

// status reads `giftctl status --json` without printing it.
func (r *rehearsal) status(ctx context.Context, args ...string) (statusJSON, int) {
	out, code := r.giftctlQuiet(ctx, append([]string{"status", "--json"}, args...)...)
	var s statusJSON
	_ = json.Unmarshal([]byte(out), &s)
	return s, code
}

// poll checks cond every 250 ms until it holds or limit passes.
func (r *rehearsal) poll(ctx context.Context, what string, limit time.Duration, cond func() (bool, string)) error {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		done, state := cond()
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not reached within %s (last: %s)", what, limit, state)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// sendGifts creates n gifts and sends each, as clients do, 10 at a time; it returns their ids.
func (r *rehearsal) sendGifts(ctx context.Context, n int) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 10)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ids[i], errs[i] = r.sendOne(ctx)
		})
	}
	wg.Wait()
	return ids, errors.Join(errs...)
}

func (r *rehearsal) sendOne(ctx context.Context) (uuid.UUID, error) {
	created, err := r.client.CreateGiftWithResponse(ctx, nil, giftclient.CreateGiftRequest{Amount: 1000})
	if err != nil {
		return uuid.Nil, err
	}
	if created.JSON201 == nil {
		return uuid.Nil, fmt.Errorf("POST /gifts answered %d: %s", created.StatusCode(), created.Body)
	}
	id := created.JSON201.GiftId
	sent, err := r.client.SendGiftWithResponse(ctx, id, &giftclient.SendGiftParams{IdempotencyKey: "drill-" + uuid.NewString()})
	if err != nil {
		return uuid.Nil, err
	}
	if sent.StatusCode() != http.StatusAccepted {
		return uuid.Nil, fmt.Errorf("POST /gifts/%s/send answered %d: %s", id, sent.StatusCode(), sent.Body)
	}
	return id, nil
}

// allSent polls until every gift of ids is SENT, through the API.
func (r *rehearsal) allSent(ctx context.Context, ids []uuid.UUID, limit time.Duration) error {
	left := map[uuid.UUID]bool{}
	for _, id := range ids {
		left[id] = true
	}
	return r.poll(ctx, fmt.Sprintf("all %d gifts SENT", len(ids)), limit, func() (bool, string) {
		for id := range left {
			resp, err := r.client.GetGiftWithResponse(ctx, id)
			if err != nil {
				return false, err.Error()
			}
			if resp.JSON200 == nil {
				return false, fmt.Sprintf("GET %s answered %d", id, resp.StatusCode())
			}
			switch resp.JSON200.Status {
			case giftclient.GiftStatus("SENT"):
				delete(left, id)
			case giftclient.GiftStatus("FAILED"):
				return false, fmt.Sprintf("gift %s FAILED", id)
			}
		}
		return len(left) == 0, fmt.Sprintf("%d not SENT yet", len(left))
	})
}

// healthy polls until `giftctl status` exits 0 and prints it.
func (r *rehearsal) healthy(ctx context.Context, limit time.Duration, args ...string) error {
	err := r.poll(ctx, "giftctl status healthy (exit 0)", limit, func() (bool, string) {
		s, code := r.status(ctx, args...)
		return code == 0, s.Verdict
	})
	r.giftctl(ctx, append([]string{"status"}, args...)...)
	return err
}

func intOf(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}
