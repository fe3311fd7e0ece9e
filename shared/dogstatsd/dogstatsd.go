// Package dogstatsd sends gauges to the Datadog Agent (the ECS sidecar) over DogStatsD UDP. It is
// deliberately tiny: the services report a handful of gauges, and metrics must never block or
// fail a request, so every send is fire-and-forget.
package dogstatsd

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Client sends metrics with a fixed set of tags. The zero value and a nil *Client discard
// everything (no agent configured).
type Client struct {
	conn net.Conn
	tags string
}

// New connects to the agent at addr (host:port) when addr is not empty; tags ("key:value") are put
// on every metric.
func New(addr string, tags ...string) (*Client, error) {
	if addr == "" {
		return &Client{}, nil
	}
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("dogstatsd %s: %w", addr, err)
	}
	c := &Client{conn: conn}
	if len(tags) > 0 {
		c.tags = "|#" + strings.Join(tags, ",")
	}
	return c, nil
}

// Gauge reports the current value of name.
func (c *Client) Gauge(name string, value float64) {
	if c == nil || c.conn == nil {
		return
	}
	_, _ = c.conn.Write([]byte(name + ":" + strconv.FormatFloat(value, 'f', -1, 64) + "|g" + c.tags))
}

// Close releases the socket.
func (c *Client) Close() error {
	if c == nil || c.conn == nil {
		return nil
	}
	return c.conn.Close()
}
