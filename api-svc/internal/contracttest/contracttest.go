// Package contracttest holds the API's tests to openapi.yaml: an HTTP client that validates every
// response it receives against the spec (status documented, headers, body schema), so the server
// cannot drift from the contract its clients generate SDKs from.
package contracttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/correlation"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/giftclient"
	"github.com/gift-platform/ecs-sre-gift-worker/testkit/repo"
)

var (
	loadOnce sync.Once
	spec     *openapi3.T
	router   routers.Router
	loadErr  error
)

// Spec loads the repository's openapi.yaml (the file clients use, not the copy embedded in the
// server) and validates the document itself.
func Spec() (*openapi3.T, routers.Router, error) {
	loadOnce.Do(func() {
		root, err := repo.Root()
		if err != nil {
			loadErr = err
			return
		}
		loader := openapi3.NewLoader()
		spec, loadErr = loader.LoadFromFile(filepath.Join(root, "openapi.yaml"))
		if loadErr != nil {
			return
		}
		if loadErr = spec.Validate(context.Background()); loadErr != nil {
			return
		}
		spec.Servers = nil
		router, loadErr = gorillamux.NewRouter(spec)
	})
	return spec, router, loadErr
}

// Transport validates each response against the spec and fails t on any mismatch. Responses to
// requests no operation matches (unknown path or method) must still be the error envelope.
type Transport struct {
	T    testing.TB
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (v *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := v.Base
	if base == nil {
		base = http.DefaultTransport
	}
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	probe := req.Clone(context.Background())
	probe.Body = io.NopCloser(bytes.NewReader(reqBody))
	if err := ValidateResponse(probe, resp.StatusCode, resp.Header, body); err != nil {
		v.T.Errorf("contract violation: %s %s -> %d: %v\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
	return resp, nil
}

// ValidateResponse checks one response against openapi.yaml, and that it carries its correlation
// id (validateCorrelation), documented or not.
func ValidateResponse(req *http.Request, status int, header http.Header, body []byte) error {
	spec, router, err := Spec()
	if err != nil {
		return fmt.Errorf("load openapi.yaml: %w", err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
			return errors.Join(validateEnvelope(spec, header, body), validateCorrelation(header, body))
		}
		return err
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			SchemaValidationOptions: SchemaOptions()},
	}
	input.SetBodyBytes(body)
	return errors.Join(openapi3filter.ValidateResponse(context.Background(), input), validateCorrelation(header, body))
}

// validateCorrelation checks what every response carries whatever its status: one Correlation-Id
// header with an id, and, in an error envelope, the same id as correlation_id.
func validateCorrelation(header http.Header, body []byte) error {
	ids := header.Values(correlation.Header)
	if len(ids) != 1 || !correlation.Plausible(ids[0]) {
		return fmt.Errorf("%s header %q, want exactly one id", correlation.Header, ids)
	}
	var envelope struct {
		Error         json.RawMessage `json:"error"`
		CorrelationID *string         `json:"correlation_id"`
	}
	if json.Unmarshal(body, &envelope) != nil || envelope.Error == nil {
		return nil // not an error envelope
	}
	if envelope.CorrelationID == nil || *envelope.CorrelationID != ids[0] {
		return fmt.Errorf("error envelope's correlation_id %v, want the %s header's %q", envelope.CorrelationID, correlation.Header, ids[0])
	}
	return nil
}

func validateEnvelope(spec *openapi3.T, header http.Header, body []byte) error {
	if ct := header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("Content-Type %q, want application/json", ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	return spec.Components.Schemas["Error"].Value.VisitJSON(v, SchemaOptions()...)
}

// SchemaOptions are the schema checks beyond kin-openapi's defaults that the spec relies on:
// format uuid (ids are UUIDv7, RFC 9562), which kin-openapi leaves unchecked unless asked.
func SchemaOptions() []openapi3.SchemaValidationOption {
	return []openapi3.SchemaValidationOption{
		openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)),
	}
}

// NewClient returns the generated client for baseURL with every response validated.
func NewClient(t testing.TB, baseURL string) *giftclient.ClientWithResponses {
	t.Helper()
	c, err := giftclient.NewClientWithResponses(baseURL, giftclient.WithHTTPClient(HTTPClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// HTTPClient is a plain http.Client whose responses are validated, for requests the generated
// client cannot make (malformed ones).
func HTTPClient(t testing.TB) *http.Client {
	return &http.Client{Transport: &Transport{T: t}}
}
