package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

// apiError is an error already decided to be a given HTTP status and code, with a message that is
// safe to show to clients.
type apiError struct {
	status  int
	code    ErrorErrorCode
	message string
	// retryAfter, when set (a 429), is the seconds to wait: the Retry-After header and the
	// envelope's retry_after_seconds.
	retryAfter int
}

func (e *apiError) Error() string { return e.message }

// statusByCode is the HTTP status of each error code of the contract (the Error schema's enum in
// openapi.yaml), as its responses document them; TestErrorCodesMapToTheirDocumentedStatus holds
// the two together.
var statusByCode = map[ErrorErrorCode]int{
	VALIDATIONERROR:      http.StatusBadRequest,
	UNAUTHENTICATED:      http.StatusUnauthorized,
	APIKEYINVALID:        http.StatusUnauthorized,
	RATELIMITED:          http.StatusTooManyRequests,
	NOTFOUND:             http.StatusNotFound,
	METHODNOTALLOWED:     http.StatusMethodNotAllowed,
	CONFLICT:             http.StatusConflict,
	codeKeyReused:        http.StatusUnprocessableEntity,
	PAYLOADTOOLARGE:      http.StatusRequestEntityTooLarge,
	UNSUPPORTEDMEDIATYPE: http.StatusUnsupportedMediaType,
	INTERNALERROR:        http.StatusInternalServerError,
	SERVICEUNAVAILABLE:   http.StatusServiceUnavailable,
}

// codeKeyReused is the code of the 422 of an idempotent create. openapi.yaml gives its envelope a
// schema of its own (IdempotencyKeyReusedError, same shape as Error), so that the Error schema's
// list of codes stays as it was for clients that switch over it.
const codeKeyReused = ErrorErrorCode(IDEMPOTENCYKEYREUSED)

// codeByKind is the error code of each kind of domain error.
var codeByKind = map[gift.Kind]ErrorErrorCode{
	gift.KindInvalid:     VALIDATIONERROR,
	gift.KindNotFound:    NOTFOUND,
	gift.KindConflict:    CONFLICT,
	gift.KindKeyReused:   codeKeyReused,
	gift.KindUnavailable: SERVICEUNAVAILABLE,
}

// newAPIError is the error code with its documented status (statusByCode).
func newAPIError(code ErrorErrorCode, message string) *apiError {
	status, ok := statusByCode[code]
	if !ok {
		status, code = http.StatusInternalServerError, INTERNALERROR
	}
	return &apiError{status: status, code: code, message: message}
}

func validationError(format string, args ...any) error {
	if len(args) == 0 {
		return newAPIError(VALIDATIONERROR, format)
	}
	return newAPIError(VALIDATIONERROR, fmt.Sprintf(format, args...))
}

// toAPIError is the one place that decides how an error looks to a client: domain errors by kind
// (codeByKind), request-validation and binding errors as 400/404/405 (413 and 415 are decided by
// the body limit, by size and by our own media-type check, before any validator sees the body),
// everything else as a 500 whose message says nothing about the cause.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var de *gift.Error
	if errors.As(err, &de) {
		if code, ok := codeByKind[de.Kind]; ok {
			if de.Kind == gift.KindUnavailable {
				return newAPIError(code, gift.ErrUnavailable.Message) // the cause stays in the log
			}
			return newAPIError(code, de.Message)
		}
	}
	if errors.Is(err, routers.ErrMethodNotAllowed) {
		return newAPIError(METHODNOTALLOWED, "method not allowed on this path")
	}
	if errors.Is(err, routers.ErrPathNotFound) {
		return newAPIError(NOTFOUND, "no such path")
	}
	var reqErr *openapi3filter.RequestError
	if errors.As(err, &reqErr) {
		return newAPIError(VALIDATIONERROR, describeRequestError(reqErr))
	}
	var formatErr *InvalidParamFormatError
	if errors.As(err, &formatErr) {
		if formatErr.ParamName == "gift_id" {
			return newAPIError(VALIDATIONERROR, "path parameter gift_id must be a UUID")
		}
		return newAPIError(VALIDATIONERROR, fmt.Sprintf("parameter %s has an invalid value", formatErr.ParamName))
	}
	var (
		requiredHeader *RequiredHeaderError
		requiredParam  *RequiredParamError
		tooMany        *TooManyValuesForParamError
		unmarshal      *UnmarshalingParamError
	)
	if errors.As(err, &requiredHeader) || errors.As(err, &requiredParam) || errors.As(err, &tooMany) || errors.As(err, &unmarshal) {
		return newAPIError(VALIDATIONERROR, err.Error())
	}
	if errors.Is(err, errBodyDecode) {
		return newAPIError(VALIDATIONERROR, err.Error())
	}
	return newAPIError(INTERNALERROR, "internal error")
}

// describeRequestError turns a kin-openapi validation error into one readable line, without the
// schema dump kin-openapi puts in Error().
func describeRequestError(e *openapi3filter.RequestError) string {
	where := "request"
	switch {
	case e.Parameter != nil && e.Parameter.Name == "Idempotency-Key" && e.Input != nil:
		if _, err := gift.ParseIdempotencyKey(e.Input.Request.Header.Get("Idempotency-Key")); err != nil {
			return err.Error()
		}
		where = "header parameter Idempotency-Key"
	case e.Parameter != nil:
		where = fmt.Sprintf("%s parameter %s", e.Parameter.In, e.Parameter.Name)
	case e.RequestBody != nil:
		where = "request body"
	}
	var schemaErr *openapi3.SchemaError
	if errors.As(e.Err, &schemaErr) {
		if ptr := schemaErr.JSONPointer(); len(ptr) > 0 {
			return fmt.Sprintf("%s: %s: %s", where, strings.Join(ptr, "."), schemaErr.Reason)
		}
		return fmt.Sprintf("%s: %s", where, schemaErr.Reason)
	}
	if e.Err != nil {
		var parseErr *openapi3filter.ParseError
		if errors.As(e.Err, &parseErr) {
			return fmt.Sprintf("%s: %s", where, parseErr.Reason)
		}
		if detail := firstLine(e.Err.Error()); e.Reason != "" && e.Reason != detail {
			return fmt.Sprintf("%s: %s: %s", where, e.Reason, detail)
		}
		return fmt.Sprintf("%s: %s", where, firstLine(e.Err.Error()))
	}
	return fmt.Sprintf("%s: %s", where, e.Reason)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// errBodyDecode marks a body that passed validation but could not be decoded into the Go type.
var errBodyDecode = errors.New("request body is not valid")

// writeError renders err as the documented envelope. request_id is the request's Idempotency-Key
// when it is a valid one (an invalid key is not echoed); correlation_id the request's own id. Every error path of the server ends here:
// the request validator, the generated parameter binding, the strict handler's request and
// response errors, the body limit, unknown routes and panics.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client went away (or the server is closing the connection): nobody reads an answer,
		// and the failure is not the server's. The access log records it as canceled.
		if f := fieldsFrom(r.Context()); f != nil {
			f.canceled = true
		}
		return
	}
	ae := toAPIError(err)
	if f := fieldsFrom(r.Context()); f != nil {
		f.errorCode, f.errorMessage = string(ae.code), ae.message
		if ae.status >= 500 {
			f.cause = err // logged by the access log, never sent to the client
		}
	}
	var body Error
	body.Error.Code = ae.code
	body.Error.Message = ae.message
	if key, err := gift.ParseIdempotencyKey(r.Header.Get("Idempotency-Key")); err == nil {
		body.RequestId = &key
	}
	if id := correlation.From(r.Context()); id != "" {
		body.CorrelationId = &id // the same as the Correlation-Id header (accessLog)
	}
	if ae.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if ae.retryAfter > 0 {
		body.RetryAfterSeconds = &ae.retryAfter
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	if ae.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", s.allowedMethods(r))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ae.status)
	_ = json.NewEncoder(w).Encode(body)
}
