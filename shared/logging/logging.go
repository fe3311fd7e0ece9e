// Package logging builds the JSON logger both services use. Field names follow
// docs/observability.md (docs/requirements.md §8.3): timestamp, level, msg, service, and per event status,
// gift_id, request_id, correlation_id, error_code, error_message.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
)

// Field names shared by every log line of both services.
const (
	KeyService      = "service"
	KeyStatus       = "status"
	KeyGiftID       = "gift_id"
	KeyRequestID    = "request_id"
	KeyErrorCode    = "error_code"
	KeyErrorMessage = "error_message"
	// KeyClient is the name of the API client whose key a request carried (the API's lines and
	// spans; the client:<name> tag of the per-client metrics).
	KeyClient = "client"
	// KeyCorrelationID is the server's id of the API request a line belongs to (shared/correlation):
	// added from the context by every logger New builds; the worker's lines of a send carry the id
	// of the request that accepted it.
	KeyCorrelationID = correlation.Key
)

// New returns a JSON logger writing to w at level, with service on every line. The time key is
// "timestamp" in RFC 3339 UTC with milliseconds. Durations are written as Go duration strings
// ("1.5s", "250ms"), whichever service logs them; slog's default would be integer nanoseconds.
// Latencies measured per request stay numbers in milliseconds (Since), for Datadog measures.
// A line logged while a span is active carries dd.trace_id and dd.span_id (trace.go).
func New(w io.Writer, service string, level slog.Level) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.String("timestamp", a.Value.Time().UTC().Format("2006-01-02T15:04:05.000Z07:00"))
			}
			if a.Value.Kind() == slog.KindDuration {
				return slog.String(a.Key, a.Value.Duration().String())
			}
			return a
		},
	})
	return slog.New(traceHandler{Handler: h}).With(KeyService, service)
}

// ParseLevel reads DEBUG, INFO, WARN or ERROR (any case).
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("log level %q: want DEBUG, INFO, WARN or ERROR", s)
	}
	return l, nil
}

// Err returns the error_message attribute for err.
func Err(err error) slog.Attr { return slog.String(KeyErrorMessage, err.Error()) }

// Since returns a duration attribute in milliseconds.
func Since(key string, start time.Time) slog.Attr {
	return slog.Float64(key, float64(time.Since(start).Microseconds())/1000)
}

// Correlation is the correlation_id attribute of id, for a line logged without the request's
// context (the worker's lines of a send); none when id is "" (slog drops an empty attribute).
func Correlation(id string) slog.Attr {
	if id == "" {
		return slog.Attr{}
	}
	return slog.String(KeyCorrelationID, id)
}
