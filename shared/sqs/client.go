// Package sqs is the Amazon SQS adapter (AWS SDK for Go v2, SQS JSON protocol): the client, the
// queue pair with its redrive policy, and publishing. Against the local emulator it uses the same
// wire protocol as against AWS.
package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// ClientConfig says how to reach SQS.
type ClientConfig struct {
	Region string
	// Endpoint overrides the AWS endpoint (SQS_ENDPOINT, for the local emulator). When set and no
	// AWS credentials are configured, fixed local credentials are used.
	Endpoint string
	// HTTPClient replaces the SDK's HTTP client when set (giftctl's tests inject faults with it).
	HTTPClient *http.Client
}

// NewClient builds an SQS client from the standard AWS configuration chain (environment, ECS task
// role, ...).
func NewClient(ctx context.Context, cfg ClientConfig) (*awssqs.Client, error) {
	opts := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region)}
	if cfg.Endpoint != "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return awssqs.NewFromConfig(awsCfg, func(o *awssqs.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
	}), nil
}

// QueueURL returns url when set, else resolves name with GetQueueUrl.
func QueueURL(ctx context.Context, c *awssqs.Client, url, name string) (string, error) {
	if url != "" {
		return url, nil
	}
	if name == "" {
		return "", errors.New("neither a queue URL nor a queue name is configured")
	}
	out, err := c.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("resolve queue %q: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// QueuePair names a main queue and its dead-letter queue.
type QueuePair struct {
	Name            string
	DLQName         string
	MaxReceiveCount int
}

// QueuePairURLs are the URLs of an ensured pair.
type QueuePairURLs struct {
	URL    string
	DLQURL string
}

// EnsureQueues creates the DLQ and the main queue with its RedrivePolicy when they do not exist,
// and (re)applies the redrive settings when they do, so local runs and tests get production's
// behaviour. In AWS the queues belong to Terraform (modules/sqs); this is for local endpoints.
func EnsureQueues(ctx context.Context, c *awssqs.Client, p QueuePair) (QueuePairURLs, error) {
	dlq, err := c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(p.DLQName),
		Attributes: map[string]string{string(types.QueueAttributeNameMessageRetentionPeriod): "1209600"}})
	if err != nil {
		return QueuePairURLs{}, fmt.Errorf("create DLQ %q: %w", p.DLQName, err)
	}
	dlqARN, err := QueueARN(ctx, c, aws.ToString(dlq.QueueUrl))
	if err != nil {
		return QueuePairURLs{}, err
	}
	policy, err := json.Marshal(map[string]any{"deadLetterTargetArn": dlqARN, "maxReceiveCount": p.MaxReceiveCount})
	if err != nil {
		return QueuePairURLs{}, fmt.Errorf("encode redrive policy: %w", err)
	}
	mainAttrs := map[string]string{string(types.QueueAttributeNameRedrivePolicy): string(policy)}
	// Created bare, then configured: CreateQueue refuses an existing name with other attributes.
	main, err := c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(p.Name)})
	if err != nil {
		return QueuePairURLs{}, fmt.Errorf("create queue %q: %w", p.Name, err)
	}
	if _, err := c.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: main.QueueUrl, Attributes: mainAttrs}); err != nil {
		return QueuePairURLs{}, fmt.Errorf("set redrive policy on %q: %w", p.Name, err)
	}
	return QueuePairURLs{URL: aws.ToString(main.QueueUrl), DLQURL: aws.ToString(dlq.QueueUrl)}, nil
}

// RedrivePolicy is a queue's dead-letter settings.
type RedrivePolicy struct {
	DeadLetterTargetARN string
	MaxReceiveCount     int
}

// ReadRedrivePolicy reads the queue's RedrivePolicy; a queue without one, or without a
// dead-letter target or a valid maxReceiveCount, is an error: its failed messages would retry
// forever.
func ReadRedrivePolicy(ctx context.Context, c *awssqs.Client, queueURL string) (RedrivePolicy, error) {
	out, err := c.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy}})
	if err != nil {
		return RedrivePolicy{}, fmt.Errorf("read redrive policy of %s: %w", queueURL, err)
	}
	raw := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]
	if raw == "" {
		return RedrivePolicy{}, fmt.Errorf("queue %s has no RedrivePolicy: without a DLQ failed messages would retry forever", queueURL)
	}
	// maxReceiveCount is a number in AWS's answer but a string in some tools' policies.
	var p struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return RedrivePolicy{}, fmt.Errorf("parse redrive policy %q: %w", raw, err)
	}
	if p.DeadLetterTargetArn == "" {
		return RedrivePolicy{}, fmt.Errorf("queue %s has no dead-letter target in its redrive policy %q", queueURL, raw)
	}
	var s string
	if json.Unmarshal(p.MaxReceiveCount, &s) != nil {
		s = string(p.MaxReceiveCount)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return RedrivePolicy{}, fmt.Errorf("redrive policy %q has no valid maxReceiveCount", raw)
	}
	return RedrivePolicy{DeadLetterTargetARN: p.DeadLetterTargetArn, MaxReceiveCount: n}, nil
}

// QueueARN reads the queue's ARN.
func QueueARN(ctx context.Context, c *awssqs.Client, queueURL string) (string, error) {
	out, err := c.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", fmt.Errorf("read ARN of %s: %w", queueURL, err)
	}
	return out.Attributes[string(types.QueueAttributeNameQueueArn)], nil
}
