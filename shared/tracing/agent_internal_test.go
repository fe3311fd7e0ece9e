package tracing

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
)

// An Agent is there when its /info answers, whatever the status (an old Agent has no /info).
func TestAgentAnswersOnlyWhenSomethingListens(t *testing.T) {
	var asked string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.Path
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	if !agentAnswers(srv.Listener.Addr().String()) || asked != "/info" {
		t.Errorf("an Agent answering /info (asked %q) was not found", asked)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	if agentAnswers(closed) {
		t.Errorf("a closed port %s counted as an Agent", closed)
	}
}

// Without an Agent the tracer is not started (it would encode every trace, not knowing it may drop
// them): Start says so once, and its stop returns at once.
func TestStartWithoutAnAgentLogsOnceAndWaits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	var buf bytes.Buffer
	stop := Start(Config{Enabled: true, AgentAddr: closed, Service: "api"}, logging.New(&buf, "api", slog.LevelInfo))
	start := time.Now()
	stop()
	if took := time.Since(start); took > time.Second {
		t.Errorf("stop took %v", took)
	}
	out := buf.String()
	if strings.Count(out, "TRACE_AGENT_ABSENT") != 1 || strings.Contains(out, "tracing enabled") {
		t.Errorf("want one TRACE_AGENT_ABSENT line and no tracer started, got:\n%s", out)
	}
}
