package lifecycle

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Event is one row of a gift's history (gift_events), oldest first.
type Event struct {
	From   string // "" for the creation
	To     string
	Actor  string
	Reason string
	At     time.Time
}

// LogLine is one line of the worker's JSON log about a gift.
type LogLine struct {
	At        time.Time
	Msg       string
	MessageID string
	Attempt   int  // the "attempt" field (0: absent)
	Series    *int // the "series" field, where the build logs it
	Status    string
}

// Window is a span of time during which something was going on (a fault).
type Window struct {
	Name       string
	Start, End time.Time
}

// Gift is everything the audit knows about one gift at the end of a run, read once the system has
// settled.
type Gift struct {
	ID       string
	Schedule int  // index of the schedule that owns it
	Accepted bool // a send was accepted (the schedule saw 202/200, or a send request exists)
	Status   string
	Series   int  // send_requests.retries: the current attempt series
	Attempts *int // send_requests.attempts (nil: the build has no such column)
	Events   []Event
	Lines    []LogLine // the worker's lines about the gift, in log order
	// Injected are the messages the schedule put on the main queue itself (duplicate publishes and
	// stale messages), by message id, with the series each carries.
	Injected map[string]int
	// Redriven counts the `giftctl dlq redrive` moves of this gift's messages back to the queue.
	Redriven int
	// DLQ are the series of the gift's messages in the DLQ at the end (one entry per message).
	DLQ []int
}

// Rules are the system's settings the invariants depend on.
type Rules struct {
	MaxAttempts int // the queue's maxReceiveCount
	// Failures are the windows of faults that may legitimately make the API publish an outbox row
	// twice (a refused or cut SQS call, a database outage between publish and delete). A latency
	// fault is not one of them: a slow SQS must not duplicate a message.
	Failures []Window
}

// Violation is one broken invariant of one gift.
type Violation struct {
	Invariant string // a..g, as the package doc names them
	GiftID    string
	Schedule  int
	Detail    string
}

func (v Violation) String() string {
	return fmt.Sprintf("schedule %d gift %s: invariant %s: %s", v.Schedule, v.GiftID, v.Invariant, v.Detail)
}

// The invariants, by the letter the package doc gives them.
const (
	InvFinal       = "(a) every accepted send ends SENT or FAILED"
	InvAttempts    = "(b) FAILED only after the configured attempts of its current series ran"
	InvOneSend     = "(c) at most one successful pseudo-send per series"
	InvPath        = "(d) the history is a path of the state machine"
	InvDLQ         = "(e) the DLQ holds exactly the FAILED gifts not retried since"
	InvOnePublish  = "(f) one publish per outbox row unless a publish or delete failed"
	InvStaleEffect = "(g) a message of an earlier series changes nothing"
)

// Worker log messages the audit reads (worker-svc/internal/worker, reconcile).
const (
	msgSent          = "gift sent"
	msgLastFailed    = "last attempt failed: gift FAILED, message moved to the DLQ"
	msgAttemptFailed = "send attempt failed: SQS delivers it again after the delay"
	msgOtherFinished = "duplicate delivery: another delivery finished the gift first, message deleted"
	msgUnexpected    = "processing failed unexpectedly: SQS delivers it again after the delay"
	msgStmtTimeout   = "a database statement timed out while the database answers: SQS delivers the message again after the delay"
	msgReconciled    = "gift still QUEUED with its message in the DLQ: marked FAILED"
	// The same events in the words of builds that count attempts in the database (issue 14).
	msgAllAttemptsFailed = "every attempt has run and none succeeded: gift FAILED, message moved to the DLQ"
	// The same events in the words of builds that left the message for SQS to dead-letter.
	msgLastFailedLeft        = "last attempt failed: gift FAILED, message left for the DLQ"
	msgAllAttemptsFailedLeft = "every attempt has run and none succeeded: gift FAILED, message left for the DLQ"
)

// failedLine says whether a line is the worker's record of storing FAILED, in any build's words.
func failedLine(msg string) bool {
	return msg == msgLastFailed || msg == msgAllAttemptsFailed || msg == msgLastFailedLeft || msg == msgAllAttemptsFailedLeft
}

// attemptMargin is longer than an attempt takes from its beginning to its line
// (WORKER_SEND_LATENCY plus the database's answer).
const attemptMargin = time.Second

// storedFinal are the lines written once a delivery stored SENT or FAILED.
var storedFinal = map[string]bool{msgSent: true, msgLastFailed: true, msgAllAttemptsFailed: true, msgReconciled: true,
	msgLastFailedLeft: true, msgAllAttemptsFailedLeft: true}

// ranAttempt are the lines written once an attempt has run (its send, or its database work,
// happened): what a build without send_requests.attempts leaves as the witness of attempts.
var ranAttempt = map[string]bool{msgSent: true, msgLastFailed: true, msgAttemptFailed: true, msgOtherFinished: true,
	msgUnexpected: true, msgStmtTimeout: true, msgAllAttemptsFailed: true, msgLastFailedLeft: true, msgAllAttemptsFailedLeft: true}

// allowed is the state machine of a gift's history: from -> to.
var allowed = map[[2]string]bool{
	{"", "CREATED"}:       true,
	{"CREATED", "QUEUED"}: true,
	{"QUEUED", "SENT"}:    true,
	{"QUEUED", "FAILED"}:  true,
	{"FAILED", "QUEUED"}:  true, // an operator retry: a new attempt series
	{"QUEUED", "QUEUED"}:  true, // a re-enqueue (giftctl reconcile --apply, the reconciler's re-queue)
}

// Check returns every invariant g breaks.
func Check(g Gift, r Rules) []Violation {
	var out []Violation
	add := func(inv, format string, args ...any) {
		out = append(out, Violation{Invariant: inv, GiftID: g.ID, Schedule: g.Schedule, Detail: fmt.Sprintf(format, args...)})
	}

	// (a) final.
	if g.Accepted && g.Status != "SENT" && g.Status != "FAILED" {
		add(InvFinal, "the send was accepted but the gift is %s", g.Status)
	}

	// (d) a path of the state machine.
	prev := ""
	for i, e := range g.Events {
		if e.From != prev {
			add(InvPath, "event %d goes %s -> %s but the gift was %s", i, orNone(e.From), e.To, orNone(prev))
		} else if !allowed[[2]string{e.From, e.To}] {
			add(InvPath, "event %d: %s -> %s is not a transition of the state machine (%s)", i, orNone(e.From), e.To, e.Actor)
		}
		prev = e.To
	}
	if len(g.Events) > 0 && prev != g.Status {
		add(InvPath, "the history ends in %s but the gift is %s", prev, g.Status)
	}

	retries := retryTimes(g.Events)
	seriesAt := func(t time.Time) int { // the series current at t
		return sort.Search(len(retries), func(i int) bool { return retries[i].After(t) })
	}
	lineSeries := func(l LogLine) int {
		if l.Series != nil {
			return *l.Series
		}
		if s, ok := g.Injected[l.MessageID]; ok {
			return s
		}
		return seriesAt(l.At)
	}

	// (b) FAILED only after the attempts of its current series ran.
	if g.Status == "FAILED" {
		if g.Attempts != nil {
			if *g.Attempts < r.MaxAttempts {
				add(InvAttempts, "FAILED in series %d with send_requests.attempts = %d of %d", g.Series, *g.Attempts, r.MaxAttempts)
			}
		} else if ran := ranInSeries(g, lineSeries, r.MaxAttempts) + lostAnswer(g); ran < r.MaxAttempts {
			add(InvAttempts, "FAILED in series %d after %d attempts of that series ran (worker log; %d required)", g.Series, ran, r.MaxAttempts)
		}
	}

	// (c) at most one successful pseudo-send per series. "gift sent" is a send whose SENT was
	// stored; "another delivery finished the gift first" before the last attempt is a send that
	// succeeded while another delivery stored the outcome (on the last attempt it may be a failure,
	// so it is not counted: a lower bound).
	sends := map[int]int{}
	for _, l := range g.Lines {
		if l.Msg == msgSent || (l.Msg == msgOtherFinished && l.Attempt > 0 && l.Attempt < r.MaxAttempts) {
			sends[lineSeries(l)]++
		}
	}
	for _, s := range sortedKeys(sends) {
		if sends[s] > 1 {
			add(InvOneSend, "%d successful pseudo-sends in series %d", sends[s], s)
		}
	}

	// (g) a message of an earlier series changes nothing: it stores no final status and runs no
	// attempt. An attempt's line comes after the attempt began, so it counts only when the series
	// changed at least attemptMargin before it (a redrive may start a series while an attempt of
	// the earlier one runs).
	for _, l := range g.Lines {
		at := l.At
		switch {
		case storedFinal[l.Msg]:
		case ranAttempt[l.Msg]:
			at = at.Add(-attemptMargin)
		default:
			continue
		}
		if ms, injected := g.Injected[l.MessageID]; injected && ms < seriesAt(at) {
			add(InvStaleEffect, "message %s of series %d, current series %d: %q at %s", l.MessageID, ms, seriesAt(l.At), l.Msg, l.At.Format("15:04:05.000"))
		}
	}

	// (e) the DLQ holds a message of the current series exactly when the gift is FAILED (messages
	// of earlier series may stay: settled as superseded, they are dropped by a redrive).
	current := 0
	for _, s := range g.DLQ {
		if s == g.Series {
			current++
		}
	}
	switch {
	case g.Status == "FAILED" && current == 0:
		add(InvDLQ, "FAILED in series %d but the DLQ holds no message of that series (DLQ series: %v)", g.Series, g.DLQ)
	case g.Status != "FAILED" && current > 0:
		add(InvDLQ, "%s but the DLQ holds %d message(s) of its current series %d", g.Status, current, g.Series)
	}

	// (f) one publish per outbox row: the messages the worker saw for the gift, less those the
	// schedule injected, are at most its outbox rows (every move into QUEUED writes one) plus the
	// redrives, unless a failure came within a second of the time the gift was queued.
	if !g.exposed(r.Failures) {
		rows := 0
		for _, e := range g.Events {
			if e.To == "QUEUED" {
				rows++
			}
		}
		seen := map[string]bool{}
		for _, l := range g.Lines {
			if _, injected := g.Injected[l.MessageID]; !injected && l.MessageID != "" && l.Msg != msgReconciled {
				seen[l.MessageID] = true
			}
		}
		if len(seen) > rows+g.Redriven {
			add(InvOnePublish, "the worker received %d messages of the API for %d outbox row(s) and %d redrive(s), with no failure while it was queued",
				len(seen), rows, g.Redriven)
		}
	}
	return out
}

// ranInSeries counts, from the worker's log, the attempts of the gift's current series that ran:
// lines written after an attempt ran, plus receives missing from the log (a worker killed while
// the attempt ran writes nothing; counting them as run keeps this witness from accusing a crash).
// A message the reconciler found in the DLQ had all maxAttempts receives.
func ranInSeries(g Gift, series func(LogLine) int, maxAttempts int) int {
	ran := 0
	receives := map[string][]int{}
	last := map[string]int{} // the highest receive of each message
	for _, l := range g.Lines {
		if series(l) != g.Series || l.MessageID == "" {
			continue
		}
		if l.Msg == msgReconciled {
			last[l.MessageID] = max(last[l.MessageID], maxAttempts)
			continue
		}
		if ranAttempt[l.Msg] {
			ran++
		}
		if l.Attempt > 0 {
			receives[l.MessageID] = append(receives[l.MessageID], l.Attempt)
			last[l.MessageID] = max(last[l.MessageID], l.Attempt)
		}
	}
	for id, n := range last {
		rs := receives[id]
		slices.Sort(rs)
		ran += n - len(slices.Compact(rs)) // receives 1..n that left no line
	}
	return ran
}

// lostAnswer is 1 when the worker stored the gift's FAILED but wrote no line saying so: the
// attempt ran and its store committed, and the answer was lost (a database outage cut the
// connection) before the worker, shutting down, let the message go. The worker stores FAILED only
// after its last attempt ran, so that attempt counts.
func lostAnswer(g Gift) int {
	if len(g.Events) == 0 {
		return 0
	}
	last := g.Events[len(g.Events)-1]
	if last.To != "FAILED" || last.Actor != "worker" {
		return 0
	}
	for _, l := range g.Lines {
		if failedLine(l.Msg) && !l.At.Before(last.At.Add(-time.Second)) {
			return 0
		}
	}
	return 1
}

// exposed reports whether a failure window overlapped the time the gift was queued (from its first
// move into QUEUED to its last log line or status change).
func (g Gift) exposed(failures []Window) bool {
	var from, to time.Time
	for _, e := range g.Events {
		if e.To == "QUEUED" && from.IsZero() {
			from = e.At
		}
		to = e.At
	}
	for _, l := range g.Lines {
		if l.At.After(to) {
			to = l.At
		}
	}
	if from.IsZero() {
		return false
	}
	const margin = time.Second // one clock, but connections a fault cut fail a moment later
	for _, w := range failures {
		if w.Start.Before(to.Add(margin)) && w.End.After(from.Add(-margin)) {
			return true
		}
	}
	return false
}

// retryTimes are the times of the operator retries and redrives, oldest first: series n
// starts at retryTimes[n-1].
func retryTimes(events []Event) []time.Time {
	var out []time.Time
	for _, e := range events {
		// An operator's retry (FAILED -> QUEUED) or redrive (QUEUED -> QUEUED by an operator; the
		// reconciler's QUEUED -> QUEUED keeps the series).
		if (e.From == "FAILED" && e.To == "QUEUED") || (e.From == "QUEUED" && e.To == "QUEUED" && e.Actor == "operator") {
			out = append(out, e.At)
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func sortedKeys(m map[int]int) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
