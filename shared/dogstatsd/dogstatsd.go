// Package dogstatsd sends the services' metrics to the Datadog Agent (the ECS sidecar) through the
// official client, github.com/DataDog/datadog-go/v5: buffered, aggregated client-side, sent from a
// background goroutine. A metric never blocks or fails a request. docs/observability.md, "Metric
// catalogue", lists the names and tags.
package dogstatsd

import (
	"fmt"

	"github.com/DataDog/datadog-go/v5/statsd"
)

// Client sends metrics with a fixed set of tags (the unified service tags env, service, version).
// The zero value and a nil *Client discard everything (no agent configured).
type Client struct {
	c statsd.ClientInterface
}

// New connects to the agent at addr (host:port) when addr is not empty; tags ("key:value") are put
// on every metric.
func New(addr string, tags ...string) (*Client, error) {
	if addr == "" {
		return &Client{}, nil
	}
	c, err := statsd.New(addr,
		statsd.WithTags(tags),
		statsd.WithoutTelemetry(), // the client's own datadog.dogstatsd.client.* metrics
		// Distributions too are collected in the client and sent as one line per metric and tag
		// set each flush, not a packet write per request: the per-request sample cost 3 µs of a
		// POST /gifts, counts (aggregated by default) a tenth of that.
		statsd.WithExtendedClientSideAggregation(),
		// Aggregated, a flush is a few packets: 64 buffers instead of the 2,048 (3 MiB) that the
		// client keeps for unaggregated UDP traffic.
		statsd.WithBufferPoolSize(64),
		statsd.WithSenderQueueSize(64),
	)
	if err != nil {
		return nil, fmt.Errorf("dogstatsd %s: %w", addr, err)
	}
	return &Client{c: c}, nil
}

// Gauge reports the current value of name.
func (c *Client) Gauge(name string, value float64) {
	if c == nil || c.c == nil {
		return
	}
	_ = c.c.Gauge(name, value, nil, 1)
}

// Count adds value to the counter name, with extra tags.
func (c *Client) Count(name string, value int64, tags ...string) {
	if c == nil || c.c == nil {
		return
	}
	_ = c.c.Count(name, value, tags, 1)
}

// Distribution records one value of name (a duration in seconds, a size), with extra tags;
// Datadog computes percentiles across all tasks.
func (c *Client) Distribution(name string, value float64, tags ...string) {
	if c == nil || c.c == nil {
		return
	}
	_ = c.c.Distribution(name, value, tags, 1)
}

// Close flushes what is buffered and releases the socket.
func (c *Client) Close() error {
	if c == nil || c.c == nil {
		return nil
	}
	return c.c.Close()
}
