package lifecycle

import (
	"strings"
	"testing"
	"time"
)

// The invariants judge a gift's facts; each case breaks one of them, and a clean lifecycle breaks
// none.
func TestCheck(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	five := 5
	three := 3
	one := 1
	path := func(to ...string) []Event {
		var es []Event
		from := ""
		for i, s := range to {
			es = append(es, Event{From: from, To: s, At: at(float64(i))})
			from = s
		}
		return es
	}
	failedAttempts := func(msg string, series int, n int, from float64) []LogLine {
		var ls []LogLine
		for i := 1; i <= n; i++ {
			m := msgAttemptFailed
			if i == 5 {
				m = msgLastFailed
			}
			ls = append(ls, LogLine{At: at(from + float64(i)), Msg: m, MessageID: msg, Attempt: i})
		}
		return ls
	}
	sent := Gift{ID: "g", Accepted: true, Status: "SENT", Events: path("CREATED", "QUEUED", "SENT"),
		Lines: []LogLine{{At: at(2), Msg: msgSent, MessageID: "m1", Attempt: 1}}}
	failed := Gift{ID: "g", Accepted: true, Status: "FAILED", Events: path("CREATED", "QUEUED", "FAILED"),
		Lines: failedAttempts("m1", 0, 5, 1), DLQ: []int{0}}
	rules := Rules{MaxAttempts: 5}
	for _, tt := range []struct {
		name string
		g    Gift
		r    Rules
		want string // the invariant broken; "" for none
	}{
		{"a clean send breaks nothing", sent, rules, ""},
		{"a clean failure breaks nothing", failed, rules, ""},
		{"a failure counted in the database breaks nothing", with(failed, func(g *Gift) { g.Attempts = &five; g.Lines = nil }), rules, ""},
		{"an accepted send still QUEUED", with(sent, func(g *Gift) { g.Status = "QUEUED"; g.Events = path("CREATED", "QUEUED"); g.Lines = nil }), rules, InvFinal},
		{"FAILED after three attempts in the database", with(failed, func(g *Gift) { g.Attempts = &three }), rules, InvAttempts},
		{"FAILED after attempts interrupted at shutdown", with(failed, func(g *Gift) {
			g.Lines = append(failedAttempts("m1", 0, 3, 1), LogLine{At: at(5), Msg: "shutdown budget spent", MessageID: "m1", Attempt: 4},
				LogLine{At: at(6), Msg: msgLastFailed, MessageID: "m1", Attempt: 5})
		}), rules, InvAttempts},
		{"a FAILED stored by the worker whose answer was lost counts its attempt", with(failed, func(g *Gift) {
			g.Events[len(g.Events)-1].Actor = "worker"
			g.Lines = append(failedAttempts("m1", 0, 4, 1), LogLine{At: at(9), Msg: "shutdown budget spent", MessageID: "m1", Attempt: 5})
		}), rules, ""},
		{"a FAILED by the reconciler after an interrupted last receive", with(failed, func(g *Gift) {
			g.Events[len(g.Events)-1].Actor = "reconciler"
			g.Lines = append(failedAttempts("m1", 0, 4, 1), LogLine{At: at(9), Msg: "shutdown budget spent", MessageID: "m1", Attempt: 5})
		}), rules, InvAttempts},
		{"a last receive killed mid-attempt, then the reconciler's FAILED", with(failed, func(g *Gift) {
			g.Events[len(g.Events)-1].Actor = "reconciler"
			g.Lines = append(failedAttempts("m1", 0, 4, 1), LogLine{At: at(9), Msg: msgReconciled, MessageID: "m1"})
		}), rules, ""},
		{"a receive killed mid-attempt counts as run", with(failed, func(g *Gift) {
			g.Lines = append(failedAttempts("m1", 0, 2, 1), failedAttempts("m1", 0, 5, 1)[3:]...)
		}), rules, ""},
		{"two successful sends of one series", with(sent, func(g *Gift) {
			g.Lines = append(g.Lines, LogLine{At: at(2.1), Msg: msgOtherFinished, MessageID: "m2", Attempt: 1})
			g.Injected = map[string]int{"m2": 0}
		}), rules, InvOneSend},
		{"a second delivery that failed its last attempt is not a send", with(sent, func(g *Gift) {
			g.Lines = append(g.Lines, LogLine{At: at(2.1), Msg: msgOtherFinished, MessageID: "m2", Attempt: 5})
			g.Injected = map[string]int{"m2": 0}
		}), rules, ""},
		{"a history that skips QUEUED", with(sent, func(g *Gift) { g.Events = path("CREATED", "SENT") }), rules, InvPath},
		{"a history that leaves SENT", with(sent, func(g *Gift) {
			g.Status = "QUEUED"
			g.Events = path("CREATED", "QUEUED", "SENT", "QUEUED")
		}), Rules{MaxAttempts: 5}, InvPath},
		{"FAILED with nothing in the DLQ", with(failed, func(g *Gift) { g.DLQ = nil }), rules, InvDLQ},
		{"FAILED with only an earlier series in the DLQ", with(failed, func(g *Gift) { g.Series = 1; g.Attempts = &five; g.DLQ = []int{0} }), rules, InvDLQ},
		{"SENT with its current series in the DLQ", with(sent, func(g *Gift) { g.DLQ = []int{0} }), rules, InvDLQ},
		{"SENT with a superseded message in the DLQ", with(sent, func(g *Gift) { g.Series = 1; g.DLQ = []int{0} }), rules, ""},
		{"two API messages for one outbox row", with(sent, func(g *Gift) {
			g.Lines = append(g.Lines, LogLine{At: at(2.5), Msg: "duplicate delivery: the gift was already finished", MessageID: "m2", Attempt: 1})
		}), rules, InvOnePublish},
		{"two API messages for one row during a database outage", with(sent, func(g *Gift) {
			g.Lines = append(g.Lines, LogLine{At: at(2.5), Msg: "duplicate delivery: the gift was already finished", MessageID: "m2", Attempt: 1})
		}), Rules{MaxAttempts: 5, Failures: []Window{{Name: "db", Start: at(1.5), End: at(2)}}}, ""},
		{"a redriven message is not a second publish", with(sent, func(g *Gift) {
			g.Redriven = 1
			g.Lines = append(g.Lines, LogLine{At: at(2.5), Msg: "duplicate delivery: the gift was already finished", MessageID: "m2", Attempt: 1})
		}), rules, ""},
		{"a stale message fails the retried gift", Gift{ID: "g", Accepted: true, Status: "FAILED", Series: 1, Attempts: &one, DLQ: []int{0},
			Events:   append(path("CREATED", "QUEUED", "FAILED"), Event{From: "FAILED", To: "QUEUED", At: at(10)}, Event{From: "QUEUED", To: "FAILED", At: at(11)}),
			Injected: map[string]int{"old": 0},
			Lines:    []LogLine{{At: at(11), Msg: msgLastFailed, MessageID: "old", Attempt: 5}}}, rules, InvStaleEffect},
		{"a stale message runs an attempt of the retried gift", Gift{ID: "g", Accepted: true, Status: "SENT", Series: 1, Attempts: &one, DLQ: []int{0},
			Events:   append(path("CREATED", "QUEUED", "FAILED"), Event{From: "FAILED", To: "QUEUED", At: at(10)}, Event{From: "QUEUED", To: "SENT", At: at(13)}),
			Injected: map[string]int{"old": 0},
			Lines: []LogLine{{At: at(12), Msg: msgAttemptFailed, MessageID: "old", Attempt: 1},
				{At: at(13), Msg: msgSent, MessageID: "new", Attempt: 2}}}, rules, InvStaleEffect},
		{"an attempt of the earlier series that ended just after a redrive", Gift{ID: "g", Accepted: true, Status: "SENT", Series: 1, Attempts: &one,
			Events:   append(path("CREATED", "QUEUED"), Event{From: "QUEUED", To: "QUEUED", Actor: "operator", At: at(10)}, Event{From: "QUEUED", To: "SENT", At: at(13)}),
			Injected: map[string]int{"old": 0}, Redriven: 1,
			Lines: []LogLine{{At: at(10.2), Msg: msgAttemptFailed, MessageID: "old", Attempt: 1},
				{At: at(13), Msg: msgSent, MessageID: "new", Attempt: 1}}}, rules, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			vs := Check(tt.g, tt.r)
			var got []string
			for _, v := range vs {
				got = append(got, v.Invariant+": "+v.Detail)
			}
			if tt.want == "" {
				if len(vs) > 0 {
					t.Fatalf("violations of a valid lifecycle:\n%s", strings.Join(got, "\n"))
				}
				return
			}
			for _, v := range vs {
				if v.Invariant == tt.want {
					return
				}
			}
			t.Fatalf("want a violation of %s, got:\n%s", tt.want, strings.Join(got, "\n"))
		})
	}
}

func with(g Gift, change func(*Gift)) Gift {
	g.Lines = append([]LogLine(nil), g.Lines...)
	g.Events = append([]Event(nil), g.Events...)
	change(&g)
	return g
}
