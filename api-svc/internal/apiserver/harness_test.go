package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/apiserver"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/config"
	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/contracttest"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, testenv.Needs{Postgres: true, SQS: true}, &env) }

// stack is the real API process wiring (apiserver.Serve) on a test database and test queues, driven
// through the generated client with every response checked against openapi.yaml.
type stack struct {
	URL string
	// Key is the API key of the stack's client, Client; HTTP and Client send it on every request
	// that has no Authorization header of its own.
	Key    string
	Owner  gift.Client
	Client *giftclient.ClientWithResponses
	HTTP   *http.Client
	Pool   *pgxpool.Pool
	Queues testenv.Queues
	Logs   *testenv.LogBuffer
	stop   func() error
}

// stackOption sets an environment variable of the stack, or changes its configuration once read
// (what no variable can say, such as a stand-in secret source).
type stackOption struct {
	env   func(vars map[string]string)
	cfg   func(*config.Config)
	admin string
}

func withEnv(name, value string) stackOption {
	return stackOption{env: func(vars map[string]string) { vars[name] = value }}
}

func withConfig(change func(*config.Config)) stackOption { return stackOption{cfg: change} }

// withDatabase runs the API on apiURL (DATABASE_URL) and gives the test's own pool adminURL, the
// superuser of the same database, which it reads directly and issues keys with.
func withDatabase(adminURL, apiURL string) stackOption {
	return stackOption{env: func(vars map[string]string) { vars["DATABASE_URL"] = apiURL }, admin: adminURL}
}

// startStack runs apiserver.Serve until the test ends. Without options it gets its own database and
// queue pair; options override environment variables.
func startStack(t testing.TB, opts ...stackOption) *stack {
	t.Helper()
	vars := map[string]string{
		"API_PORT":             "0",
		"LOG_LEVEL":            "DEBUG",
		"OUTBOX_POLL_INTERVAL": "50ms",
		"OUTBOX_MAX_BACKOFF":   "200ms",
		"SHUTDOWN_TIMEOUT":     "5s",
		"AWS_REGION":           "ap-northeast-1",
	}
	for _, o := range opts {
		if o.env != nil {
			o.env(vars)
		}
	}
	s := &stack{Logs: &testenv.LogBuffer{}}
	poolURL := vars["DATABASE_URL"] // the test's own pool: the API's database, as the superuser
	for _, o := range opts {
		if o.admin != "" {
			poolURL = o.admin
		}
	}
	if _, ok := vars["DATABASE_URL"]; !ok {
		poolURL = env.NewDatabase(t)
		vars["DATABASE_URL"] = env.RoleURL(t, poolURL, testenv.RoleAPI) // as in production
	}
	if _, ok := vars["SQS_QUEUE_URL"]; !ok {
		s.Queues = env.NewQueues(t, 5)
		vars["SQS_ENDPOINT"], vars["SQS_QUEUE_URL"] = env.SQSEndpoint, s.Queues.URL
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Log = logging.New(s.Logs, "api", slog.LevelDebug)
	for _, o := range opts {
		if o.cfg != nil {
			o.cfg(&cfg)
		}
	}

	pool, err := pgxpool.New(context.Background(), poolURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s.Pool = pool

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- apiserver.Serve(ctx, cfg, ready) }()
	select {
	case addr := <-ready:
		s.URL = "http://" + addr
	case err := <-done:
		cancel()
		t.Fatalf("apiserver.Serve returned before listening: %v", err)
	}
	var once sync.Once
	var serveErr error
	s.stop = func() error {
		once.Do(func() { cancel(); serveErr = <-done })
		return serveErr
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("apiserver.Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("API logs:\n%s", s.Logs.String())
		}
	})
	s.Key, s.Owner = s.newClient(t, "test")
	s.HTTP = &http.Client{Transport: keyed(&contracttest.Transport{T: t}, s.Key)}
	c, err := giftclient.NewClientWithResponses(s.URL, giftclient.WithHTTPClient(s.HTTP))
	if err != nil {
		t.Fatal(err)
	}
	s.Client = c
	return s
}

// newClient makes an API client named name with a key, as giftctl does, and returns the key.
func (s *stack) newClient(t testing.TB, name string) (string, gift.Client) {
	t.Helper()
	store := postgres.NewStore(s.Pool, 10*time.Second)
	client, err := store.CreateClient(context.Background(), name, gift.RateLimit{PerSecond: 1e6, Burst: 1e6}, "test")
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := store.IssueAPIKey(context.Background(), client.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	return key, client
}

// keyed sends "Authorization: Bearer key" with every request that has no Authorization header.
func keyed(base http.RoundTripper, key string) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if req.Header.Get("Authorization") == "" {
			req = req.Clone(req.Context())
			req.Header.Set("Authorization", "Bearer "+key)
		}
		return base.RoundTrip(req)
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// do sends a raw request (for malformed input the generated client cannot produce).
func (s *stack) do(t *testing.T, method, path, contentType, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body = http.NoBody
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// createGift creates a gift and returns its id.
func (s *stack) createGift(t *testing.T) giftclient.CreatedGift {
	t.Helper()
	resp, err := s.Client.CreateGiftWithResponse(context.Background(), nil, giftclient.CreateGiftJSONRequestBody{Amount: 500})
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create gift: %v %v %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

func (s *stack) outboxPending(t *testing.T) int {
	t.Helper()
	var n int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox_messages`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// receiveAll drains the test queue until it has been empty for one long poll, deleting what it
// reads, and returns the bodies.
func receiveAll(t *testing.T, q testenv.Queues) []string {
	t.Helper()
	var bodies []string
	for {
		out, err := q.Client.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			if _, err := q.Client.DeleteMessage(context.Background(), &awssqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// envelope decodes and checks the error envelope, returning its code.
func envelope(t *testing.T, body []byte) (code string, requestID *string) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		RequestID     *string `json:"request_id"`
		CorrelationID string  `json:"correlation_id"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("not the error envelope: %v: %s", err, body)
	}
	if e.Error.Code == "" || e.Error.Message == "" || e.CorrelationID == "" {
		t.Fatalf("envelope without code, message or correlation_id: %s", body)
	}
	return e.Error.Code, e.RequestID
}
