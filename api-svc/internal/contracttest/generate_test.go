package contracttest_test

import (
	"encoding/json"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gift-platform/ecs-sre-gift-worker/api-svc/internal/contracttest"
)

// The generator marks values valid or not by how it made them; kin-openapi's schema validator
// (with the checks contracttest adds), an independent reading of the same schemas, must agree on
// every one.
func TestGeneratorAgreesWithTheSchemaValidator(t *testing.T) {
	spec, _, err := contracttest.Spec()
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]*openapi3.Schema{}
	for name, ref := range spec.Components.Schemas {
		schemas[name] = ref.Value
	}
	for _, p := range spec.Paths.Find("/gifts/{gift_id}/send").Post.Parameters {
		schemas["parameter "+p.Value.Name] = p.Value.Schema.Value
	}
	g := contracttest.NewGenerator(1)
	for name, s := range schemas {
		valid, err := g.Valid(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		variants, err := g.Variants(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, v := range append(variants, contracttest.Variant{Name: "valid", Value: valid, Valid: true}) {
			b, err := json.Marshal(v.Value)
			if err != nil {
				t.Fatalf("%s, %s: %v", name, v.Name, err)
			}
			var decoded any
			accepted := json.Unmarshal(b, &decoded) == nil && s.VisitJSON(decoded, contracttest.SchemaOptions()...) == nil
			if accepted != v.Valid {
				t.Errorf("%s, %s: %s: generator says valid=%v, kin-openapi %v", name, v.Name, b, v.Valid, accepted)
			}
		}
	}
}
