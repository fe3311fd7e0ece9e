package apiserver_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/contracttest"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
)

// This file is the tests' own reading of openapi.yaml: for a request, which answers the contract
// allows. It is written from the document, not from the server's code, so the fuzz targets and the
// property-based contract test can hold the server to it.

const maxBodyBytes = 16 << 10 // "at most 16 KiB" (createGift)

// createVerdict is what POST /gifts may answer for one request.
type createVerdict struct {
	// allowed statuses: exactly 201 for a valid request; for an invalid one, the status of each
	// rule it breaks (400, 413, 415), any of which the server may report.
	allowed []int
	// when 201 is allowed, what GET /gifts/{id} must read back
	amount  int64
	message *string
	why     string // which rule was broken, for failure messages
}

var integerLiteral = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// judgeCreate applies the contract of createGift to a content type and a body.
func judgeCreate(contentType string, body []byte) createVerdict {
	var v createVerdict
	var why []string
	if len(body) > maxBodyBytes {
		v.allowed, why = append(v.allowed, http.StatusRequestEntityTooLarge), append(why, "body over 16 KiB")
	}
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/json" {
		// An empty body breaks "required" too; the contract does not say which check comes first.
		v.allowed, why = append(v.allowed, http.StatusUnsupportedMediaType), append(why, "not application/json")
	}
	problem, repeated := v.readBody(body)
	if problem != "" {
		v.allowed, why = append(v.allowed, http.StatusBadRequest), append(why, problem)
	}
	if len(v.allowed) == 0 {
		v.allowed = []int{http.StatusCreated}
		if repeated {
			// RFC 8259: with repeated names the behaviour "is unpredictable". Refusing is fine;
			// accepting must be consistent: GET reads back the last value, as every decoder on
			// the server's path takes it.
			v.allowed, why = append(v.allowed, http.StatusBadRequest), append(why, "a repeated member name")
		}
	}
	v.why = strings.Join(why, "; ")
	return v
}

// readBody checks the body against CreateGiftRequest (RFC 8259 JSON in UTF-8, one object, amount a
// whole number in [1, 2147483647], optional message a string of at most 500 characters without
// U+0000, nothing else) and returns the first broken rule, or "" with v.amount and v.message set; repeated
// reports a member name given twice.
func (v *createVerdict) readBody(body []byte) (problem string, repeated bool) {
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return "empty body", false
	case !utf8.Valid(body):
		return "body is not UTF-8", false
	case !json.Valid(body):
		return "body is not JSON", false
	}
	fields, repeated, err := topLevelObject(body)
	if err != nil {
		return err.Error(), false
	}
	for name := range fields {
		if name != "amount" && name != "message" {
			return fmt.Sprintf("unknown property %q", name), repeated
		}
	}
	raw, ok := fields["amount"]
	if !ok {
		return "amount is missing", repeated
	}
	lit := string(bytes.TrimSpace(raw))
	if !integerLiteral.MatchString(lit) {
		return fmt.Sprintf("amount %s is not a whole number", lit), repeated
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	if err != nil || n < 1 || n > 2147483647 {
		return fmt.Sprintf("amount %s is out of range", lit), repeated
	}
	v.amount = n
	if raw, ok := fields["message"]; ok {
		var s *string
		if err := json.Unmarshal(raw, &s); err != nil || s == nil {
			return "message is not a string", repeated
		}
		if c := utf8.RuneCountInString(*s); c > 500 {
			return fmt.Sprintf("message has %d characters", c), repeated
		}
		if strings.ContainsRune(*s, 0) {
			return "message holds a NUL character", repeated
		}
		v.message = s
	}
	return "", repeated
}

// topLevelObject reads body as one JSON object and returns its members (the last value of a
// repeated name) and whether a name was repeated.
func topLevelObject(body []byte) (map[string]json.RawMessage, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false, errors.New("body is not a JSON object")
	}
	fields := map[string]json.RawMessage{}
	dup := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false, fmt.Errorf("read member name: %w", err)
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, false, fmt.Errorf("read member %q: %w", name, err)
		}
		if _, seen := fields[name]; seen {
			dup = true
		}
		fields[name] = raw
	}
	return fields, dup, nil
}

// header values as the server reads them: net/textproto drops leading and trailing blanks.
func headerValue(v string) string { return strings.Trim(v, " \t") }

// sendableHeader reports whether an HTTP/1.1 client can put v in a header at all (no control
// characters but the tab); other values never reach the API, the HTTP layer refuses them.
func sendableHeader(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

var idempotencyKey = regexp.MustCompile(`^[!-~]{1,255}$`)

// validKey is the Idempotency-Key of the contract: the schema (1-255 characters, each
// 0x21-0x7E) and its description (a value in double quotes is the quoted form, naming the key
// between them, which must be non-empty and hold no '"' or '\').
func validKey(k string) bool { _, ok := keyOf(k); return ok }

// keyOf is the key a header value names: the value, or what its quoted form holds.
func keyOf(k string) (string, bool) {
	if !idempotencyKey.MatchString(k) {
		return "", false
	}
	if len(k) < 2 || k[0] != '"' || k[len(k)-1] != '"' {
		return k, true
	}
	inner := k[1 : len(k)-1]
	return inner, inner != "" && !strings.ContainsAny(inner, `"\`)
}

// forceVerdict is what the contract says of an X-Force-Failure value (type: boolean, a header
// in the simple style): "true" and "false" are booleans; other spellings a boolean parser may
// accept ("1", "TRUE") are not in the contract, so the server may take or refuse them; the rest
// is a 400.
type forceVerdict int

const (
	forceAbsent forceVerdict = iota
	forceTrue
	forceFalse
	forceLenient // the server may refuse it (400) or read it as strconv.ParseBool does
	forceInvalid
)

func judgeForce(present bool, raw string) (forceVerdict, bool) {
	if !present {
		return forceAbsent, false
	}
	switch v := headerValue(raw); v {
	case "true":
		return forceTrue, true
	case "false":
		return forceFalse, false
	default:
		if b, err := strconv.ParseBool(v); err == nil {
			return forceLenient, b
		}
		return forceInvalid, false
	}
}

// errorEnvelope decodes the error envelope (Error schema) strictly.
type errorEnvelope struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	RequestID         *string `json:"request_id"`
	CorrelationID     *string `json:"correlation_id"` // held to the Correlation-Id header by contracttest
	RetryAfterSeconds *int    `json:"retry_after_seconds"`
}

func decodeEnvelope(body []byte) (errorEnvelope, error) {
	var e errorEnvelope
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("not the error envelope: %w", err)
	}
	return e, nil
}

// codeFor is the error code the contract pairs with an error answer: by its status (wantCode),
// and for a 401 by what the request carried: no bearer token is UNAUTHENTICATED, a bad one
// API_KEY_INVALID. (An exchange records the headers the test set, not the ones a keyed client
// adds.)
func codeFor(x exchange) string {
	if x.status == http.StatusUnauthorized {
		if _, err := apikey.FromAuthorization(x.header.Get("Authorization")); errors.Is(err, apikey.ErrMissing) {
			return "UNAUTHENTICATED"
		}
		return "API_KEY_INVALID"
	}
	return wantCode[x.status]
}

// carriesKey reports whether an Authorization header value carries key as RFC 6750 reads it:
// the Bearer scheme in any case, then spaces, then the token.
func carriesKey(header, key string) bool {
	scheme, token, ok := strings.Cut(headerValue(header), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && strings.TrimLeft(token, " ") == key
}

// wantCode is the error code the contract pairs with each error status.
var wantCode = map[int]string{
	400: "VALIDATION_ERROR", 404: "NOT_FOUND", 429: "RATE_LIMITED", 405: "METHOD_NOT_ALLOWED", 409: "CONFLICT",
	422: "IDEMPOTENCY_KEY_REUSED", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 500: "INTERNAL_ERROR", 503: "SERVICE_UNAVAILABLE",
}

// exchange is one request and its answer, read in full.
// strayBodies are bodies a client may send along to an operation whose contract has no request
// body (getGift, sendGift, the probes): the contract says none is read, so none may change the
// answer, whatever its type, size or bytes.
var strayBodies = []struct{ name, contentType, body string }{
	{"no body", "", ""},
	{"a JSON body that is not JSON", "application/json", "x"},
	{"a text body", "text/plain", "hello"},
	{"a JSON body over 16 KiB", "application/json", `{"amount": 1, "message": "` + strings.Repeat("x", maxBodyBytes) + `"}`},
	{"invalid UTF-8 as JSON", "application/json", "\"\xff\""},
}

// withStrayBody attaches one of strayBodies, drawn from pick, to a request built without a body.
func withStrayBody(req *http.Request, pick func(int) int) {
	b := strayBodies[pick(len(strayBodies))]
	if b.body == "" {
		return
	}
	req.Body = io.NopCloser(strings.NewReader(b.body))
	req.ContentLength = int64(len(b.body))
	req.Header.Set("Content-Type", b.contentType)
}

type exchange struct {
	method, path string
	header       http.Header
	status       int
	respHeader   http.Header
	body         []byte
}

func (x exchange) String() string {
	return fmt.Sprintf("%s %s %v -> %d %s", x.method, x.path, x.header, x.status, x.body)
}

// do sends req with c and reads the answer in full.
func do(c *http.Client, req *http.Request) (exchange, error) {
	x := exchange{method: req.Method, path: req.URL.RequestURI(), header: req.Header.Clone()}
	resp, err := c.Do(req)
	if err != nil {
		return x, err
	}
	defer resp.Body.Close()
	x.body, err = io.ReadAll(resp.Body)
	x.status, x.respHeader = resp.StatusCode, resp.Header
	return x, err
}

// checkDocumented holds an answer to the contract: never a 5xx (no outage is injected), the
// status one of allowed, and headers and body valid for the operation in openapi.yaml; an error
// answer is the envelope with the code of its status and, as request_id, the request's
// Idempotency-Key when that is valid, else null.
func checkDocumented(x exchange, allowed ...int) error {
	if x.status >= 500 {
		return fmt.Errorf("5xx: %s", x)
	}
	if len(allowed) > 0 && !slices.Contains(allowed, x.status) {
		return fmt.Errorf("status %d, want one of %v: %s", x.status, allowed, x)
	}
	probe, err := http.NewRequest(x.method, "http://api"+x.path, nil)
	if err != nil {
		return err
	}
	probe.Header = x.header.Clone()
	if err := contracttest.ValidateResponse(probe, x.status, x.respHeader, x.body); err != nil {
		return fmt.Errorf("not as openapi.yaml documents it: %w: %s", err, x)
	}
	if x.status < 400 {
		return nil
	}
	e, err := decodeEnvelope(x.body)
	if err != nil {
		return fmt.Errorf("%w: %s", err, x)
	}
	if e.Error.Code != codeFor(x) {
		return fmt.Errorf("code %s with status %d: %s", e.Error.Code, x.status, x)
	}
	switch x.status {
	case http.StatusUnauthorized:
		want := `Bearer realm="gift-api"`
		if e.Error.Code == "API_KEY_INVALID" {
			want += `, error="invalid_token"`
		}
		if got := x.respHeader.Get("WWW-Authenticate"); got != want {
			return fmt.Errorf("WWW-Authenticate %q, want %q: %s", got, want, x)
		}
	case http.StatusTooManyRequests:
		if e.RetryAfterSeconds == nil || x.respHeader.Get("Retry-After") != strconv.Itoa(*e.RetryAfterSeconds) || *e.RetryAfterSeconds < 1 {
			return fmt.Errorf("Retry-After %q, want the same whole seconds >= 1 as retry_after_seconds: %s",
				x.respHeader.Get("Retry-After"), x)
		}
	default:
		if e.RetryAfterSeconds != nil {
			return fmt.Errorf("retry_after_seconds on a %d: %s", x.status, x)
		}
	}
	key, valid := keyOf(headerValue(x.header.Get("Idempotency-Key")))
	switch {
	case valid && (e.RequestID == nil || *e.RequestID != key):
		return fmt.Errorf("request_id %v, want the request's key %q: %s", e.RequestID, key, x)
	case !valid && e.RequestID != nil:
		return fmt.Errorf("request_id %q, want null (no valid key): %s", *e.RequestID, x)
	}
	return nil
}

// must fails t with err, if any.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
