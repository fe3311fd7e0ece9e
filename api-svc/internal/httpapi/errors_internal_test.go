package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/gifts"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/logging"
)

// Every error code of openapi.yaml maps to the status the spec documents for it: in the list of
// the description ("`CONFLICT` (409)") and in every response whose example carries the code.
func TestErrorCodesMapToTheirDocumentedStatus(t *testing.T) {
	spec, err := GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[ErrorErrorCode]int{}
	for _, m := range regexp.MustCompile("`([A-Z_]+)` \\((\\d{3})\\)").FindAllStringSubmatch(spec.Info.Description, -1) {
		documented[ErrorErrorCode(m[1])], _ = strconv.Atoi(m[2])
	}
	var enum []ErrorErrorCode
	for _, schema := range []string{"Error", "IdempotencyKeyReusedError"} { // the envelopes of error answers
		for _, v := range spec.Components.Schemas[schema].Value.Properties["error"].Value.Properties["code"].Value.Enum {
			enum = append(enum, ErrorErrorCode(v.(string)))
		}
	}
	if len(enum) == 0 || !slices.Equal(slices.Sorted(maps.Keys(documented)), slices.Sorted(slices.Values(enum))) {
		t.Fatalf("the description documents %v, the Error schema's enum is %v", documented, enum)
	}
	if !maps.Equal(statusByCode, documented) {
		t.Errorf("statusByCode = %v, the spec documents %v", statusByCode, documented)
	}
	examples := 0
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			for status, ref := range op.Responses.Map() {
				mt := ref.Value.Content.Get("application/json")
				if mt == nil || mt.Example == nil {
					continue
				}
				body, _ := json.Marshal(mt.Example)
				var e Error
				if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
					continue
				}
				examples++
				if want, _ := strconv.Atoi(status); statusByCode[e.Error.Code] != want {
					t.Errorf("%s %s answers %s with %s, statusByCode says %d", method, path, status, e.Error.Code, statusByCode[e.Error.Code])
				}
			}
		}
	}
	if examples == 0 {
		t.Error("no error example found in the spec's responses")
	}
}

// Each kind of failure is rendered through the table: its code and that code's status.
func TestErrorsRenderThroughTheTable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code ErrorErrorCode
	}{
		{gift.Invalidf("amount must be positive"), VALIDATIONERROR},
		{gift.ErrNotFound, NOTFOUND},
		{gift.ErrAlreadyTerminal, CONFLICT},
		{gift.Unavailable(errors.New("dial tcp: refused")), SERVICEUNAVAILABLE},
		{fmt.Errorf("find route: %w", routers.ErrMethodNotAllowed), METHODNOTALLOWED},
		{routers.ErrPathNotFound, NOTFOUND},
		{&InvalidParamFormatError{ParamName: "gift_id", Err: errors.New("bad")}, VALIDATIONERROR},
		{errors.New("a bug"), INTERNALERROR},
	} {
		ae := toAPIError(tc.err)
		if ae.code != tc.code || ae.status != statusByCode[tc.code] {
			t.Errorf("%v: %d %s, want %d %s", tc.err, ae.status, ae.code, statusByCode[tc.code], tc.code)
		}
	}
	for kind, code := range codeByKind {
		if ae := toAPIError(&gift.Error{Kind: kind, Message: "m"}); ae.code != code || ae.status == http.StatusInternalServerError {
			t.Errorf("kind %v: %d %s, want %s", kind, ae.status, ae.code, code)
		}
	}
}

// The 415 is our own media-type check (limitBody), not a validator's message: any body that is
// not application/json is refused with it, on the one operation that reads a body.
func TestUnsupportedMediaTypeIsOurOwnCheck(t *testing.T) {
	log := logging.New(&strings.Builder{}, "api", 0)
	h, err := NewHandler(withTestAuth(Options{
		Gifts: gifts.NewService(createStore{}, nil, log),
		Ready: func(context.Context) error { return nil }, Log: log, MaxBodyBytes: 16 << 10,
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		contentType string
		status      int
	}{
		{"text/plain", 415}, {"", 415}, {"application/json;0", 415}, {"application/x-www-form-urlencoded", 415},
		{"application/json", 201}, {"application/json; charset=utf-8", 201},
	} {
		r := httptest.NewRequest(http.MethodPost, "/gifts", strings.NewReader(`{"amount":1}`))
		authorize(r)
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var e Error
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != tc.status || (tc.status == 415 && e.Error.Code != UNSUPPORTEDMEDIATYPE) {
			t.Errorf("Content-Type %q: %d %s, want %d", tc.contentType, w.Code, w.Body, tc.status)
		}
	}
}

// The body checks agree with the schemas of openapi.yaml: every operation with a request body
// has one, and for each body below it accepts exactly what kin-openapi's schema validation
// accepts (and whose value fits the generated Go type).
func TestBodyChecksAgreeWithTheSchema(t *testing.T) {
	spec, err := GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	var schema *openapi3.Schema
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			if _, ok := bodyCheckers[op.OperationID]; !ok {
				t.Errorf("operation %s has a request body and no bodyChecker", op.OperationID)
			}
			if op.OperationID == "CreateGift" {
				schema = op.RequestBody.Value.Content.Get("application/json").Schema.Value
			}
		}
	}
	if schema == nil {
		t.Fatal("no CreateGift body schema in the spec")
	}
	for _, body := range []string{
		`{"amount":1}`, `{"amount":2147483647}`, `{"amount":0}`, `{"amount":-1}`, `{"amount":2147483648}`,
		`{"amount":1.5}`, `{"amount":"1"}`, `{"amount":null}`, `{"amount":true}`, `{"amount":[1]}`,
		`{"amount":1,"message":"hi"}`, `{"amount":1,"message":""}`, `{"amount":1,"message":null}`, `{"amount":1,"message":5}`,
		`{"amount":1,"message":"` + strings.Repeat("あ", 500) + `"}`, `{"amount":1,"message":"` + strings.Repeat("あ", 501) + `"}`,
		`{"amount":1,"message":"\ud83c\udf81"}`, `{"message":"hi"}`, `{}`, `{"amount":1,"currency":"JPY"}`, `{"Amount":1}`,
		`{"amount":1,"amount":2}`, `[1]`, `null`, `1`, `"x"`,
	} {
		_, ourErr := decodeCreateGift([]byte(body))
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		schemaErr := schema.VisitJSON(v, openapi3.VisitAsRequest())
		if schemaErr == nil { // the generated type is int32: a whole number in range only
			schemaErr = json.Unmarshal([]byte(body), new(CreateGiftRequest))
		}
		if (ourErr == nil) != (schemaErr == nil) {
			t.Errorf("%s: our check says %v, the schema says %v", body, ourErr, schemaErr)
		}
		if ourErr != nil && toAPIError(ourErr).status != http.StatusBadRequest {
			t.Errorf("%s: refused with %v, want a 400", body, ourErr)
		}
	}
}
