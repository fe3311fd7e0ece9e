package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/queue"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/faultproxy"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/testenv"
)

// One publisher per outbox row (issue 14, defect 2): the dispatcher (right after commit) and the
// relay (leftovers) run together against a slow SQS or a slow database, and every outbox row
// becomes exactly one SQS message, whatever the latency. OUTBOX_MAX_IN_FLIGHT is small so that
// both publish in the same burst: a few sends go through the dispatcher, the rest through the
// relay. The latencies stay well inside OUTBOX_PUBLISH_TIMEOUT and DB_QUERY_TIMEOUT: every call
// succeeds, only slowly, so no response is lost and no duplicate is allowed.
func TestDispatcherAndRelayPublishEachOutboxRowOnce(t *testing.T) {
	for _, tt := range []struct {
		name  string
		start func(t *testing.T) *stack
	}{
		{"slow SQS", func(t *testing.T) *stack {
			s, p, _ := slowSQSStack(t, outboxRaceEnv()...)
			p.AddLatency(faultproxy.Upstream, 600*time.Millisecond, 200*time.Millisecond)
			return s
		}},
		{"slow database", func(t *testing.T) *stack {
			s, p := dbProxyStack(t, outboxRaceEnv()...)
			p.AddLatency(faultproxy.Upstream, 150*time.Millisecond, 50*time.Millisecond)
			return s
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.start(t)
			const n = 16
			ids := sendAll(t, s, n)
			testenv.Eventually(t, 2*time.Minute, "every accepted send to leave the outbox", func() (bool, string) {
				pending := s.outboxPending(t)
				return pending == 0, fmt.Sprintf("%d still in the outbox", pending)
			})

			got := messageIDs(t, s.Queues)
			for _, id := range ids {
				if len(got[id]) != 1 {
					t.Errorf("gift %s: %d SQS messages %v, want exactly 1", id, len(got[id]), got[id])
				}
			}
			if len(got) != n {
				t.Errorf("the queue holds messages for %d gifts, want %d", len(got), n)
			}
			// Both publishers took part, or the test proved nothing.
			logs := s.Logs.String()
			if !strings.Contains(logs, `"msg":"message published"`) || !strings.Contains(logs, `"msg":"outbox messages relayed"`) {
				t.Errorf("want publishes by both the dispatcher and the relay")
			}
		})
	}
}

func outboxRaceEnv() []stackOption {
	return []stackOption{
		withEnv("OUTBOX_MAX_IN_FLIGHT", "4"),
		withEnv("OUTBOX_PUBLISH_TIMEOUT", "5s"),
	}
}

// messageIDs reads the test queue dry (each message once: it is deleted as it is read) and
// returns the distinct SQS message ids per gift.
func messageIDs(t *testing.T, q testenv.Queues) map[uuid.UUID][]string {
	t.Helper()
	ctx := context.Background()
	seen := map[string]bool{}
	got := map[uuid.UUID][]string{}
	for {
		out, err := q.Client.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
			QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return got
		}
		for _, m := range out.Messages {
			msg, err := queue.Parse([]byte(aws.ToString(m.Body)))
			if err != nil {
				t.Fatal(err)
			}
			if id := aws.ToString(m.MessageId); !seen[id] {
				seen[id] = true
				got[msg.GiftID] = append(got[msg.GiftID], id)
			}
			if _, err := q.Client.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}
