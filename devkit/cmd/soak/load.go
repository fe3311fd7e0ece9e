package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
)

// loadConfig shapes the traffic.
type loadConfig struct {
	duration    time.Duration
	rate        float64 // gift flows started per second
	concurrency int     // flows in progress at most
	seed        uint64
	// shares of the flows
	forced     float64 // send with X-Force-Failure: true (must end FAILED)
	replayed   float64 // the accepted send repeated with its key (must be 200, same body)
	concurrent float64 // two or three sends at once with different keys (one accepted, the rest 409)
	read       float64 // the gift read back after the send (and by the other client: 404)
}

// acceptance is a send the API accepted: 202, or 200 for a key whose earlier attempt went
// unanswered (the replay proves that attempt was accepted).
type acceptance struct {
	key    string
	forced bool
}

// answer is one response (or transport failure) the generator saw.
type answer struct {
	op      string
	status  int // 0: no answer (transport error)
	at      time.Time
	latency time.Duration
	body    []byte
	header  http.Header
}

// load runs gift flows against the APIs and records everything the audit needs. The flows
// alternate between two clients, each with its own key: a gift belongs to the client that created
// it, and the other must never see it.
type load struct {
	cfg     loadConfig
	clients []*giftclient.ClientWithResponses // one per soak client, each sending its key

	mu         sync.Mutex
	accepted   map[uuid.UUID]acceptance
	unresolved map[uuid.UUID]string // sends never answered despite retries: outcome unknown
	created    int
	owner      map[uuid.UUID]int      // every gift created -> the index of its client
	statuses   map[string]map[int]int // op -> status (0: transport error) -> count
	latencies  map[string][]time.Duration
	serverErrs []answer // every 5xx, judged against the outage windows at the end
	authErrs   []answer // every 401 and 429: none is expected in a soak
	violations []string
	missed     atomic.Int64 // ticks skipped because every flow slot was busy
}

// newLoad makes the generator: one API client per key of keys, all over one round-robin.
func newLoad(cfg loadConfig, backends, keys []string) (*load, error) {
	rr := &roundRobin{backends: backends, base: &http.Transport{MaxIdleConnsPerHost: cfg.concurrency * 3, IdleConnTimeout: 30 * time.Second}}
	httpc := &http.Client{Transport: rr, Timeout: 30 * time.Second}
	l := &load{cfg: cfg, accepted: map[uuid.UUID]acceptance{}, unresolved: map[uuid.UUID]string{}, owner: map[uuid.UUID]int{},
		statuses: map[string]map[int]int{}, latencies: map[string][]time.Duration{}}
	for _, key := range keys {
		client, err := giftclient.NewClientWithResponses("http://api", giftclient.WithHTTPClient(httpc), giftclient.WithAPIKey(key))
		if err != nil {
			return nil, fmt.Errorf("api client: %w", err)
		}
		l.clients = append(l.clients, client)
	}
	if len(l.clients) < 2 {
		return nil, errors.New("the soak needs two clients' keys")
	}
	return l, nil
}

// run starts cfg.rate flows per second for cfg.duration and waits for the last one.
func (l *load) run(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.duration)
	defer cancel()
	slots := make(chan struct{}, l.cfg.concurrency)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / l.cfg.rate))
	defer tick.Stop()
	started := 0 // flows started: the clients take turns
	for n := uint64(0); ; n++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			l.missed.Add(1)
			continue
		}
		c := started % len(l.clients)
		started++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			// Flows finish even after the load's time is up: a send in progress is followed through.
			l.flow(context.WithoutCancel(ctx), c, rand.New(rand.NewPCG(l.cfg.seed, n))) //nolint:gosec // G404: traffic shape, reproducible from a seed
		}()
	}
}

// flow: client c creates a gift, sends it (sometimes with several keys at once, sometimes forced
// to fail), sometimes replays the send and reads the gift; the other client's read of it is then
// 404.
func (l *load) flow(ctx context.Context, c int, r *rand.Rand) {
	id, ok := l.create(ctx, c)
	if !ok {
		return
	}
	forced := r.Float64() < l.cfg.forced
	if r.Float64() < l.cfg.concurrent {
		l.concurrentSends(ctx, c, id, 2+r.IntN(2), forced)
	} else {
		key := uuid.NewString()
		status, body := l.send(ctx, c, id, key, forced)
		switch status {
		case http.StatusAccepted, http.StatusOK:
			l.accept(id, key, forced)
			if r.Float64() < l.cfg.replayed {
				again, replay := l.send(ctx, c, id, key, forced)
				if again != http.StatusOK || !bytes.Equal(replay, body) {
					l.violation("replay of gift %s key %s: %d %s, want 200 %s", id, key, again, replay, body)
				}
			}
		case 0:
		default:
			l.violation("send of new gift %s with one key: %d %s", id, status, body)
		}
	}
	if r.Float64() < l.cfg.read {
		l.read(ctx, c, id)
		l.readOthers(ctx, (c+1)%len(l.clients), id)
	}
}

// concurrentSends sends n different keys at once as client c: exactly one may be accepted.
func (l *load) concurrentSends(ctx context.Context, c int, id uuid.UUID, n int, forced bool) {
	type result struct {
		key    string
		status int
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := uuid.NewString()
			status, _ := l.send(ctx, c, id, key, forced)
			results[i] = result{key, status}
		}()
	}
	wg.Wait()
	var winners []string
	unknown := false
	for _, res := range results {
		switch res.status {
		case http.StatusAccepted, http.StatusOK:
			winners = append(winners, res.key)
		case http.StatusConflict:
		case 0:
			unknown = true
		default:
			l.violation("concurrent send of gift %s: %d", id, res.status)
		}
	}
	switch {
	case len(winners) > 1:
		l.violation("gift %s accepted %d different keys at once: %v", id, len(winners), winners)
	case len(winners) == 1:
		l.accept(id, winners[0], forced)
	case !unknown:
		l.violation("gift %s: none of %d concurrent keys was accepted", id, n)
	}
}

func (l *load) accept(id uuid.UUID, key string, forced bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accepted[id] = acceptance{key: key, forced: forced}
	delete(l.unresolved, id)
}

// create posts a new gift as client c, retrying while the API is unreachable or unavailable.
func (l *load) create(ctx context.Context, c int) (uuid.UUID, bool) {
	for attempt := 0; attempt < 60; attempt++ {
		start := time.Now()
		resp, err := l.clients[c].CreateGiftWithResponse(ctx, nil, giftclient.CreateGiftJSONRequestBody{Amount: 1000})
		a := l.record("create", start, resp, err)
		switch {
		case a.status == http.StatusCreated && resp.JSON201 != nil:
			l.mu.Lock()
			l.created++
			l.owner[resp.JSON201.GiftId] = c
			l.mu.Unlock()
			return resp.JSON201.GiftId, true
		case a.status == 0 || a.status >= 500:
			time.Sleep(250 * time.Millisecond) // the API is restarting or the database is down
		default:
			l.violation("create: %d %s", a.status, a.body)
			return uuid.Nil, false
		}
	}
	return uuid.Nil, false
}

// send asks as client c for id to be sent under key, retrying with the same key while unanswered
// or 5xx (as a client must). It returns the first definite answer; 200 for a key whose earlier
// attempt went unanswered means that attempt was accepted. 0: never answered.
func (l *load) send(ctx context.Context, c int, id uuid.UUID, key string, forced bool) (int, []byte) {
	params := &giftclient.SendGiftParams{IdempotencyKey: key}
	if forced {
		params.XForceFailure = &forced
	}
	for attempt := 0; attempt < 60; attempt++ {
		start := time.Now()
		resp, err := l.clients[c].SendGiftWithResponse(ctx, id, params)
		a := l.record("send", start, resp, err)
		if a.status != 0 && a.status < 500 {
			return a.status, a.body
		}
		time.Sleep(250 * time.Millisecond)
	}
	l.mu.Lock()
	l.unresolved[id] = key
	l.mu.Unlock()
	return 0, nil
}

// read reads gift id back as client c, its owner.
func (l *load) read(ctx context.Context, c int, id uuid.UUID) {
	for attempt := 0; attempt < 20; attempt++ {
		start := time.Now()
		resp, err := l.clients[c].GetGiftWithResponse(ctx, id)
		a := l.record("read", start, resp, err)
		switch {
		case a.status == http.StatusOK:
			return
		case a.status == 0 || a.status >= 500:
			time.Sleep(250 * time.Millisecond)
		default:
			l.violation("read of gift %s: %d %s", id, a.status, a.body)
			return
		}
	}
}

// readOthers reads gift id as client c, which does not own it: the answer must be the 404
// envelope, as for a gift that does not exist, faults or not.
func (l *load) readOthers(ctx context.Context, c int, id uuid.UUID) {
	for attempt := 0; attempt < 20; attempt++ {
		start := time.Now()
		resp, err := l.clients[c].GetGiftWithResponse(ctx, id)
		a := l.record("other", start, resp, err)
		switch {
		case a.status == http.StatusNotFound:
			if p := envelopeProblem(a); p != "" {
				l.violation("gift %s read by the client not owning it: %s", id, p)
			}
			return
		case a.status == 0 || a.status >= 500:
			time.Sleep(250 * time.Millisecond)
		default:
			l.violation("gift %s read by the client not owning it: %s", id, notFoundWanted(a))
			return
		}
	}
}

// notFoundWanted describes an answer that should have been the 404 of another client's gift: a
// 200 shows the gift, which says enough; anything else with its body.
func notFoundWanted(a answer) string {
	if a.status == http.StatusOK {
		return "200 with the gift, want 404"
	}
	return fmt.Sprintf("%d %s, want 404", a.status, bytes.TrimSpace(a.body))
}

// response is what the generated client's responses have in common.
type response interface{ StatusCode() int }

func (l *load) record(op string, start time.Time, resp response, err error) answer {
	a := answer{op: op, at: start, latency: time.Since(start)}
	if err == nil && resp != nil {
		a.status = resp.StatusCode()
		switch r := resp.(type) {
		case *giftclient.CreateGiftResponse:
			a.body, a.header = r.Body, r.HTTPResponse.Header
		case *giftclient.SendGiftResponse:
			a.body, a.header = r.Body, r.HTTPResponse.Header
		case *giftclient.GetGiftResponse:
			a.body, a.header = r.Body, r.HTTPResponse.Header
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.statuses[op] == nil {
		l.statuses[op] = map[int]int{}
	}
	l.statuses[op][a.status]++
	if a.status != 0 {
		l.latencies[op] = append(l.latencies[op], a.latency)
	}
	switch {
	case a.status >= 500:
		l.serverErrs = append(l.serverErrs, a)
	case a.status == http.StatusUnauthorized || a.status == http.StatusTooManyRequests:
		l.authErrs = append(l.authErrs, a)
	}
	return a
}

func (l *load) violation(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.violations = append(l.violations, fmt.Sprintf(format, args...))
}

// envelopeProblem says what is wrong with an error answer the soak judges, "" when it is the
// documented envelope (openapi.yaml): INTERNAL_ERROR with 500 and SERVICE_UNAVAILABLE with 503
// and Retry-After, no internal details; NOT_FOUND with 404 (another client's gift); and, so that a
// stray one is reported as what it is, UNAUTHENTICATED or API_KEY_INVALID with 401 and a
// WWW-Authenticate challenge, RATE_LIMITED with 429 and Retry-After. Each code only with its own
// status, the request's Correlation-Id in the header and the body. (The audit counts any 401 or
// 429 as a violation whatever its envelope: every request carries a valid key, and the soak's
// clients have a limit far above its rate.)
func envelopeProblem(a answer) string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		RequestID     *string `json:"request_id"`
		CorrelationID string  `json:"correlation_id"`
	}
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return fmt.Sprintf("not the error envelope (%v): %s", err, a.body)
	}
	want := errorCodes[a.status]
	switch {
	case want == nil:
		return fmt.Sprintf("status %d is not documented", a.status)
	case !slices.Contains(want, e.Error.Code):
		return fmt.Sprintf("code %s with status %d", e.Error.Code, a.status)
	case a.header.Get("Content-Type") != "application/json":
		return "Content-Type " + a.header.Get("Content-Type")
	case (a.status == 503 || a.status == 429) && a.header.Get("Retry-After") == "":
		return fmt.Sprintf("%d without Retry-After", a.status)
	case a.status == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer"):
		return fmt.Sprintf("401 with WWW-Authenticate %q, want a Bearer challenge", a.header.Get("WWW-Authenticate"))
	case e.CorrelationID == "" || e.CorrelationID != a.header.Get("Correlation-Id"):
		return fmt.Sprintf("correlation_id %q, Correlation-Id header %q: want the same id", e.CorrelationID, a.header.Get("Correlation-Id"))
	}
	return ""
}

// errorCodes are the error codes the soak may meet, by status.
var errorCodes = map[int][]string{
	401: {"UNAUTHENTICATED", "API_KEY_INVALID"},
	404: {"NOT_FOUND"},
	429: {"RATE_LIMITED"},
	500: {"INTERNAL_ERROR"},
	503: {"SERVICE_UNAVAILABLE"},
}

// roundRobin spreads requests over the API processes as a load balancer would, and moves a
// request whose connection is refused (a process restarting) to the next one: nothing was sent,
// so that is safe for any method. A request cut off after it was sent is the client's to retry.
type roundRobin struct {
	backends []string
	next     atomic.Uint64
	base     http.RoundTripper
}

func (rr *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	first := rr.next.Add(1)
	var lastErr error
	for i := range len(rr.backends) {
		out := req.Clone(req.Context())
		out.URL.Host = rr.backends[(int(first%uint64(len(rr.backends)))+i)%len(rr.backends)] //nolint:gosec // an index modulo a small length
		out.Host = out.URL.Host
		if i > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("rewind request body: %w", err)
			}
			out.Body = body
		}
		resp, err := rr.base.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" {
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func sortedCopy(d []time.Duration) []time.Duration {
	out := slices.Clone(d)
	slices.Sort(out)
	return out
}
