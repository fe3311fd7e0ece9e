package apiserver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/contracttest"
)

// defaultContractSeed makes the property test repeatable; CONTRACT_SEED=N explores another
// stream, and a failure prints the seed to rerun it.
const defaultContractSeed = 20261203

// TestContractProperties generates requests from openapi.yaml's own schemas (contracttest's
// generator: valid values, and variants each broken in one named way) and odd encodings of valid
// ones, sends them to the running API (real handler stack on a socket, real PostgreSQL, the SQS
// emulator) and checks that every answer is a status the operation documents and validates against
// the spec, that none is a 5xx, that a valid create reads back through GET, and that an accepted
// send is replayed and guarded as documented.
func TestContractProperties(t *testing.T) {
	seed := uint64(defaultContractSeed)
	if v := os.Getenv("CONTRACT_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		must(t, err)
		seed = n
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("rerun with CONTRACT_SEED=%d go test -run TestContractProperties ./api-svc/internal/apiserver", seed)
		}
	})
	spec, _, err := contracttest.Spec()
	must(t, err)
	s := startStack(t, withEnv("FAILURE_INJECTION_ENABLED", "true"))
	p := &properties{
		t: t, spec: spec, g: contracttest.NewGenerator(seed), s: s,
		// The timeout is a guard against a hang, not a measurement.
		c: &http.Client{Timeout: 30 * time.Second, Transport: keyed(http.DefaultTransport, s.Key)},
	}
	const rounds = 4 // each round draws new valid values around the same systematic variants
	for range rounds {
		p.createGift()
		p.createGiftEncodings()
		p.createGiftKeys()
		p.getGift()
		p.sendGift()
		p.clientCorrelationIDs()
	}
	p.undocumentedRoutes()
	t.Logf("contract cases: %d generated (%d valid, %d broken), %d more not sendable over HTTP/1.1; seed %d",
		p.valid+p.broken, p.valid, p.broken, p.unsendable, seed)
}

type properties struct {
	t    *testing.T
	spec *openapi3.T
	g    *contracttest.Generator
	s    *stack
	c    *http.Client

	created                   []uuid.UUID
	valid, broken, unsendable int
	failures                  int
}

func (p *properties) count(valid bool) {
	if valid {
		p.valid++
	} else {
		p.broken++
	}
}

// fail reports a broken property and goes on with the next case, up to 20 of them.
func (p *properties) fail(format string, args ...any) {
	p.t.Helper()
	p.t.Errorf(format, args...)
	if p.failures++; p.failures >= 20 {
		p.t.FailNow()
	}
}

func (p *properties) operation(path, method string) *openapi3.Operation {
	op := p.spec.Paths.Find(path).GetOperation(method)
	if op == nil {
		p.t.Fatalf("openapi.yaml has no %s %s", method, path)
	}
	return op
}

func (p *properties) parameter(op *openapi3.Operation, path, name string) *openapi3.Schema {
	params := slices.Concat(p.spec.Paths.Find(path).Parameters, op.Parameters)
	for _, ref := range params {
		if ref.Value.Name == name {
			return ref.Value.Schema.Value
		}
	}
	p.t.Fatalf("no parameter %s on %s", name, path)
	return nil
}

func marshal(t *testing.T, v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	must(t, enc.Encode(v))
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// postGift sends one create and checks the answer against judgeCreate; a 201 must read back.
func (p *properties) postGift(name, contentType string, body []byte, chunked bool) {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.s.URL+"/gifts", bytes.NewReader(body))
	must(p.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if chunked {
		req.ContentLength = -1                                              // sent with Transfer-Encoding: chunked
		req.Body = io.NopCloser(struct{ io.Reader }{bytes.NewReader(body)}) // no Len: no Content-Length
	}
	x, err := do(p.c, req)
	if err != nil {
		p.fail("%s: %v", name, err)
		return
	}
	v := judgeCreate(contentType, body)
	if err := checkDocumented(x, v.allowed...); err != nil {
		p.fail("createGift, %s: %v (contract: %s)", name, err, v.why)
		return
	}
	if x.status != http.StatusCreated {
		return
	}
	if err := readsBack(p.c, p.s.URL, x, v); err != nil {
		p.fail("createGift, %s: %v", name, err)
		return
	}
	var g struct {
		GiftID uuid.UUID `json:"gift_id"`
	}
	must(p.t, json.Unmarshal(x.body, &g))
	p.created = append(p.created, g.GiftID)
}

// createGift: valid bodies and every variant of CreateGiftRequest, as application/json.
func (p *properties) createGift() {
	schema := p.operation("/gifts", http.MethodPost).RequestBody.Value.Content.Get("application/json").Schema.Value
	var cases []contracttest.Variant
	for range 3 {
		v, err := p.g.Valid(schema)
		must(p.t, err)
		cases = append(cases, contracttest.Variant{Name: "a valid body", Value: v, Valid: true})
	}
	variants, err := p.g.Variants(schema)
	must(p.t, err)
	for _, v := range append(cases, variants...) {
		body := marshal(p.t, v.Value)
		// The generator knows by construction whether a value is valid; the oracle reads the
		// contract by hand. They must agree, or one of them misreads openapi.yaml.
		verdict := judgeCreate("application/json", body)
		if claims := slices.Equal(verdict.allowed, []int{http.StatusCreated}); claims != v.Valid {
			p.fail("generator and oracle disagree on %s %s: generator says valid=%v, oracle allows %v (%s)",
				v.Name, body, v.Valid, verdict.allowed, verdict.why)
		}
		p.count(v.Valid)
		p.postGift(v.Name, "application/json", body, false)
	}
}

// createGiftKeys: a valid body under every variant of the create's Idempotency-Key (and the
// quoted form of a valid one). An accepted key replays the same 201 for the same body, marked
// Idempotent-Replayed, and refuses another body with 422.
func (p *properties) createGiftKeys() {
	op := p.operation("/gifts", http.MethodPost)
	keySchema := p.parameter(op, "/gifts", "Idempotency-Key")
	bodySchema := op.RequestBody.Value.Content.Get("application/json").Schema.Value
	keys, err := p.g.StringEdges(keySchema)
	must(p.t, err)
	for range 2 {
		v, err := p.g.Valid(keySchema)
		must(p.t, err)
		keys = append(keys, contracttest.Variant{Name: "a valid key", Value: v, Valid: true})
	}
	quotable, err := p.g.Valid(keySchema)
	must(p.t, err)
	if q := strings.NewReplacer(`"`, "", `\`, "").Replace(contracttest.HeaderText(quotable)); q != "" && len(q) <= 253 {
		keys = append(keys, contracttest.Variant{Name: "a valid key in quoted form", Value: `"` + q + `"`, Valid: true})
	}
	for _, k := range keys {
		key := contracttest.HeaderText(k.Value)
		if !sendableHeader(key) {
			p.unsendable++
			continue
		}
		valid := k.Valid && validKey(headerValue(key)) // the quoted form's rule is in the description
		p.count(valid)
		value, err := p.g.Valid(bodySchema)
		must(p.t, err)
		body := marshal(p.t, value)
		allowed := []int{http.StatusBadRequest}
		if valid {
			allowed = []int{http.StatusCreated}
		}
		name := "createGift, Idempotency-Key " + k.Name
		first := p.postWithKey(key, body)
		if err := checkDocumented(first, allowed...); err != nil {
			p.fail("%s: %v", name, err)
			continue
		}
		if first.status != http.StatusCreated {
			continue
		}
		if first.respHeader.Get("Idempotent-Replayed") != "" {
			p.fail("%s: the first create is marked replayed: %s", name, first)
		}
		again := p.postWithKey(key, body)
		if err := checkDocumented(again, http.StatusCreated); err != nil || !bytes.Equal(again.body, first.body) ||
			again.respHeader.Get("Idempotent-Replayed") != "true" || again.respHeader.Get("Location") != first.respHeader.Get("Location") {
			p.fail("%s: retry of %s: %v: %s", name, first, err, again)
		}
		var other map[string]any
		must(p.t, json.Unmarshal(body, &other))
		other["amount"] = other["amount"].(float64) + 1
		if other["amount"].(float64) > math.MaxInt32 {
			other["amount"] = 1.0
		}
		if err := checkDocumented(p.postWithKey(key, marshal(p.t, other)), http.StatusUnprocessableEntity); err != nil {
			p.fail("%s: another body under the key: %v", name, err)
		}
	}
}

func (p *properties) postWithKey(key string, body []byte) exchange {
	req, err := http.NewRequest(http.MethodPost, p.s.URL+"/gifts", bytes.NewReader(body))
	must(p.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	x, err := do(p.c, req)
	must(p.t, err)
	return x
}

// createGiftEncodings: a valid body sent in odd ways, and odd JSON around valid values.
func (p *properties) createGiftEncodings() {
	schema := p.operation("/gifts", http.MethodPost).RequestBody.Value.Content.Get("application/json").Schema.Value
	base, err := p.g.Valid(schema)
	must(p.t, err)
	body := marshal(p.t, base)
	amount := base.(map[string]any)["amount"]
	const ct = "application/json"
	padded := func(n int) []byte { return append(bytes.Clone(body), bytes.Repeat([]byte(" "), n-len(body))...) }
	for _, c := range []struct {
		name, contentType string
		body              []byte
		chunked           bool
	}{
		{"charset parameter", "application/json; charset=utf-8", body, false},
		{"upper-case media type", "Application/JSON", body, false},
		{"text/plain", "text/plain", body, false},
		{"application/xml", "application/xml", body, false},
		{"no content type", "", body, false},
		{"a JSON suffix type", "application/merge-patch+json", body, false},
		{"malformed media type", "application/json;0", body, false},
		{"chunked transfer encoding", ct, body, true},
		{"byte order mark", ct, append([]byte("\xef\xbb\xbf"), body...), false},
		{"blank around the document", ct, []byte("\n\t " + string(body) + " \r\n"), false},
		{"empty body", ct, nil, false},
		{"empty chunked body", ct, nil, true},
		{"blank body", ct, []byte("   "), false},
		{"null", ct, []byte("null"), false},
		{"two documents", ct, []byte(string(body) + string(body)), false},
		{"trailing comma", ct, []byte(fmt.Sprintf(`{"amount": %v,}`, amount)), false},
		{"repeated member", ct, []byte(fmt.Sprintf(`{"amount": 1, "amount": %v}`, amount)), false},
		{"repeated member, first valid", ct, []byte(fmt.Sprintf(`{"amount": %v, "amount": "x"}`, amount)), false},
		{"amount as 1.0", ct, []byte(`{"amount": 1.0}`), false},
		{"amount as 1E3", ct, []byte(`{"amount": 1E3}`), false},
		{"amount as -0", ct, []byte(`{"amount": -0}`), false},
		{"amount with a huge exponent", ct, []byte(`{"amount": 1e400}`), false},
		{"amount nested deep", ct, []byte(`{"amount": ` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`), false},
		{"invalid UTF-8 in the message", ct, []byte(fmt.Sprintf("{\"amount\": %v, \"message\": \"ab\xffcd\"}", amount)), false},
		{"overlong UTF-8 encoding", ct, []byte(fmt.Sprintf("{\"amount\": %v, \"message\": \"\xc0\xaf\"}", amount)), false},
		{"escaped characters", ct, []byte(fmt.Sprintf(`{"amount": %v, "message": "\u3042\"\\\/\n\ud83c\udf81"}`, amount)), false},
		{"a lone surrogate escape", ct, []byte(fmt.Sprintf(`{"amount": %v, "message": "\ud800"}`, amount)), false},
		{"a NUL character", ct, []byte(fmt.Sprintf(`{"amount": %v, "message": "a\u0000b"}`, amount)), false},
		{"exactly 16 KiB", ct, padded(maxBodyBytes), false},
		{"one byte over 16 KiB", ct, padded(maxBodyBytes + 1), false},
		{"over 16 KiB, chunked", ct, padded(maxBodyBytes + 100), true},
	} {
		v := judgeCreate(c.contentType, c.body)
		p.count(slices.Contains(v.allowed, http.StatusCreated))
		p.postGift(c.name, c.contentType, c.body, c.chunked)
	}
}

// idCase is a gift_id path value: of renders it for the gift the case may name (a created gift,
// for the cases that name one).
type idCase struct {
	name         string
	valid, found bool
	of           func(existing uuid.UUID) string
}

// giftIDs: path parameter values from the GiftID schema: a created gift (as is and upper-case),
// an unknown one, and the schema's variants.
func (p *properties) giftIDs(schema *openapi3.Schema) []idCase {
	unknown := uuid.NewString()
	out := []idCase{
		{"a created gift", true, true, uuid.UUID.String},
		{"upper-case id of a created gift", true, true, func(id uuid.UUID) string { return strings.ToUpper(id.String()) }},
		{"an unknown gift", true, false, func(uuid.UUID) string { return unknown }},
	}
	edges, err := p.g.StringEdges(schema)
	must(p.t, err)
	for _, e := range edges {
		text := contracttest.HeaderText(e.Value)
		out = append(out, idCase{e.Name, e.Valid, false, func(uuid.UUID) string { return text }})
	}
	return out
}

func (p *properties) newGift() uuid.UUID {
	req, err := http.NewRequest(http.MethodPost, p.s.URL+"/gifts", strings.NewReader(`{"amount": 100}`))
	must(p.t, err)
	req.Header.Set("Content-Type", "application/json")
	x, err := do(p.c, req)
	must(p.t, err)
	must(p.t, checkDocumented(x, http.StatusCreated))
	var g struct {
		GiftID uuid.UUID `json:"gift_id"`
	}
	must(p.t, json.Unmarshal(x.body, &g))
	return g.GiftID
}

// getGift: GET /gifts/{gift_id} for each generated id.
func (p *properties) getGift() {
	op := p.operation("/gifts/{gift_id}", http.MethodGet)
	existing := p.newGift()
	if len(p.created) > 0 {
		existing = p.created[p.g.Intn(len(p.created))]
	}
	for _, id := range p.giftIDs(p.parameter(op, "/gifts/{gift_id}", "gift_id")) {
		allowed := []int{http.StatusBadRequest, http.StatusNotFound} // a malformed id may not even route
		switch {
		case id.valid && id.found:
			allowed = []int{http.StatusOK}
		case id.valid:
			allowed = []int{http.StatusNotFound}
		}
		p.count(id.valid)
		req, err := http.NewRequest(http.MethodGet, p.s.URL+"/gifts/"+url.PathEscape(id.of(existing)), nil)
		must(p.t, err)
		withStrayBody(req, p.g.Intn)
		x, err := do(p.c, req)
		if err != nil {
			p.fail("getGift, %s: %v", id.name, err)
			continue
		}
		if err := checkDocumented(x, allowed...); err != nil {
			p.fail("getGift, %s: %v", id.name, err)
		}
		if x.status == http.StatusOK && x.respHeader.Get("Retry-After") != "" { // the gifts read here are CREATED
			p.fail("getGift, %s: Retry-After %q on a gift that is not QUEUED", id.name, x.respHeader.Get("Retry-After"))
		}
	}
}

// clientCorrelationIDs: a Correlation-Id sent by the client (values of the header's own schema,
// valid or broken) changes nothing in the answer and is never the response's id.
func (p *properties) clientCorrelationIDs() {
	schema := p.spec.Components.Headers["CorrelationId"].Value.Schema.Value
	variants, err := p.g.StringEdges(schema)
	must(p.t, err)
	v, err := p.g.Valid(schema)
	must(p.t, err)
	variants = append(variants, contracttest.Variant{Name: "a valid id", Value: v, Valid: true})
	existing := p.newGift()
	for _, c := range variants {
		theirs := contracttest.HeaderText(c.Value)
		if !sendableHeader(theirs) {
			p.unsendable++
			continue
		}
		p.count(true) // any value is accepted: the header is not a parameter of any operation
		req, err := http.NewRequest(http.MethodGet, p.s.URL+"/gifts/"+existing.String(), nil)
		must(p.t, err)
		req.Header.Set("Correlation-Id", theirs)
		x, err := do(p.c, req)
		if err != nil {
			p.fail("client Correlation-Id %s: %v", c.Name, err)
			continue
		}
		if err := checkDocumented(x, http.StatusOK); err != nil {
			p.fail("client Correlation-Id %s: %v", c.Name, err)
		} else if x.respHeader.Get("Correlation-Id") == theirs {
			p.fail("client Correlation-Id %s: the client's %q was taken as the request's id", c.Name, theirs)
		}
	}
}

// sendGift: POST /gifts/{gift_id}/send with each Idempotency-Key variant, each X-Force-Failure
// variant under a valid key, and each gift id variant. An accepted send must replay as 200 with
// the same body, refuse a second key with 409, and leave the gift QUEUED.
func (p *properties) sendGift() {
	const path = "/gifts/{gift_id}/send"
	op := p.operation(path, http.MethodPost)
	keySchema := p.parameter(op, path, "Idempotency-Key")
	forceSchema := p.parameter(op, path, "X-Force-Failure")

	type sendCase struct {
		name           string
		key, force     *string
		keyOK, forceOK bool
	}
	str := func(s string) *string { return &s }
	validKeyValue := func() string {
		v, err := p.g.Valid(keySchema)
		must(p.t, err)
		return contracttest.HeaderText(v)
	}
	cases := []sendCase{{name: "no Idempotency-Key", keyOK: false, forceOK: true}}
	keys, err := p.g.StringEdges(keySchema)
	must(p.t, err)
	keys = append(keys, contracttest.Variant{Name: "a valid key", Value: validKeyValue(), Valid: true})
	for _, k := range keys {
		v := contracttest.HeaderText(k.Value)
		// The quoted form's rule is in the parameter's description, not its schema.
		cases = append(cases, sendCase{name: "Idempotency-Key " + k.Name, key: str(v), keyOK: k.Valid && validKey(v), forceOK: true})
	}
	forces, err := p.g.Variants(forceSchema)
	must(p.t, err)
	forces = append(forces, contracttest.Variant{Name: "true", Value: true, Valid: true}, contracttest.Variant{Name: "false", Value: false, Valid: true})
	for _, f := range forces {
		cases = append(cases, sendCase{name: "X-Force-Failure " + f.Name, key: str(validKeyValue()), force: str(contracttest.HeaderText(f.Value)), keyOK: true, forceOK: f.Valid})
	}

	spare := p.newGift()
	for _, c := range cases {
		if (c.key != nil && !sendableHeader(*c.key)) || (c.force != nil && !sendableHeader(*c.force)) {
			p.unsendable++
			continue
		}
		p.count(c.keyOK && c.forceOK)
		header := http.Header{}
		if c.key != nil {
			header.Set("Idempotency-Key", *c.key)
		}
		if c.force != nil {
			header.Set("X-Force-Failure", *c.force)
		}
		allowed := []int{http.StatusBadRequest}
		if c.keyOK && c.forceOK {
			allowed = []int{http.StatusAccepted}
		}
		x := p.send(spare.String(), header)
		if x.status == http.StatusAccepted {
			p.checkAccepted(c.name, spare, header, x)
			spare = p.newGift()
		}
		if err := checkDocumented(x, allowed...); err != nil {
			p.fail("sendGift, %s: %v", c.name, err)
		}
	}

	// The gift id under a valid key.
	for _, id := range p.giftIDs(p.parameter(op, path, "gift_id")) {
		allowed := []int{http.StatusBadRequest, http.StatusNotFound}
		switch {
		case id.valid && id.found:
			allowed = []int{http.StatusAccepted}
		case id.valid:
			allowed = []int{http.StatusNotFound}
		}
		p.count(id.valid)
		header := http.Header{"Idempotency-Key": {validKeyValue()}}
		x := p.send(url.PathEscape(id.of(spare)), header)
		if x.status == http.StatusAccepted {
			p.checkAccepted("gift id "+id.name, spare, header, x)
			spare = p.newGift()
		}
		if err := checkDocumented(x, allowed...); err != nil {
			p.fail("sendGift, gift id %s: %v", id.name, err)
		}
	}
}

func (p *properties) send(id string, header http.Header) exchange {
	req, err := http.NewRequest(http.MethodPost, p.s.URL+"/gifts/"+id+"/send", nil)
	must(p.t, err)
	req.Header = header.Clone()
	withStrayBody(req, p.g.Intn)
	x, err := do(p.c, req)
	must(p.t, err)
	return x
}

// checkAccepted: the replay is 200 with the same bytes, another key is a 409, the gift is QUEUED.
// The 202 and the replay point at the gift (Location) with a Retry-After, and each has its own
// correlation id; the QUEUED gift's read has a Retry-After.
func (p *properties) checkAccepted(name string, id uuid.UUID, header http.Header, first exchange) {
	replay := p.send(id.String(), header)
	if err := checkDocumented(replay, http.StatusOK); err != nil || !bytes.Equal(replay.body, first.body) {
		p.fail("sendGift, %s: replay of %s: %v: %s", name, first, err, replay)
	}
	for _, x := range []exchange{first, replay} {
		if loc, after := x.respHeader.Get("Location"), x.respHeader.Get("Retry-After"); loc != "/gifts/"+id.String() || after == "" {
			p.fail("sendGift, %s: %d with Location %q, Retry-After %q; want /gifts/%s and a delay", name, x.status, loc, after, id)
		}
	}
	if first.respHeader.Get("Correlation-Id") == replay.respHeader.Get("Correlation-Id") {
		p.fail("sendGift, %s: the replay has the first answer's Correlation-Id %q, want its own", name, first.respHeader.Get("Correlation-Id"))
	}
	other := http.Header{"Idempotency-Key": {otherKey(headerValue(header.Get("Idempotency-Key")))}}
	if err := checkDocumented(p.send(id.String(), other), http.StatusConflict); err != nil {
		p.fail("sendGift, %s: a second key: %v", name, err)
	}
	req, err := http.NewRequest(http.MethodGet, p.s.URL+"/gifts/"+id.String(), nil)
	must(p.t, err)
	x, err := do(p.c, req)
	must(p.t, err)
	var g struct {
		Status string `json:"status"`
	}
	if err := checkDocumented(x, http.StatusOK); err != nil || json.Unmarshal(x.body, &g) != nil || g.Status != "QUEUED" {
		p.fail("sendGift, %s: gift after the send: %v: %s", name, err, x)
	} else if x.respHeader.Get("Retry-After") == "" {
		p.fail("sendGift, %s: the QUEUED gift's read has no Retry-After: %s", name, x)
	}
}

// undocumentedRoutes: every method a path does not define is a 405 naming the ones it does;
// an unknown path is a 404; the probes answer as documented.
func (p *properties) undocumentedRoutes() {
	id := p.newGift().String()
	for _, path := range p.spec.Paths.InMatchingOrder() {
		item := p.spec.Paths.Value(path)
		concrete := strings.ReplaceAll(path, "{gift_id}", id)
		var defined []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if item.GetOperation(m) != nil {
				defined = append(defined, m)
			}
		}
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
			if slices.Contains(defined, m) {
				continue
			}
			p.count(false)
			req, err := http.NewRequest(m, p.s.URL+concrete, nil)
			must(p.t, err)
			x, err := do(p.c, req)
			must(p.t, err)
			if err := checkDocumented(x, http.StatusMethodNotAllowed); err != nil {
				p.fail("%s %s: %v", m, path, err)
			} else if allow := x.respHeader.Get("Allow"); allow != strings.Join(defined, ", ") {
				p.fail("%s %s: Allow %q, want %q", m, path, allow, strings.Join(defined, ", "))
			}
		}
	}
	for _, path := range []string{"/", "/gift", "/gifts/" + id + "/sent", "/gifts/" + id + "/send/x", "/healthz/x"} {
		p.count(false)
		req, err := http.NewRequest(http.MethodGet, p.s.URL+path, nil)
		must(p.t, err)
		x, err := do(p.c, req)
		must(p.t, err)
		if err := checkDocumented(x, http.StatusNotFound, http.StatusMethodNotAllowed); err != nil {
			p.fail("GET %s: %v", path, err)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		p.count(true)
		req, err := http.NewRequest(http.MethodGet, p.s.URL+path, nil)
		must(p.t, err)
		withStrayBody(req, p.g.Intn)
		x, err := do(p.c, req)
		must(p.t, err)
		if err := checkDocumented(x, http.StatusOK); err != nil {
			p.fail("GET %s: %v", path, err)
		}
	}
}
