// Package giftctl is the operator's command line (api-svc/cmd/giftctl, docs/runbook.md): one
// screen of system status, gifts for demos and smoke checks, the DLQ, an operator's retry of a
// FAILED gift, the re-enqueue of gifts whose message was lost, and the API's clients and their
// keys. It reads the same environment variables as the services (shared/platform) plus API_URL
// and GIFT_API_KEY, and builds on the generated API client
// and on the store and queues it is given (the interfaces of ports.go, opened by giftctl/connect),
// so it changes gifts only the way the services do: one transaction per change, recorded in the
// gift's history, queued through the outbox.
package giftctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/user"
	"strings"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
)

// Exit codes. status uses all three as healthy / degraded / cannot tell; the other commands exit
// ExitRefused when the operation was refused or did not reach its goal (a retry of a gift that is
// not FAILED, a wait that ended FAILED) and ExitUsage when they could not run at all.
const (
	ExitOK      = 0
	ExitRefused = 1
	ExitUsage   = 2
)

// DefaultAPIURL is API_URL's default: the API of `make run`.
const DefaultAPIURL = "http://127.0.0.1:8080"

const usage = `usage: giftctl COMMAND [flags]

  status [--json] [--stuck-after 5m] [--outbox-after 5m]
                                  one screen: API, gifts, outbox, queue, DLQ (exit 0 healthy, 1 degraded, 2 cannot tell)
  gift create --amount N [--message TEXT] [--key KEY]
  gift send GIFT_ID [--key KEY] [--force-failure]
  gift get GIFT_ID [--history]
  gift wait GIFT_ID [--for SENT|FAILED] [--timeout 2m]
  dlq list [--json]               the DLQ's messages, left in place, with their gifts
  dlq redrive [--dry-run] [--yes] [--actor NAME]
                                  move back messages of QUEUED gifts, drop superseded ones
  retry GIFT_ID --reason TEXT [--yes] [--actor NAME]
                                  queue a FAILED gift again once its cause is fixed
  reconcile [--apply] [--older-than 1h] [--ignore-queue-depth] [--actor NAME]
                                  re-enqueue QUEUED gifts whose message is nowhere (dry run by default;
                                  --apply refuses while the send queue holds messages)
  client create NAME [--rate 50] [--burst 100] [--actor NAME]
                                  a new API client (a team calling the API) and its rate limit
  client list [--json]            every client, its limit and how many keys it has active
  client show NAME [--json]       a client, its keys and its audit (who did what)
  client limits NAME [--rate N] [--burst N] [--yes] [--actor NAME]
                                  change a client's rate limit (the API applies it within 30 s)
  key issue CLIENT [--json] [--actor NAME]
                                  a new key for a client (at most two active): printed once, never again
  key list CLIENT [--json]        a client's keys, active and revoked, newest first
  key revoke KEY_ID [--yes] [--actor NAME]
                                  revoke a key (the API refuses it within 30 s)

The history records who acted: the AWS caller ARN (STS), or os:USER locally; --actor adds a name.

Configuration: the services' environment (DATABASE_URL or PG*, DB_SECRET_ARN, SQS_ENDPOINT,
SQS_QUEUE_URL or SQS_QUEUE_NAME, SQS_DLQ_URL, AWS_REGION), API_URL (default ` + DefaultAPIURL + `)
and GIFT_API_KEY (the key the gift commands call the API with: "Authorization: Bearer <key>").
`

// CLI runs giftctl commands. Its fields are the process's environment, injected for tests.
type CLI struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Lookup         func(string) (string, bool) // os.LookupEnv
	// User is the OS user, the operator's identity locally or when STS cannot say (identity.go).
	User func() string
	// Caller returns the caller's AWS ARN; nil: STS GetCallerIdentity (STSCaller).
	Caller func(ctx context.Context) (string, error)
	// Connect opens the store and the queues (connect.Open in api-svc/cmd/giftctl).
	Connect Connect
	// SQSHTTP is the SQS client's HTTP client; nil: the SDK's default.
	SQSHTTP *http.Client
	// HTTP is the API client's transport; nil: a client with a 10 s timeout.
	HTTP *http.Client
}

// OSUser is the current OS user's name, or "unknown".
func OSUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// Run runs one command and returns its exit code.
func (c *CLI) Run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(c.Stdout, usage)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	cfg, err := Load(c.Lookup)
	if err != nil {
		fmt.Fprintln(c.Stderr, "giftctl:", err)
		return ExitUsage
	}
	d, err := c.open(ctx, cfg)
	if err != nil {
		fmt.Fprintln(c.Stderr, "giftctl:", err)
		return ExitUsage
	}
	defer d.close()

	cmd, rest := args[0], args[1:]
	if cmd == "gift" || cmd == "dlq" || cmd == "client" || cmd == "key" {
		if len(rest) == 0 {
			fmt.Fprintf(c.Stderr, "giftctl %s: a subcommand is missing\n%s", cmd, usage)
			return ExitUsage
		}
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	run, ok := map[string]func(context.Context, *deps, []string) int{
		"status":        c.status,
		"gift create":   c.giftCreate,
		"gift send":     c.giftSend,
		"gift get":      c.giftGet,
		"gift wait":     c.giftWait,
		"dlq list":      c.dlqList,
		"dlq redrive":   c.dlqRedrive,
		"retry":         c.retry,
		"reconcile":     c.reconcile,
		"client create": c.clientCreate,
		"client list":   c.clientList,
		"client show":   c.clientShow,
		"client limits": c.clientLimits,
		"key issue":     c.keyIssue,
		"key list":      c.keyList,
		"key revoke":    c.keyRevoke,
	}[cmd]
	if !ok {
		fmt.Fprintf(c.Stderr, "giftctl: unknown command %q\n%s", cmd, usage)
		return ExitUsage
	}
	return run(ctx, d, rest)
}

// deps are what a command may use: the configuration, the API client and the adapters.
type deps struct {
	cfg    Config
	api    *giftclient.ClientWithResponses
	store  Store
	queues Queues
	close  func()
}

func (c *CLI) open(ctx context.Context, cfg Config) (*deps, error) {
	httpClient := c.HTTP
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	opts := []giftclient.ClientOption{giftclient.WithHTTPClient(httpClient)}
	if cfg.APIKey != "" {
		opts = append(opts, giftclient.WithAPIKey(cfg.APIKey))
	}
	api, err := giftclient.NewClientWithResponses(cfg.APIURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("API client for %s: %w", cfg.APIURL, err)
	}
	if c.Connect == nil {
		return nil, errors.New("no adapters to connect with (CLI.Connect is nil)")
	}
	a, err := c.Connect(ctx, cfg, c.SQSHTTP)
	if err != nil {
		return nil, err
	}
	return &deps{cfg: cfg, api: api, store: a.Store, queues: a.Queues, close: a.Close}, nil
}

// queueURL resolves the send queue (SQS_QUEUE_URL, else SQS_QUEUE_NAME).
func (d *deps) queueURL(ctx context.Context) (string, error) { return d.queues.SendQueueURL(ctx) }

// dlq resolves the DLQ (Queues.DLQ).
func (d *deps) dlq(ctx context.Context) (DLQ, error) { return d.queues.DLQ(ctx) }

// parse parses flags that may come before or after the positional arguments (`retry ID --yes`),
// and checks the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%s: %w", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != positional {
		return nil, fmt.Errorf("%s: want %d argument(s), got %d (%s)", fs.Name(), positional, len(pos), strings.Join(pos, " "))
	}
	return pos, nil
}

// usageError reports a command line problem and returns ExitUsage.
func (c *CLI) usageError(err error) int {
	fmt.Fprintf(c.Stderr, "giftctl %v\n", err)
	return ExitUsage
}

// fail reports an error that stopped a command and returns its exit code.
func (c *CLI) fail(code int, format string, args ...any) int {
	fmt.Fprintf(c.Stderr, "giftctl: "+format+"\n", args...)
	return code
}

// round formats d for people: whole seconds.
func round(d time.Duration) string { return d.Round(time.Second).String() }

var errUnexpected = errors.New("unexpected answer")
