package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"time"
	"unicode/utf8"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
)

// statusRecorder remembers what was written, for the access log and for panic recovery.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (flush, deadlines, full duplex).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// recoverPanics turns a panic into a logged 500 envelope instead of a dropped connection.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(p)
				}
				s.log.ErrorContext(r.Context(), "panic while serving request", logging.KeyStatus, "error",
					logging.KeyErrorCode, "PANIC", logging.KeyErrorMessage, fmt.Sprint(p), "stack", string(debug.Stack()),
					"method", r.Method, "path", r.URL.Path)
				if rec.status == 0 {
					s.writeError(rec, r, fmt.Errorf("panic: %v", p))
				}
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// accessLog gives the request its correlation id (shared/correlation): the Correlation-Id header
// of whatever answer follows, set before anything else runs, and the context every line of the
// request is logged with. After the response it writes one line: method, path, HTTP status,
// duration, and what handlers noted (gift_id, status, error_code, error_message). Probes are
// logged at DEBUG while they succeed so the load balancer's polling does not drown the logs.
func (s *server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := correlation.New()
		// The canonical key, assigned directly: Header().Set would canonicalise it again.
		w.Header()[correlation.Header] = []string{id}
		f := &requestFields{}
		rec := &statusRecorder{ResponseWriter: w}
		r = r.WithContext(correlation.With(withFields(r.Context(), f), id))
		next.ServeHTTP(rec, r)

		code := rec.status
		switch {
		case f.canceled:
			code = 499 // nginx's "client closed request": no answer was sent
		case code == 0:
			code = http.StatusOK
		}
		level, outcome := slog.LevelInfo, "ok"
		switch {
		case f.canceled:
			outcome = "canceled"
		case code >= 500:
			level, outcome = slog.LevelError, "error"
		case code >= 400:
			outcome = "rejected"
		case isProbe(r):
			level = slog.LevelDebug
		}
		// The line's fields are built only when it is written (LOG_LEVEL may leave it out).
		if s.log.Enabled(r.Context(), level) {
			attrs := make([]slog.Attr, 0, 10)
			attrs = append(attrs,
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("http_status", code), logging.Since("duration_ms", start),
			)
			if key, err := gift.ParseIdempotencyKey(r.Header.Get("Idempotency-Key")); err == nil {
				attrs = append(attrs, slog.String(logging.KeyRequestID, key))
			}
			// A client's own Correlation-Id is never the request's id; it is kept, when it is a
			// plausible one, so a client's support ticket quoting it still finds the line.
			if theirs := r.Header.Get(correlation.Header); correlation.Plausible(theirs) {
				attrs = append(attrs, slog.String(keyClientCorrelationID, theirs))
			}
			if f.client.Name != "" {
				attrs = append(attrs, slog.String(logging.KeyClient, f.client.Name))
			}
			if f.giftID != [16]byte{} {
				attrs = append(attrs, slog.String(logging.KeyGiftID, f.giftID.String()))
			}
			if f.giftStatus != "" {
				attrs = append(attrs, slog.String("gift_status", f.giftStatus))
			}
			attrs = append(attrs, slog.String(logging.KeyStatus, outcome))
			if f.errorCode != "" {
				msg := f.errorMessage
				if f.cause != nil {
					msg = f.cause.Error() // the internal detail the client did not see
				}
				attrs = append(attrs, slog.String(logging.KeyErrorCode, f.errorCode), slog.String(logging.KeyErrorMessage, msg))
			}
			s.log.LogAttrs(r.Context(), level, "http request", attrs...)
		}
		s.observeRequest(r, f, code, time.Since(start))
	})
}

// keyClientCorrelationID is the access log's field of a Correlation-Id the client sent.
const keyClientCorrelationID = "client_correlation_id"

// limitBody reads a request body of at most maxBody bytes into memory before anything else looks
// at it; a larger one is refused with 413 (refuseOversized). An operation whose contract has no
// request body (GET, the send, the probes, unknown routes) reads none: whatever body a client
// sends along is ignored, whatever its size, type or bytes, and net/http discards it after the
// answer (or closes the connection when it is large).
func (s *server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if !s.takesBody(r) {
			r.Body, r.ContentLength = http.NoBody, 0
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > s.maxBody {
			s.refuseOversized(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, s.maxBody+1))
		switch {
		case err != nil:
			s.writeError(w, r, validationError("request body could not be read"))
			return
		case int64(len(body)) > s.maxBody:
			s.refuseOversized(w, r)
			return
		}
		// The media type is decided here, once, as RFC 2045 reads it: this is the API's only
		// check of it (the 415), before any validator sees the body; kin-openapi's would be more
		// lenient (it takes "application/json;0").
		jsonBody := isJSON(r.Header.Get("Content-Type"))
		if len(body) > 0 && !jsonBody {
			s.writeError(w, r, newAPIError(UNSUPPORTEDMEDIATYPE, "Content-Type must be application/json"))
			return
		}
		// One JSON document and nothing after it: decoders downstream stop at the first value
		// and would silently ignore trailing data.
		if len(body) > 0 && jsonBody && !json.Valid(body) {
			s.writeError(w, r, validationError("request body is not valid JSON"))
			return
		}
		// JSON is UTF-8 (RFC 8259). The decoders downstream would turn invalid bytes into U+FFFD
		// and store a message other than the one sent.
		if len(body) > 0 && jsonBody && !utf8.Valid(body) {
			s.writeError(w, r, validationError("request body is not valid UTF-8"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		if f := fieldsFrom(r.Context()); f != nil {
			f.body = body
		}
		next.ServeHTTP(w, r)
	})
}

// How long, and how much, refuseOversized keeps reading a refused body. Like nginx's lingering
// close: long enough for a client on a normal link to finish the upload it started, bounded so a
// client that never stops costs one connection for a few seconds at most.
const (
	lingerTime  = 5 * time.Second
	lingerBytes = 64 << 20
)

// refuseOversized answers 413 with the envelope and closes the connection, without the reset that
// closing on unread data would cause. net/http alone would close while the client is still
// sending; the unread bytes make the kernel send a reset, and a client that writes its whole body
// before reading sees "connection reset" instead of the answer. So the answer is flushed first
// and the rest of the body is then read and discarded (lingerTime, lingerBytes) before the close.
func (s *server) refuseOversized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	rc := http.NewResponseController(w)
	// Read the body after the response is written (HTTP/1.x would otherwise give up on it).
	_ = rc.EnableFullDuplex()
	s.writeError(w, r, newAPIError(PAYLOADTOOLARGE,
		fmt.Sprintf("request body is larger than %d bytes", s.maxBody)))
	if err := rc.Flush(); err != nil {
		return
	}
	_ = rc.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, lingerBytes))
}

// takesBody reports whether the request's operation has a request body in the spec (a body sent
// to any other operation, or to a route the spec does not have, is not read).
func (s *server) takesBody(r *http.Request) bool {
	if f := fieldsFrom(r.Context()); f != nil {
		return f.operation != nil && f.operation.Operation.RequestBody != nil
	}
	route, _, err := s.router.FindRoute(r)
	return err == nil && route.Operation.RequestBody != nil
}

func isJSON(contentType string) bool {
	if contentType == "application/json" { // what nearly every client sends: no parsing needed
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}
