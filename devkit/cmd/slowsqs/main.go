// Command slowsqs replays the slow-SQS scenario through `make run` and prints its figures: every
// SQS request of the API held back (DEVSTACK_SQS_LATENCY, 700 ms by default), a burst of sends
// accepted at once (300), then it waits until every gift is SENT, the outbox is empty and the
// queue is drained, and reports:
//
//   - sends accepted, gifts SENT and still QUEUED (stuck) when the wait ended;
//   - time to drain: from the first send to the last gift SENT;
//   - messages published: distinct SQS message ids the worker received for these gifts (read
//     from the worker's log lines), per send, and how many gifts were delivered more than once.
//
// It is a scenario, not a test: it asserts nothing and exits non-zero only when it cannot run.
// The stack runs on free ports with its state in a temporary directory, so it does not collide
// with a `make run` already running; the worker never fails a send (WORKER_FAILURE_RATE=0) so
// every redelivery it counts is a duplicate publication. Its API calls carry the key of a client
// "slowsqs" it makes on the stack's database at the start.
//
//	go run ./devkit/cmd/slowsqs [-sends 300] [-latency 700ms] [-timeout 3m]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gift-platform/ecs-sre-gift-worker/devkit/devstack"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/repo"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/servers"
)

func main() {
	sends := flag.Int("sends", 300, "sends accepted at once")
	latency := flag.Duration("latency", 700*time.Millisecond, "delay of every SQS request of the API")
	timeout := flag.Duration("timeout", 3*time.Minute, "how long to wait for every gift to be SENT")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *sends, *latency, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "slowsqs:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, sends int, latency, timeout time.Duration) error {
	root, err := repo.Root()
	if err != nil {
		return err
	}
	state, err := os.MkdirTemp("", "slowsqs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	ports, err := servers.FreePorts(4)
	if err != nil {
		return err
	}
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	sqsEndpoint := fmt.Sprintf("http://127.0.0.1:%d", ports[1])

	// `make run`, in a process group of its own so that the final Ctrl-C reaches make and
	// devstack as a terminal's would.
	stack := exec.Command("make", "--no-print-directory", "run")
	stack.Dir = root
	stack.Env = append(os.Environ(),
		"DEVSTACK_STATE_DIR="+state,
		"DEVSTACK_PG_PORT="+strconv.Itoa(ports[0]),
		"SQS_EMULATOR_PORT="+strconv.Itoa(ports[1]),
		"API_PORT="+strconv.Itoa(ports[2]),
		"WORKER_HEALTH_ADDR=127.0.0.1:"+strconv.Itoa(ports[3]),
		"DEVSTACK_SQS_LATENCY="+latency.String(),
		"WORKER_FAILURE_RATE=0",
	)
	stack.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stack.Stderr = os.Stderr
	out, err := stack.StdoutPipe()
	if err != nil {
		return err
	}
	if err := stack.Start(); err != nil {
		return fmt.Errorf("make run: %w", err)
	}
	logs := &logCollector{running: make(chan struct{}), pgURL: make(chan string, 1)}
	scanned := make(chan struct{})
	go func() { defer close(scanned); logs.scan(out) }()
	defer func() {
		_ = syscall.Kill(-stack.Process.Pid, syscall.SIGINT)
		<-scanned
		_ = stack.Wait()
	}()
	fmt.Fprintf(os.Stderr, "slowsqs: starting the stack (make run, state in %s)\n", state)
	var pgURL string
	select {
	case <-logs.running:
		pgURL = <-logs.pgURL
	case <-scanned:
		return errors.New("make run ended before the system was running")
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Minute):
		return errors.New("the system was not running after 5 minutes")
	}
	pool, err := pgxpool.New(ctx, pgURL)
	if err != nil {
		return err
	}
	defer pool.Close()

	key, err := devstack.IssueAPIKey(ctx, pgURL, "slowsqs", "slowsqs")
	if err != nil {
		return err
	}
	httpClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: sends}}
	client, err := giftclient.NewClientWithResponses(apiURL, giftclient.WithHTTPClient(httpClient), giftclient.WithAPIKey(key))
	if err != nil {
		return err
	}
	if err := waitReady(ctx, client); err != nil {
		return err
	}
	ids, err := createGifts(ctx, client, sends)
	if err != nil {
		return err
	}

	// Every send at once: the requests wait at a barrier, then go together.
	fmt.Fprintf(os.Stderr, "slowsqs: %d sends at once, every SQS request of the API delayed %s\n", sends, latency)
	start := time.Now()
	accepted := acceptSends(ctx, client, ids)

	deadline := time.Now().Add(timeout)
	var sent, queued int
	var drained time.Duration
	for {
		if err := pool.QueryRow(ctx, `
			SELECT count(*) FILTER (WHERE status = 'SENT'), count(*) FILTER (WHERE status = 'QUEUED')
			FROM gifts WHERE id = ANY($1)`, ids).Scan(&sent, &queued); err != nil {
			return fmt.Errorf("read gift statuses: %w", err)
		}
		if sent == sends {
			drained = time.Since(start)
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Let what is still in flight settle (the outbox may still hold published rows, the queue
	// duplicates) before counting, within the same deadline.
	sqsClient, err := sqs.NewClient(ctx, sqs.ClientConfig{Region: "ap-northeast-1", Endpoint: sqsEndpoint})
	if err != nil {
		return err
	}
	queueURL, err := sqs.QueueURL(ctx, sqsClient, "", "gift-send")
	if err != nil {
		return err
	}
	var pending int
	settled := false
	for !settled && time.Now().Before(deadline.Add(30*time.Second)) && ctx.Err() == nil {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox_messages`).Scan(&pending); err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		inQueue, err := queueDepth(ctx, sqsClient, queueURL)
		if err != nil {
			return err
		}
		settled = pending == 0 && inQueue == 0
		if !settled {
			time.Sleep(200 * time.Millisecond)
		}
	}

	published, multi, most := logs.deliveries(ids)
	fmt.Printf("slow SQS scenario through make run: %d sends at once, every SQS request of the API delayed %s\n", sends, latency)
	fmt.Printf("  sends accepted       %d / %d\n", accepted, sends)
	if drained > 0 {
		fmt.Printf("  gifts SENT           %d, time to drain %s\n", sent, drained.Round(100*time.Millisecond))
	} else {
		fmt.Printf("  gifts SENT           %d after %s; still QUEUED (stuck): %d\n", sent, timeout, queued)
	}
	fmt.Printf("  messages published   %d (%.2f per send); gifts delivered more than once: %d, at most %d times\n",
		published, float64(published)/float64(sends), multi, most)
	fmt.Printf("  outbox left          %d rows (settled: %t)\n", pending, settled)
	return nil
}

// waitReady polls /readyz until the API answers 200.
func waitReady(ctx context.Context, client *giftclient.ClientWithResponses) error {
	deadline := time.Now().Add(time.Minute)
	for {
		var state string
		r, err := client.GetReadyzWithResponse(ctx)
		switch {
		case err != nil:
			state = err.Error()
		case r.StatusCode() == http.StatusOK:
			return nil
		default:
			state = fmt.Sprintf("%d %s", r.StatusCode(), r.Body)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the API was not ready within a minute: %s", state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func queueDepth(ctx context.Context, c *awssqs.Client, url string) (int, error) {
	out, err := c.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible, types.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		return 0, fmt.Errorf("read queue depth: %w", err)
	}
	total := 0
	for _, v := range out.Attributes {
		n, _ := strconv.Atoi(v)
		total += n
	}
	return total, nil
}

func createGifts(ctx context.Context, client *giftclient.ClientWithResponses, n int) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	slots := make(chan struct{}, 16)
	for i := range n {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			r, err := client.CreateGiftWithResponse(ctx, nil, giftclient.CreateGiftJSONRequestBody{Amount: 100})
			switch {
			case err != nil:
				errs <- fmt.Errorf("create gift: %w", err)
				return
			case r.JSON201 == nil:
				errs <- fmt.Errorf("create gift: %d %s", r.StatusCode(), r.Body)
				return
			}
			ids[i] = r.JSON201.GiftId
		})
	}
	wg.Wait()
	close(errs)
	return ids, <-errs
}

// acceptSends sends every gift at once and returns how many were accepted (202).
func acceptSends(ctx context.Context, client *giftclient.ClientWithResponses, ids []uuid.UUID) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	gate := make(chan struct{})
	for _, id := range ids {
		wg.Go(func() {
			<-gate
			r, err := client.SendGiftWithResponse(ctx, id, &giftclient.SendGiftParams{IdempotencyKey: "slowsqs-" + id.String()})
			if err == nil && r.StatusCode() == http.StatusAccepted {
				mu.Lock()
				accepted++
				mu.Unlock()
			} else if err != nil {
				fmt.Fprintln(os.Stderr, "slowsqs: send:", err)
			}
		})
	}
	close(gate)
	wg.Wait()
	return accepted
}

// logCollector reads make run's JSON log lines: it signals when the system runs and keeps the
// message ids the worker received per gift.
type logCollector struct {
	mu       sync.Mutex
	running  chan struct{}
	pgURL    chan string
	received map[string]map[string]bool // gift_id -> message_id set
}

func (l *logCollector) scan(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	signalled := false
	for sc.Scan() {
		var line struct {
			Msg       string `json:"msg"`
			Service   string `json:"service"`
			URL       string `json:"url"`
			GiftID    string `json:"gift_id"`
			MessageID string `json:"message_id"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		switch {
		case line.Service == "devstack" && line.Msg == "postgres started":
			l.pgURL <- line.URL
		case line.Service == "devstack" && strings.HasPrefix(line.Msg, "system running") && !signalled:
			close(l.running)
			signalled = true
		case line.GiftID != "" && line.MessageID != "":
			l.mu.Lock()
			if l.received == nil {
				l.received = map[string]map[string]bool{}
			}
			if l.received[line.GiftID] == nil {
				l.received[line.GiftID] = map[string]bool{}
			}
			l.received[line.GiftID][line.MessageID] = true
			l.mu.Unlock()
		}
	}
}

// deliveries counts the distinct SQS messages the worker received for ids: in total, how many
// gifts got more than one, and the most one gift got.
func (l *logCollector) deliveries(ids []uuid.UUID) (total, multi, most int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		n := len(l.received[id.String()])
		total += n
		if n > 1 {
			multi++
		}
		most = max(most, n)
	}
	return total, multi, most
}
