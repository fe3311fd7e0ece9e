// Command giftbench measures the API (and the whole send path) on loopback and prints figures
// (`make bench`). It is a benchmark, not a test: it asserts nothing and prints the targets beside
// the measurements.
//
// For each concurrency level it starts the real api binary on a fresh throwaway PostgreSQL
// (durable: fsync on) and the SQS emulator, then measures:
//   - POST /gifts and POST /gifts/{id}/send, closed loop: requests/s and latency percentiles;
//   - the same at half the saturated rate, open loop (latency measured from the scheduled time);
//   - the pgbench ceiling: a pgbench script with the same SQL statements at the same connection
//     count, on the same database in the same run, and the ratio API / pgbench;
//   - the API's peak RSS (VmHWM).
//
// Every API call but the readiness probe carries "Authorization: Bearer <key>", a key of the
// client "giftbench" issued at the start (devstack.IssueAPIKey; its rate limit far above any
// figure here); the gifts it prepares in the database belong to that client.
//
// Then, with the worker running (failure rate 0), the end-to-end latency from accepting a send to
// the gift being SENT, measured from the database's own timestamps.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/devkit/devstack"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/repo"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/servers"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "length of each measurement")
	warmup := flag.Duration("warmup", 3*time.Second, "load each server of the comparisons gets, unmeasured, before its measurement")
	levelsFlag := flag.String("levels", "1,4,16", "client concurrency levels (also the API's and pgbench's connection count)")
	overheadConns := flag.Int("overhead-conns", 4, "connections of the tracing/metrics on-vs-off comparison (0: skip it)")
	overheadRounds := flag.Int("overhead-rounds", 5, "rounds of that comparison (each runs every mode once)")
	peerConns := flag.Int("peer-conns", 16, "connections of the comparison with the hand-written peer (0: skip it)")
	peerRounds := flag.Int("peer-rounds", 5, "rounds of that comparison (each runs every mode once)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the API serving POST /gifts (tracing as deployed, -peer-conns connections) to this file")
	e2e := flag.Bool("e2e", true, "measure the end-to-end send -> SENT latency with the worker")
	flag.Parse()
	var levels []int
	for _, f := range strings.FieldsFunc(*levelsFlag, func(r rune) bool { return r == ',' }) {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "giftbench: bad level %q\n", f)
			os.Exit(2)
		}
		levels = append(levels, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	opts := options{duration: *duration, warmup: *warmup, levels: levels, overheadConns: *overheadConns, overheadRounds: *overheadRounds,
		peerConns: *peerConns, peerRounds: *peerRounds, cpuProfile: *cpuProfile, e2e: *e2e}
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "giftbench:", err)
		os.Exit(1)
	}
}

type bench struct {
	root, bin, pgbench string
	wrk                string // the wrk binary when installed: a C load generator, like pgbench's client
	pg                 *servers.Postgres
	sqsEndpoint        string
	queueURL, dlqURL   string
	duration           time.Duration
	warmup             time.Duration // see warmUp
	authorization      string        // "Bearer <key>" of the bench's client
	clientID           uuid.UUID     // that client: the owner of the gifts prepared in the database
}

// options are giftbench's flags.
type options struct {
	duration, warmup              time.Duration
	levels                        []int
	overheadConns, overheadRounds int
	peerConns, peerRounds         int
	cpuProfile                    string
	e2e                           bool
}

func run(ctx context.Context, o options) error {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	b := &bench{root: root, duration: o.duration, warmup: o.warmup}
	if b.bin, err = os.MkdirTemp("", "giftbench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.bin)
	apiTags := "" // the pprof tag adds a profiling listener (api-svc/cmd/api/pprof.go), idle unless asked
	if o.cpuProfile != "" {
		apiTags = "pprof"
	}
	for _, c := range []struct{ name, pkg, tags string }{
		{"api", "./api-svc/cmd/api", apiTags}, {"worker", "./worker-svc/cmd/worker", ""}, {"giftpeer", "./devkit/cmd/giftpeer", ""},
	} {
		build := exec.CommandContext(ctx, "go", "build", "-tags="+c.tags, "-o", filepath.Join(b.bin, c.name), c.pkg)
		build.Dir, build.Stderr = root, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build %s: %w", c.pkg, err)
		}
	}

	pgLog, err := os.CreateTemp("", "giftbench-postgres-*.log")
	if err != nil {
		return err
	}
	defer os.Remove(pgLog.Name())
	if b.pg, err = servers.StartPostgres(ctx, servers.PostgresOptions{Durable: true, Log: pgLog}); err != nil {
		return err
	}
	defer b.pg.Stop() //nolint:errcheck // best-effort teardown of a throwaway cluster
	binDir, err := servers.PostgresBinDir()
	if err != nil {
		return err
	}
	b.pgbench = filepath.Join(binDir, "pgbench")
	emu, err := servers.StartSQSEmulator(ctx, 0, nil)
	if err != nil {
		return err
	}
	defer emu.Stop()
	b.sqsEndpoint = emu.Endpoint
	client, err := sqs.NewClient(ctx, sqs.ClientConfig{Region: "ap-northeast-1", Endpoint: emu.Endpoint})
	if err != nil {
		return err
	}
	urls, err := sqs.EnsureQueues(ctx, client, sqs.QueuePair{Name: "bench", DLQName: "bench-dlq", MaxReceiveCount: 5})
	if err != nil {
		return err
	}
	b.queueURL, b.dlqURL = urls.URL, urls.DLQURL
	if out, err := b.command(ctx, "api", nil, "migrate").CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %w\n%s", err, out)
	}
	if err := b.issueKey(ctx); err != nil {
		return err
	}

	b.wrk, _ = exec.LookPath("wrk")
	generator := "wrk (C, like pgbench's own client)"
	if b.wrk == "" {
		generator = "the Go generator (wrk not installed; it costs the API more CPU than wrk would)"
	}
	fmt.Printf("giftbench: %d cores, %s per measurement, PostgreSQL fsync on, loopback; saturation by %s, half rate by the Go open-loop generator\n\n",
		runtime.NumCPU(), o.duration, generator)
	if len(o.levels) > 0 {
		fmt.Println("POST /gifts and POST /gifts/{id}/send (closed loop = saturated; half rate = open loop at 50% of it)")
		fmt.Printf("%-6s %-5s %10s %9s %9s %9s %10s %7s | %-27s %8s\n", "op", "conns", "req/s", "p50 ms", "p95 ms", "p99 ms", "pgbench", "ratio", "half rate: p50/p95/p99 ms", "RSS MiB")
		for _, c := range o.levels {
			if err := b.level(ctx, c); err != nil {
				return err
			}
		}
		fmt.Println("\ntargets: POST /gifts >= 0.8 of the pgbench ceiling; p99 < 25 ms at half the saturated rate; RSS < 60 MiB")
	}
	if o.peerConns > 0 && o.peerRounds > 0 {
		if err := b.peerComparison(ctx, o.peerConns, o.peerRounds); err != nil {
			return err
		}
	}
	if o.overheadConns > 0 {
		if err := b.overhead(ctx, o.overheadConns, o.overheadRounds); err != nil {
			return err
		}
	}
	if o.cpuProfile != "" {
		if err := b.profileAPI(ctx, max(1, o.peerConns), o.cpuProfile); err != nil {
			return err
		}
	}
	if !o.e2e {
		return nil
	}
	return b.endToEnd(ctx)
}

// benchClient is the client whose key every API call of the bench carries.
const benchClient = "giftbench"

// issueKey makes the bench's client and a key of it.
func (b *bench) issueKey(ctx context.Context) error {
	key, err := devstack.IssueAPIKey(ctx, b.pg.URL, benchClient, benchClient)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, b.pg.URL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT id FROM api_clients WHERE name = $1`, benchClient).Scan(&b.clientID); err != nil {
		return fmt.Errorf("read client %s: %w", benchClient, err)
	}
	b.authorization = "Bearer " + key
	return nil
}

// headers are the headers of an API call: the key's, and name-value pairs of kv.
func (b *bench) headers(kv ...string) map[string]string {
	h := map[string]string{"Authorization": b.authorization}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return h
}

// createGifts is POST /gifts as the bench's client, for the load generators.
func (b *bench) createGifts(httpc *http.Client, base string) func(context.Context, int) error {
	h := b.headers()
	return func(ctx context.Context, _ int) error {
		return post(ctx, httpc, base+"/gifts", `{"amount":1000,"message":"bench"}`, h, http.StatusCreated)
	}
}

// level measures one concurrency level with a fresh api process.
func (b *bench) level(ctx context.Context, conns int) error {
	api, base, err := b.startAPI(ctx, conns)
	if err != nil {
		return err
	}
	defer api.stop()
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4 * conns, MaxConnsPerHost: 0}, Timeout: 10 * time.Second}

	create := b.createGifts(httpc, base)
	cr, err := b.saturate(ctx, conns, base, nil, create)
	if err != nil {
		return err
	}
	crHalf := openLoop(ctx, cr.rate/2, b.duration, 4*conns, create)
	crPG, err := b.pgbenchTPS(ctx, conns, createSQL, []string{"-D", "client=" + b.clientID.String()})
	if err != nil {
		return err
	}
	api.sampleRSS()
	printRow("create", conns, cr, crPG, crHalf, api.peakRSS())

	need := int(cr.rate*b.duration.Seconds()*2) + 1000
	ids, err := b.createdGifts(ctx, need)
	if err != nil {
		return err
	}
	var next atomic.Int64
	send := func(ctx context.Context, _ int) error {
		i := next.Add(1) - 1
		if int(i) >= len(ids) {
			return errors.New("ran out of prepared gifts")
		}
		return post(ctx, httpc, base+"/gifts/"+ids[i]+"/send", "", b.headers("Idempotency-Key", "bench-"+ids[i]), http.StatusAccepted)
	}
	sd, err := b.saturate(ctx, conns, base, ids, send)
	if err != nil {
		return err
	}
	// wrk consumed those ids, and up to conns more whose requests were cut off at the end.
	next.Add(int64(sd.requests + conns))
	sdHalf := openLoop(ctx, sd.rate/2, b.duration, 4*conns, send)
	if err := b.prepareSendGifts(ctx, pgbenchGifts); err != nil {
		return err
	}
	sdPG, err := b.pgbenchTPS(ctx, conns, sendSQL, []string{"-D", "ngifts=" + strconv.Itoa(pgbenchGifts), "-D", "client=" + b.clientID.String()})
	if err != nil {
		return err
	}
	api.sampleRSS()
	printRow("send", conns, sd, sdPG, sdHalf, api.peakRSS())
	return nil
}

// The pgbench scripts run the statements the store runs (shared/postgres/store.go), on the same
// database and with the same connection count as the API; :client is the bench's client, the
// owner the store writes and the send's lock checks.
const createSQL = `INSERT INTO gifts (id, client_id, code, amount, message, status, created_at, updated_at) VALUES (gen_random_uuid(), CAST(:client AS uuid), gen_random_uuid()::text, 1000, 'bench', 'CREATED', now(), now());
`

const pgbenchGifts = 200000

const sendSQL = `\set g random(1, :ngifts)
\set r random(1, 1000000000000)
BEGIN;
SELECT status FROM gifts WHERE id = md5('pgbench-' || :g)::uuid AND (CAST(:client AS uuid) IS NULL OR client_id = CAST(:client AS uuid)) FOR UPDATE;
SELECT response_body FROM send_requests WHERE gift_id = md5('pgbench-' || :g)::uuid AND request_id = 'k' || :r;
INSERT INTO send_requests (gift_id, request_id, force_failure, response_body) VALUES (md5('pgbench-' || :g)::uuid, 'k' || :r, false, '\x7b7d'::bytea);
UPDATE gifts SET status = 'QUEUED', updated_at = now() WHERE id = md5('pgbench-' || :g)::uuid;
INSERT INTO outbox_messages (gift_id, request_id, body, available_at) VALUES (md5('pgbench-' || :g)::uuid, 'k' || :r, '{}', now() + interval '5 seconds') RETURNING id AS outbox_id \gset
END;
DELETE FROM outbox_messages WHERE id = :outbox_id;
`

func (b *bench) pgbenchTPS(ctx context.Context, conns int, script string, extra []string) (float64, error) {
	f, err := os.CreateTemp("", "giftbench-*.sql")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(script); err != nil {
		return 0, err
	}
	_ = f.Close()
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(conns), "-j", strconv.Itoa(min(conns, runtime.NumCPU())),
		"-T", strconv.Itoa(int(b.duration.Seconds())), "-f", f.Name(), "-h", "127.0.0.1", "-p", strconv.Itoa(b.pg.Port), "-U", "postgres"}
	args = append(args, extra...)
	args = append(args, "postgres")
	out, err := exec.CommandContext(ctx, b.pgbench, args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench printed no tps:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// createdGifts inserts n CREATED gifts of the bench's client for the send measurement and returns
// their ids.
func (b *bench) createdGifts(ctx context.Context, n int) ([]string, error) {
	conn, err := pgx.Connect(ctx, b.pg.URL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `INSERT INTO gifts (id, client_id, code, amount, status)
		SELECT gen_random_uuid(), $2, gen_random_uuid()::text, 1000, 'CREATED' FROM generate_series(1, $1) RETURNING id::text`, n, b.clientID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// prepareSendGifts makes sure the gifts the pgbench send script addresses exist.
func (b *bench) prepareSendGifts(ctx context.Context, n int) error {
	conn, err := pgx.Connect(ctx, b.pg.URL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `INSERT INTO gifts (id, client_id, code, amount, status)
		SELECT md5('pgbench-' || g)::uuid, $2, 'pgbench-' || g, 1000, 'CREATED' FROM generate_series(1, $1) g
		ON CONFLICT (id) DO NOTHING`, n, b.clientID)
	return err
}

// endToEnd runs the API and the worker (failure rate 0) at a low, steady load and reports the
// time from accepting a send (send_requests.created_at) to SENT (gifts.updated_at).
func (b *bench) endToEnd(ctx context.Context) error {
	// A queue pair of its own: the throughput runs left thousands of messages on the first one,
	// and the worker would measure draining them instead.
	client, err := sqs.NewClient(ctx, sqs.ClientConfig{Region: "ap-northeast-1", Endpoint: b.sqsEndpoint})
	if err != nil {
		return err
	}
	urls, err := sqs.EnsureQueues(ctx, client, sqs.QueuePair{Name: "bench-e2e", DLQName: "bench-e2e-dlq", MaxReceiveCount: 5})
	if err != nil {
		return err
	}
	b.queueURL, b.dlqURL = urls.URL, urls.DLQURL
	api, base, err := b.startAPI(ctx, 10)
	if err != nil {
		return err
	}
	defer api.stop()
	worker, err := b.start(ctx, "worker", []string{"WORKER_FAILURE_RATE=0", "WORKER_HEALTH_ADDR=127.0.0.1:0"}, "run")
	if err != nil {
		return err
	}
	defer worker.stop()

	ids, err := b.createdGifts(ctx, 1000)
	if err != nil {
		return err
	}
	httpc := &http.Client{Timeout: 10 * time.Second}
	var next atomic.Int64
	const rate = 20.0
	res := openLoop(ctx, rate, b.duration, 4, func(ctx context.Context, _ int) error {
		i := next.Add(1) - 1
		return post(ctx, httpc, base+"/gifts/"+ids[i]+"/send", "", b.headers("Idempotency-Key", "e2e"), http.StatusAccepted)
	})
	sent := int(next.Load())
	pool, err := pgxpool.New(ctx, b.pg.URL)
	if err != nil {
		return err
	}
	defer pool.Close()
	deadline := time.Now().Add(30 * time.Second)
	var done int
	for time.Now().Before(deadline) {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM send_requests r JOIN gifts g ON g.id = r.gift_id WHERE r.request_id = 'e2e' AND g.status = 'SENT'`).Scan(&done); err != nil {
			return err
		}
		if done >= sent-res.errors {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var p50, p95, p99 float64
	err = pool.QueryRow(ctx, `
		SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)
		FROM (SELECT extract(epoch FROM g.updated_at - r.created_at) * 1000 AS ms
		      FROM send_requests r JOIN gifts g ON g.id = r.gift_id WHERE r.request_id = 'e2e' AND g.status = 'SENT') t`).Scan(&p50, &p95, &p99)
	if err != nil {
		return fmt.Errorf("end-to-end percentiles (did the worker send anything?): %w", err)
	}
	fmt.Printf("\nsend -> SENT at %.0f sends/s with the worker (failure rate 0, its default simulated latency): %d of %d SENT; p50 %.1f ms, p95 %.1f ms, p99 %.1f ms (target: p95 < 300 ms)\n",
		rate, done, sent, p50, p95, p99)
	return nil
}

// process is a running service binary.
type process struct {
	cmd  *exec.Cmd
	peak atomic.Int64
}

func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// sampleRSS records the process's peak resident set (VmHWM, kernel-tracked).
func (p *process) sampleRSS() {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return
	}
	if m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b); m != nil {
		kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
		p.peak.Store(kb)
	}
}

func (p *process) peakRSS() float64 { return float64(p.peak.Load()) / 1024 }

func (b *bench) command(ctx context.Context, name string, extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(b.bin, name), args...)
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+b.pg.URL, "SQS_ENDPOINT="+b.sqsEndpoint, "SQS_QUEUE_URL="+b.queueURL, "SQS_DLQ_URL="+b.dlqURL,
		"AWS_REGION=ap-northeast-1", "LOG_LEVEL=WARN")
	cmd.Env = append(cmd.Env, extraEnv...)
	return cmd
}

func (b *bench) start(ctx context.Context, name string, extraEnv []string, args ...string) (*process, error) {
	cmd := b.command(ctx, name, extraEnv, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &process{cmd: cmd}, nil
}

func (b *bench) startAPI(ctx context.Context, conns int) (*process, string, error) {
	return b.startAPIWith(ctx, conns, nil)
}

// startAPIWith starts the api with extra environment variables and waits until it is ready.
func (b *bench) startAPIWith(ctx context.Context, conns int, extraEnv []string) (*process, string, error) {
	return b.startServer(ctx, "api", conns, extraEnv, "serve")
}

// startServer starts the api or the peer (name) with extra environment variables and arguments,
// and waits until it is ready.
func (b *bench) startServer(ctx context.Context, name string, conns int, extraEnv []string, args ...string) (*process, string, error) {
	port, err := servers.FreePort()
	if err != nil {
		return nil, "", err
	}
	p, err := b.start(ctx, name, append([]string{"API_PORT=" + strconv.Itoa(port), "DB_MAX_CONNS=" + strconv.Itoa(conns)}, extraEnv...), args...)
	if err != nil {
		return nil, "", err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(15 * time.Second); ; {
		if err := get(ctx, base+"/readyz"); err == nil {
			return p, base, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, "", fmt.Errorf("the %s did not become ready", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// warmUp loads a server just started, unmeasured, for b.warmup before a comparison measures it, so
// that every mode is measured as it runs after its start: its connections open, its caches filled,
// and, with tracing, the tracer holding the Agent's sampling rates. The tracer keeps every trace
// until the Agent's first answer (one flush interval, 2 s), which a measurement started at once
// would count as if it were the service's steady state.
func (b *bench) warmUp(ctx context.Context, conns int, do func(context.Context, int) error) {
	if b.warmup > 0 {
		closedLoop(ctx, conns, b.warmup, do)
	}
}

// saturate measures the closed-loop (saturated) rate with conns connections: with wrk when it is
// installed, else with the Go generator running do. ids, when not nil, are the gifts to send
// (POST /gifts/{id}/send); nil means POST /gifts.
func (b *bench) saturate(ctx context.Context, conns int, base string, ids []string, do func(context.Context, int) error) (result, error) {
	return b.saturateFor(ctx, conns, b.duration, base, ids, do)
}

// saturateFor is saturate for d rather than b.duration.
func (b *bench) saturateFor(ctx context.Context, conns int, d time.Duration, base string, ids []string, do func(context.Context, int) error) (result, error) {
	if b.wrk == "" {
		return closedLoop(ctx, conns, d, do), nil
	}
	dir, err := os.MkdirTemp("", "giftbench-wrk-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "load.lua")
	lua := wrkCreate
	if ids != nil {
		lua = wrkSend
		if err := os.WriteFile(filepath.Join(dir, "ids"), []byte(strings.Join(ids, "\n")+"\n"), 0o600); err != nil {
			return result{}, err
		}
	}
	if err := os.WriteFile(script, []byte(lua+wrkDone), 0o600); err != nil {
		return result{}, err
	}
	target := base + "/gifts" // the send script sets each request's path itself
	cmd := exec.CommandContext(ctx, b.wrk, "-t1", "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(max(1, int(d.Seconds())))+"s", "-s", script, target)
	cmd.Env = append(os.Environ(), "GIFTBENCH_IDS="+filepath.Join(dir, "ids"), "GIFTBENCH_AUTHORIZATION="+b.authorization)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	m := regexp.MustCompile(`GIFTBENCH (\d+) (\d+) (\d+) ([0-9.]+) ([0-9.]+) ([0-9.]+)`).FindStringSubmatch(string(out))
	if m == nil {
		return result{}, fmt.Errorf("wrk printed no summary:\n%s", out)
	}
	n := func(i int) float64 { f, _ := strconv.ParseFloat(m[i], 64); return f }
	requests, bad, micros := int(n(1)), int(n(2)), n(3)
	return result{
		rate: float64(requests-bad) / (micros / 1e6), p50: n(4) / 1000, p95: n(5) / 1000, p99: n(6) / 1000,
		errors: bad, requests: requests,
	}, nil
}

// wrk scripts: one thread (-t1), so one Lua state walks the ids in order. Every request carries
// the bench's key (GIFTBENCH_AUTHORIZATION: "Bearer <key>").
const wrkCreate = `wrk.method = "POST"
wrk.body = '{"amount":1000,"message":"bench"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("GIFTBENCH_AUTHORIZATION")
`

const wrkSend = `local ids = {}
for line in io.lines(os.getenv("GIFTBENCH_IDS")) do ids[#ids + 1] = line end
local auth = os.getenv("GIFTBENCH_AUTHORIZATION")
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/gifts/" .. ids[i] .. "/send", { ["Idempotency-Key"] = "bench-" .. ids[i], ["Authorization"] = auth }, "")
end
`

const wrkDone = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("GIFTBENCH %d %d %d %f %f %f\n", summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
`

// result is one measurement.
type result struct {
	rate          float64 // successful requests per second
	p50, p95, p99 float64 // milliseconds
	errors        int
	requests      int // requests made by wrk (0 with the Go generator, which tracks its own ids)
}

// closedLoop runs workers that each send the next request as soon as the previous one answered.
func closedLoop(ctx context.Context, workers int, d time.Duration, do func(context.Context, int) error) result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var lat []float64
	var errs int
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			var mine []float64
			bad := 0
			for ctx.Err() == nil {
				t := time.Now()
				if err := do(ctx, w); err != nil {
					if ctx.Err() == nil {
						bad++
					}
					continue
				}
				mine = append(mine, float64(time.Since(t).Microseconds())/1000)
			}
			mu.Lock()
			lat, errs = append(lat, mine...), errs+bad
			mu.Unlock()
		})
	}
	wg.Wait()
	return summarize(lat, errs, time.Since(start))
}

// openLoop issues requests at a fixed rate whatever the answers, from a fixed pool of workers
// (so connections are reused and the generator itself stays cheap); latency counts from the moment
// each request was due, so a slow server cannot hide its queueing (no coordinated omission).
func openLoop(ctx context.Context, rate float64, d time.Duration, workers int, do func(context.Context, int) error) result {
	if rate <= 0 {
		return result{}
	}
	interval := time.Duration(float64(time.Second) / rate)
	total := int(d / interval)
	due := make(chan time.Time, total)
	var mu sync.Mutex
	var lat []float64
	var errs int
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var mine []float64
			bad := 0
			for at := range due {
				if err := do(ctx, w); err != nil {
					bad++
					continue
				}
				mine = append(mine, float64(time.Since(at).Microseconds())/1000)
			}
			mu.Lock()
			lat, errs = append(lat, mine...), errs+bad
			mu.Unlock()
		})
	}
	start := time.Now()
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(at))
		if ctx.Err() != nil {
			break
		}
		due <- at
	}
	close(due)
	wg.Wait()
	return summarize(lat, errs, d)
}

func summarize(lat []float64, errs int, elapsed time.Duration) result {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return math.NaN()
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	return result{rate: float64(len(lat)) / elapsed.Seconds(), p50: pct(0.50), p95: pct(0.95), p99: pct(0.99), errors: errs}
}

func printRow(op string, conns int, r result, pgTPS float64, half result, rss float64) {
	errNote := ""
	if r.errors+half.errors > 0 {
		errNote = fmt.Sprintf("  (%d failed or cut off at the end)", r.errors+half.errors)
	}
	fmt.Printf("%-6s %-5d %10.0f %9.2f %9.2f %9.2f %10.0f %7.2f | %8.2f/%8.2f/%8.2f %8.1f%s\n",
		op, conns, r.rate, r.p50, r.p95, r.p99, pgTPS, r.rate/pgTPS, half.p50, half.p95, half.p99, rss, errNote)
}

func post(ctx context.Context, c *http.Client, url, body string, header map[string]string, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Body = http.NoBody
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

func get(ctx context.Context, url string) error {
	body, err := getOK(ctx, url)
	if err != nil {
		return err
	}
	return body.Close()
}

// getOK GETs url and returns the body of a 200 answer; any other status is an error.
func getOK(ctx context.Context, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%s: %d", url, resp.StatusCode)
	}
	return resp.Body, nil
}
