package giftctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/apiserver"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/config"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/giftctl"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/giftctl/connect"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, testenv.Needs{Postgres: true, SQS: true}, &env) }

// system is a test's own database, queue pair and API (apiserver.Serve, with its outbox relay), and
// giftctl's environment pointing at them, as `make run` would set it: GIFT_API_KEY is a key of
// client, which owns the gifts the test makes.
type system struct {
	vars   map[string]string
	pool   *pgxpool.Pool
	store  *postgres.Store
	queues testenv.Queues
	client gift.Client
}

func newSystem(t *testing.T) *system {
	t.Helper()
	s := &system{queues: env.NewQueues(t, 5)}
	db := env.NewDatabase(t)
	s.vars = map[string]string{
		"DATABASE_URL":         env.RoleURL(t, db, testenv.RoleOperator), // giftctl's role, as in production
		"SQS_ENDPOINT":         env.SQSEndpoint,
		"SQS_QUEUE_URL":        s.queues.URL,
		"SQS_DLQ_URL":          s.queues.DLQURL,
		"AWS_REGION":           "ap-northeast-1",
		"API_PORT":             "0",
		"OUTBOX_POLL_INTERVAL": "50ms",
		"SHUTDOWN_TIMEOUT":     "5s",
		"DB_CONNECT_TIMEOUT":   "500ms",
	}
	var err error
	s.pool, err = pgxpool.New(context.Background(), db) // the test's own, as the superuser
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.pool.Close)
	s.store = postgres.NewStore(s.pool, 10*time.Second)
	s.client, err = s.store.CreateClient(context.Background(), "giftctl-test", gift.RateLimit{PerSecond: 1e5, Burst: 1e5}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if s.vars["GIFT_API_KEY"], _, err = s.store.IssueAPIKey(context.Background(), s.client.ID, "test"); err != nil {
		t.Fatal(err)
	}
	apiVars := maps.Clone(s.vars)
	apiVars["DATABASE_URL"] = env.RoleURL(t, db, testenv.RoleAPI)
	s.vars["API_URL"] = startAPI(t, apiVars)
	return s
}

// startAPI runs the API on vars until the test ends and returns its URL.
func startAPI(t *testing.T, vars map[string]string) string {
	t.Helper()
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Log = logging.New(io.Discard, "api", slog.LevelInfo)
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- apiserver.Serve(ctx, cfg, ready) }()
	select {
	case addr := <-ready:
		t.Cleanup(func() { cancel(); <-done })
		return "http://" + addr
	case err := <-done:
		cancel()
		t.Fatalf("API did not start: %v", err)
		return ""
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs giftctl with args against s, as the operator "tester", answering stdin.
func (s *system) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	cli := &giftctl.CLI{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Lookup: func(k string) (string, bool) { v, ok := s.vars[k]; return v, ok }, User: func() string { return "tester" },
		Connect: connect.Open}
	code := cli.Run(context.Background(), args)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// sendWithMessage creates a gift and accepts a send for it as the API does; the message is not
// published (the relay leaves it for an hour). It returns the queue message body.
func (s *system) sendWithMessage(t *testing.T, force bool) (uuid.UUID, string) {
	t.Helper()
	ctx := context.Background()
	g, err := gift.New(s.client.ID, gift.NewGift{Amount: 100}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.CreateGift(ctx, g); err != nil {
		t.Fatal(err)
	}
	key := "req-" + uuid.NewString()[:8]
	body, _ := queue.Message{GiftID: g.ID, RequestID: key, ForceFailure: force}.Marshal()
	if _, err := s.store.Send(ctx, gift.SendRequest{GiftID: g.ID, RequestID: key, ForceFailure: force}, []byte(`{}`), body, gift.OutboxClaim{Token: uuid.New(), Lease: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM outbox_messages WHERE gift_id = $1`, g.ID); err != nil { // "published"
		t.Fatal(err)
	}
	return g.ID, string(body)
}

// deadLettered makes a gift that failed for good: FAILED, with its message in the DLQ.
func (s *system) deadLettered(t *testing.T) uuid.UUID {
	t.Helper()
	id, body := s.sendWithMessage(t, true)
	if _, err := s.store.MarkFailed(context.Background(), s.current(t, id), "send failed on all 5 attempts"); err != nil {
		t.Fatal(err)
	}
	s.toDLQ(t, body)
	return id
}

func (s *system) toDLQ(t *testing.T, body string) {
	t.Helper()
	if err := sqs.NewPublisher(s.queues.Client, s.queues.DLQURL).Publish(context.Background(), body); err != nil {
		t.Fatal(err)
	}
}

func (s *system) depth(t *testing.T, url string) queue.Depth {
	t.Helper()
	d, err := sqs.QueueDepth(context.Background(), s.queues.Client, url)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (s *system) status(t *testing.T, id uuid.UUID) gift.Status {
	t.Helper()
	g, err := s.store.GetGift(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return g.Status
}

func statusJSON(t *testing.T, r result) giftctl.Status {
	t.Helper()
	var st giftctl.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status --json printed %q: %v", r.stdout, err)
	}
	return st
}

func TestStatus(t *testing.T) {
	t.Parallel()
	s := newSystem(t)

	t.Run("a fresh system is healthy", func(t *testing.T) {
		r := s.run(t, "", "status", "--json")
		st := statusJSON(t, r)
		if r.code != 0 || st.Verdict != "healthy" || st.APIReady == nil || !*st.APIReady || st.DLQDepth == nil || *st.DLQDepth != 0 ||
			st.QueueVisible == nil || st.OutboxPending == nil || len(st.Problems)+len(st.Unknown) != 0 {
			t.Fatalf("exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
		if text := s.run(t, "", "status"); text.code != 0 || !strings.Contains(text.stdout, "verdict  HEALTHY (exit 0)") {
			t.Fatalf("text status: exit %d\n%s", text.code, text.stdout)
		}
	})

	t.Run("a QUEUED gift waiting too long degrades it", func(t *testing.T) {
		id, _ := s.sendWithMessage(t, false)
		if _, err := s.pool.Exec(context.Background(), `UPDATE gifts SET updated_at = now() - interval '10 minutes' WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		r := s.run(t, "", "status", "--json", "--stuck-after", "5m")
		if st := statusJSON(t, r); r.code != 1 || st.Verdict != "degraded" || st.StuckQueued == nil || *st.StuckQueued != 1 {
			t.Fatalf("exit %d: %s", r.code, r.stdout)
		}
		if r := s.run(t, "", "status", "--stuck-after", "1h"); r.code != 0 {
			t.Fatalf("with a 1h threshold: exit %d\n%s", r.code, r.stdout)
		}
		if _, err := s.store.MarkSent(context.Background(), s.current(t, id)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a DLQ message degrades it", func(t *testing.T) {
		id := s.deadLettered(t)
		r := s.run(t, "", "status", "--json")
		if st := statusJSON(t, r); r.code != 1 || st.DLQDepth == nil || *st.DLQDepth != 1 || !strings.Contains(strings.Join(st.Problems, ";"), "DLQ holds 1") {
			t.Fatalf("exit %d: %s", r.code, r.stdout)
		}
		if r := s.run(t, "", "retry", id.String(), "--reason", "test", "--yes"); r.code != 0 {
			t.Fatalf("retry: %+v", r)
		}
	})

	t.Run("an unreachable API with nothing else wrong cannot tell", func(t *testing.T) {
		vars := map[string]string{}
		for k, v := range s.vars {
			vars[k] = v
		}
		vars["API_URL"] = "http://" + testenv.FreeAddr(t)
		other := &system{vars: vars}
		r := other.run(t, "", "status", "--json")
		if st := statusJSON(t, r); r.code != 2 || st.Verdict != "unknown" || st.APIReady != nil || st.DLQDepth == nil {
			t.Fatalf("exit %d: %s", r.code, r.stdout)
		}
	})

	t.Run("an API without its database is degraded, even when giftctl cannot read the database either", func(t *testing.T) {
		vars := map[string]string{}
		for k, v := range s.vars {
			vars[k] = v
		}
		vars["DATABASE_URL"] = "postgres://postgres@" + testenv.FreeAddr(t) + "/postgres?sslmode=disable&connect_timeout=1"
		vars["API_URL"] = startAPI(t, vars)
		r := (&system{vars: vars}).run(t, "", "status", "--json")
		st := statusJSON(t, r)
		if r.code != 1 || st.APIReady == nil || *st.APIReady || st.StuckQueued != nil || len(st.Unknown) == 0 {
			t.Fatalf("exit %d: %s", r.code, r.stdout)
		}
	})
}

// current names the attempt series of the gift's send request, as the worker's message carries it.
func (s *system) current(t *testing.T, id uuid.UUID) gift.Series {
	t.Helper()
	d, err := s.store.Delivery(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return gift.Series{GiftID: id, RequestID: d.RequestID, Retry: d.Retries}
}
