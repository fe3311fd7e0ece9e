package sqs

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// MaxBatch is the most messages SQS takes in one SendMessageBatch.
const MaxBatch = 10

// Publisher puts message bodies on one queue.
type Publisher struct {
	client   *awssqs.Client
	queueURL string
}

// NewPublisher returns a publisher for queueURL.
func NewPublisher(client *awssqs.Client, queueURL string) *Publisher {
	return &Publisher{client: client, queueURL: queueURL}
}

// Publish sends one message.
func (p *Publisher) Publish(ctx context.Context, body string) error {
	_, err := p.client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(p.queueURL), MessageBody: aws.String(body)})
	if err != nil {
		return fmt.Errorf("send message to %s: %w", p.queueURL, err)
	}
	return nil
}

// PublishBatch sends up to MaxBatch messages in one call and returns, per input index, nil or the
// error of that entry (SQS accepts or rejects each entry of a batch separately).
func (p *Publisher) PublishBatch(ctx context.Context, bodies []string) []error {
	errs := make([]error, len(bodies))
	if len(bodies) > MaxBatch {
		for i := range errs {
			errs[i] = fmt.Errorf("batch of %d messages exceeds %d", len(bodies), MaxBatch)
		}
		return errs
	}
	entries := make([]types.SendMessageBatchRequestEntry, len(bodies))
	for i, b := range bodies {
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)}
	}
	out, err := p.client.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(p.queueURL), Entries: entries})
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("send message batch to %s: %w", p.queueURL, err)
		}
		return errs
	}
	seen := make([]bool, len(bodies))
	for _, ok := range out.Successful {
		if i, err := strconv.Atoi(aws.ToString(ok.Id)); err == nil && i >= 0 && i < len(bodies) {
			seen[i] = true
		}
	}
	for _, f := range out.Failed {
		if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i >= 0 && i < len(bodies) {
			errs[i] = fmt.Errorf("send message to %s: %s: %s", p.queueURL, aws.ToString(f.Code), aws.ToString(f.Message))
			seen[i] = true
		}
	}
	for i := range errs {
		if !seen[i] {
			errs[i] = errors.New("SQS did not report this batch entry")
		}
	}
	return errs
}
