package giftctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"

	apiconfig "github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/config"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// The API's clients and their keys (docs/runbook.md, "Clients and API keys"). A client is a team
// calling the API; it has at most two active keys, so a key is rotated without downtime. The API
// keeps what it read of a key and its client for keyCacheTTL, so a revoke or a limit change takes
// that long to reach every task. Every change is recorded with who made it in the client's audit
// (api_client_events), shown by `client show`.

// keyCacheTTL is how long the API may go on using what it read of a key and its client: the
// most its API_KEY_CACHE_TTL may be.
const keyCacheTTL = apiconfig.MaxKeyCacheTTL

// ClientEntry is a client as `giftctl client list --json` prints it.
type ClientEntry struct {
	ID            uuid.UUID `json:"id"`
	Name          string    `json:"name"`
	RatePerSecond float64   `json:"rate_per_second"`
	Burst         int       `json:"burst"`
	ActiveKeys    int       `json:"active_keys"`
	CreatedAt     time.Time `json:"created_at"`
	CreatedBy     string    `json:"created_by"`
}

// KeyEntry is a key as `giftctl key list --json` prints it: never its secret nor its hash.
type KeyEntry struct {
	ID        string     `json:"id"`
	Client    string     `json:"client"`
	Slot      int        `json:"slot"`
	Active    bool       `json:"active"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	RevokedAt *time.Time `json:"revoked_at"`
	RevokedBy *string    `json:"revoked_by"`
}

// IssuedKey is what `giftctl key issue --json` prints: the key itself, this once.
type IssuedKey struct {
	Key string `json:"key"`
	KeyEntry
}

// ClientEventEntry is one entry of a client's audit as `giftctl client show --json` prints it.
type ClientEventEntry struct {
	At     time.Time `json:"at"`
	Action string    `json:"action"`
	KeyID  string    `json:"key_id,omitempty"`
	Detail string    `json:"detail,omitempty"`
	Actor  string    `json:"actor"`
}

// ClientDetail is `giftctl client show --json`.
type ClientDetail struct {
	ID            uuid.UUID          `json:"id"`
	Name          string             `json:"name"`
	RatePerSecond float64            `json:"rate_per_second"`
	Burst         int                `json:"burst"`
	Keys          []KeyEntry         `json:"keys"`
	Audit         []ClientEventEntry `json:"audit"`
}

const issuedWarning = `This is the only time the key is shown: only its hash is stored, and nobody can show it again.
Hand it to the client's team now, through a secret store, never by chat or mail.
Lost it? Issue another and revoke this one (giftctl key revoke %s).
`

func (c *CLI) clientCreate(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("client create", flag.ContinueOnError)
	rate := fs.Float64("rate", gift.DefaultRateLimit.PerSecond, "requests a second the client may make, in each API task")
	burst := fs.Int("burst", gift.DefaultRateLimit.Burst, "requests the client may make at once above the rate")
	actor := fs.String("actor", "", "a name to record with your identity (the AWS caller ARN, or the OS user locally)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return c.usageError(err)
	}
	limit := gift.RateLimit{PerSecond: *rate, Burst: *burst}
	if err := errors.Join(gift.ValidateClientName(pos[0]), limit.Validate()); err != nil {
		return c.usageError(fmt.Errorf("client create: %w", err))
	}
	who := c.actor(ctx, d, *actor)
	client, err := d.store.CreateClient(ctx, pos[0], limit, who)
	if errors.Is(err, gift.ErrClientExists) {
		return c.fail(ExitRefused, "client create refused: a client named %s exists (nothing changed)", pos[0])
	}
	if err != nil {
		return c.fail(ExitUsage, "client create: %v", err)
	}
	fmt.Fprintf(c.Stdout, "client %s created (id %s, %s), by %s\n", client.Name, client.ID, limitText(client.Limit), who)
	fmt.Fprintf(c.Stdout, "its first key: giftctl key issue %s\n", client.Name)
	return ExitOK
}

func (c *CLI) clientList(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("client list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args, 0); err != nil {
		return c.usageError(err)
	}
	clients, err := d.store.ListClients(ctx)
	if err != nil {
		return c.fail(ExitUsage, "client list: %v", err)
	}
	entries := make([]ClientEntry, len(clients))
	for i, cl := range clients {
		entries[i] = ClientEntry{ID: cl.ID, Name: cl.Name, RatePerSecond: cl.Limit.PerSecond, Burst: cl.Limit.Burst,
			ActiveKeys: cl.ActiveKeys, CreatedAt: cl.CreatedAt.UTC(), CreatedBy: cl.CreatedBy}
	}
	if *asJSON {
		return c.printJSON(entries)
	}
	fmt.Fprintf(c.Stdout, "%-24s %-36s %10s %8s %5s  %-20s %s\n", "NAME", "ID", "RATE/S", "BURST", "KEYS", "CREATED_AT", "CREATED_BY")
	for _, e := range entries {
		fmt.Fprintf(c.Stdout, "%-24s %-36s %10g %8d %5d  %-20s %s\n", e.Name, e.ID, e.RatePerSecond, e.Burst, e.ActiveKeys,
			e.CreatedAt.Format(time.RFC3339), e.CreatedBy)
	}
	return ExitOK
}

func (c *CLI) clientShow(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("client show", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return c.usageError(err)
	}
	client, code := c.client(ctx, d, "client show", pos[0])
	if code != ExitOK {
		return code
	}
	keys, err := d.store.ListAPIKeys(ctx, client.ID)
	if err != nil {
		return c.fail(ExitUsage, "client show: %v", err)
	}
	events, err := d.store.ClientEvents(ctx, client.ID)
	if err != nil {
		return c.fail(ExitUsage, "client show: %v", err)
	}
	detail := ClientDetail{ID: client.ID, Name: client.Name, RatePerSecond: client.Limit.PerSecond, Burst: client.Limit.Burst,
		Keys: keyEntries(keys), Audit: make([]ClientEventEntry, len(events))}
	for i, e := range events {
		detail.Audit[i] = ClientEventEntry{At: e.At.UTC(), Action: string(e.Action), KeyID: e.KeyID, Detail: e.Detail, Actor: e.Actor}
	}
	if *asJSON {
		return c.printJSON(detail)
	}
	fmt.Fprintf(c.Stdout, "client %s (id %s): %s\n\nkeys:\n", client.Name, client.ID, limitText(client.Limit))
	c.printKeys(detail.Keys)
	fmt.Fprintf(c.Stdout, "\naudit, oldest first:\n%-27s %-14s %-9s %-40s %s\n", "AT", "ACTION", "KEY", "BY", "DETAIL")
	for _, e := range detail.Audit {
		fmt.Fprintf(c.Stdout, "%-27s %-14s %-9s %-40s %s\n", e.At.Format("2006-01-02T15:04:05.000000Z"), e.Action, dash(e.KeyID), e.Actor, e.Detail)
	}
	return ExitOK
}

func (c *CLI) clientLimits(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("client limits", flag.ContinueOnError)
	rate := fs.Float64("rate", 0, "requests a second the client may make, in each API task (default: unchanged)")
	burst := fs.Int("burst", 0, "requests the client may make at once above the rate (default: unchanged)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	actor := fs.String("actor", "", "a name to record with your identity (the AWS caller ARN, or the OS user locally)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return c.usageError(err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["rate"] && !set["burst"] {
		return c.usageError(errors.New("client limits: say what to change: --rate N, --burst N or both"))
	}
	client, code := c.client(ctx, d, "client limits", pos[0])
	if code != ExitOK {
		return code
	}
	limit := client.Limit
	if set["rate"] {
		limit.PerSecond = *rate
	}
	if set["burst"] {
		limit.Burst = *burst
	}
	if err := limit.Validate(); err != nil {
		return c.usageError(fmt.Errorf("client limits: %w", err))
	}
	who := c.actor(ctx, d, *actor)
	if !*yes && !c.confirm(fmt.Sprintf("Change the limit of client %s from %s to %s, by %s? [y/N] ",
		client.Name, limitText(client.Limit), limitText(limit), who)) {
		return c.fail(ExitRefused, "client limits cancelled: nothing changed")
	}
	before, err := d.store.SetClientLimits(ctx, client.ID, limit, who)
	if err != nil {
		return c.fail(ExitUsage, "client limits: %v", err)
	}
	fmt.Fprintf(c.Stdout, "client %s: %s, was %s (by %s); every API task applies it within %s\n",
		client.Name, limitText(limit), limitText(before.Limit), who, keyCacheTTL)
	return ExitOK
}

func (c *CLI) keyIssue(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("key issue", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON (the key in \"key\")")
	actor := fs.String("actor", "", "a name to record with your identity (the AWS caller ARN, or the OS user locally)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return c.usageError(err)
	}
	client, code := c.client(ctx, d, "key issue", pos[0])
	if code != ExitOK {
		return code
	}
	who := c.actor(ctx, d, *actor)
	text, key, err := d.store.IssueAPIKey(ctx, client.ID, who)
	if errors.Is(err, gift.ErrTooManyKeys) {
		return c.fail(ExitRefused, "key issue refused: client %s has %d active keys already; revoke the one its callers no longer use first (giftctl key list %s), nothing changed",
			client.Name, gift.MaxActiveKeys, client.Name)
	}
	if err != nil {
		return c.fail(ExitUsage, "key issue: %v", err)
	}
	key.Client = client
	// The key alone on stdout (or in the JSON), so that it can be piped to a secret store; what
	// it is and the warning on stderr.
	fmt.Fprintf(c.Stderr, "key %s issued to client %s (slot %d), by %s\n", key.ID, client.Name, key.Slot, who)
	fmt.Fprintf(c.Stderr, issuedWarning, key.ID)
	if *asJSON {
		return c.printJSON(IssuedKey{Key: text, KeyEntry: keyEntry(key)})
	}
	fmt.Fprintln(c.Stdout, text)
	return ExitOK
}

func (c *CLI) keyList(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("key list", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return c.usageError(err)
	}
	client, code := c.client(ctx, d, "key list", pos[0])
	if code != ExitOK {
		return code
	}
	keys, err := d.store.ListAPIKeys(ctx, client.ID)
	if err != nil {
		return c.fail(ExitUsage, "key list: %v", err)
	}
	entries := keyEntries(keys)
	if *asJSON {
		return c.printJSON(entries)
	}
	c.printKeys(entries)
	return ExitOK
}

var keyID = regexp.MustCompile(`^[0-9a-f]{8}$`)

func (c *CLI) keyRevoke(ctx context.Context, d *deps, args []string) int {
	fs := flag.NewFlagSet("key revoke", flag.ContinueOnError)
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	actor := fs.String("actor", "", "a name to record with your identity (the AWS caller ARN, or the OS user locally)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return c.usageError(err)
	}
	id := pos[0]
	if k, err := apikey.Parse(id); err == nil { // a leaked key pasted whole
		id = k.ID
	}
	if !keyID.MatchString(id) {
		return c.usageError(fmt.Errorf("key revoke: %q is not a key id (8 hex digits, as `giftctl key list` shows)", pos[0]))
	}
	key, err := d.store.LookupAPIKey(ctx, id)
	if errors.Is(err, gift.ErrKeyNotFound) {
		return c.fail(ExitRefused, "key revoke refused: no key %s", id)
	}
	if err != nil {
		return c.fail(ExitUsage, "key revoke: %v", err)
	}
	if !key.Active() {
		fmt.Fprintf(c.Stdout, "key %s of client %s was revoked already at %s by %s: nothing changed\n",
			key.ID, key.Client.Name, key.RevokedAt.UTC().Format(time.RFC3339), key.RevokedBy)
		return ExitOK
	}
	who := c.actor(ctx, d, *actor)
	if !*yes && !c.confirm(fmt.Sprintf("Revoke key %s of client %s (slot %d, issued %s by %s), by %s? Its callers get 401 within %s. [y/N] ",
		key.ID, key.Client.Name, key.Slot, key.CreatedAt.UTC().Format(time.RFC3339), key.CreatedBy, who, keyCacheTTL)) {
		return c.fail(ExitRefused, "key revoke cancelled: nothing changed")
	}
	key, err = d.store.RevokeAPIKey(ctx, id, who)
	if err != nil {
		return c.fail(ExitUsage, "key revoke: %v", err)
	}
	fmt.Fprintf(c.Stdout, "key %s of client %s revoked at %s by %s; every API task refuses it within %s\n",
		key.ID, key.Client.Name, key.RevokedAt.UTC().Format(time.RFC3339), key.RevokedBy, keyCacheTTL)
	return ExitOK
}

// client reads the client named name for command cmd; a code other than ExitOK when it cannot.
func (c *CLI) client(ctx context.Context, d *deps, cmd, name string) (gift.Client, int) {
	client, err := d.store.ClientByName(ctx, name)
	if errors.Is(err, gift.ErrClientNotFound) {
		return gift.Client{}, c.fail(ExitRefused, "%s refused: no client named %s (giftctl client list)", cmd, name)
	}
	if err != nil {
		return gift.Client{}, c.fail(ExitUsage, "%s: %v", cmd, err)
	}
	return client, ExitOK
}

func keyEntry(k gift.StoredKey) KeyEntry {
	e := KeyEntry{ID: k.ID, Client: k.Client.Name, Slot: k.Slot, Active: k.Active(), CreatedAt: k.CreatedAt.UTC(), CreatedBy: k.CreatedBy}
	if !k.Active() {
		at, by := k.RevokedAt.UTC(), k.RevokedBy
		e.RevokedAt, e.RevokedBy = &at, &by
	}
	return e
}

func keyEntries(keys []gift.StoredKey) []KeyEntry {
	entries := make([]KeyEntry, len(keys))
	for i, k := range keys {
		entries[i] = keyEntry(k)
	}
	return entries
}

// printKeys writes one line per key, in the order given.
func (c *CLI) printKeys(keys []KeyEntry) {
	fmt.Fprintf(c.Stdout, "%-8s %4s %-7s  %-20s %-30s %-20s %s\n", "ID", "SLOT", "STATUS", "CREATED_AT", "CREATED_BY", "REVOKED_AT", "REVOKED_BY")
	for _, k := range keys {
		status, revokedAt, revokedBy := "active", "-", "-"
		if !k.Active {
			status, revokedAt, revokedBy = "revoked", k.RevokedAt.Format(time.RFC3339), *k.RevokedBy
		}
		fmt.Fprintf(c.Stdout, "%-8s %4d %-7s  %-20s %-30s %-20s %s\n", k.ID, k.Slot, status, k.CreatedAt.Format(time.RFC3339), k.CreatedBy, revokedAt, revokedBy)
	}
	if len(keys) == 0 {
		fmt.Fprintln(c.Stdout, "(no keys)")
	}
}

// printJSON writes v as indented JSON.
func (c *CLI) printJSON(v any) int {
	enc := json.NewEncoder(c.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return c.fail(ExitUsage, "print JSON: %v", err)
	}
	return ExitOK
}

func limitText(l gift.RateLimit) string {
	return fmt.Sprintf("rate %g/s, burst %d", l.PerSecond, l.Burst)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
