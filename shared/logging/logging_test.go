package logging_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
)

func TestLineFields(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, "worker", slog.LevelInfo)
	log.Info("retrying", slog.Duration("retry_in", 1500*time.Millisecond), "budget", 25*time.Second,
		slog.Group("attempt", slog.Duration("took", 250*time.Millisecond)))

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %v: %s", err, buf.String())
	}
	want := map[string]any{"service": "worker", "level": "INFO", "msg": "retrying",
		"retry_in": "1.5s", "budget": "25s", "attempt": map[string]any{"took": "250ms"}}
	for key, value := range want {
		got, _ := json.Marshal(line[key])
		exp, _ := json.Marshal(value)
		if !bytes.Equal(got, exp) {
			t.Errorf("%s = %s, want %s", key, got, exp)
		}
	}
	ts, ok := line["timestamp"].(string)
	if !ok {
		t.Fatalf("no timestamp: %s", buf.String())
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", ts); err != nil {
		t.Errorf("timestamp %q: %v", ts, err)
	}
	if _, dup := line["time"]; dup {
		t.Errorf("slog's own time key is still there: %s", buf.String())
	}
}

func TestCorrelationAttrIsLeftOutWhenEmpty(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, "worker", slog.LevelInfo)
	log.Info("with", logging.Correlation("0193-id"))
	log.Info("without", logging.Correlation(""))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"correlation_id":"0193-id"`) || strings.Contains(lines[1], "correlation_id") {
		t.Errorf("want the id on the first line only:\n%s", buf.String())
	}
}
