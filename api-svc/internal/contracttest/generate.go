package contracttest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
)

// Variant is one value generated from a schema, with whether the schema accepts it (by how it was
// made, not by asking a validator) and how it was made.
type Variant struct {
	Name  string
	Value any
	Valid bool
}

// Raw is JSON text used as is, for values Go cannot hold (a number beyond float64).
type Raw string

// MarshalJSON implements json.Marshaler.
func (r Raw) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// Generator makes values from OpenAPI schemas: valid ones, and variants broken in one named way
// each (a wrong type, a missing required property, an extra one, a value just past a bound, a
// character just outside a pattern). It is deterministic for a seed.
type Generator struct {
	r *rand.Rand
}

// NewGenerator returns a generator seeded with seed.
func NewGenerator(seed uint64) *Generator {
	return &Generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} //nolint:gosec // G404: test values, reproducible from a seed on purpose; no secret

}

// Intn returns a number in [0, n), from the generator's stream.
func (g *Generator) Intn(n int) int { return g.r.IntN(n) }

// sample runes for free text: ASCII, Japanese, an emoji outside the BMP, a combining mark.
var textRunes = []rune("abcXYZ019 -_.!?あいう漢字ー🎁é\u0301")

// Valid returns a value s accepts.
func (g *Generator) Valid(s *openapi3.Schema) (any, error) {
	if len(s.Enum) > 0 {
		return s.Enum[g.r.IntN(len(s.Enum))], nil
	}
	switch {
	case s.Type.Is(openapi3.TypeInteger):
		lo, hi := intBounds(s)
		if hi-lo > 1<<20 && g.r.IntN(2) == 0 {
			hi = lo + 1<<20 // small values half the time: they are the common case
		}
		return lo + g.r.Int64N(hi-lo+1), nil
	case s.Type.Is(openapi3.TypeNumber):
		return g.r.Float64() * 1000, nil
	case s.Type.Is(openapi3.TypeBoolean):
		return g.r.IntN(2) == 0, nil
	case s.Type.Is(openapi3.TypeString):
		return g.validString(s, -1)
	case s.Type.Is(openapi3.TypeArray):
		out := []any{} // an empty array, never null
		for range g.r.IntN(3) {
			v, err := g.Valid(s.Items.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case s.Type.Is(openapi3.TypeObject):
		obj := map[string]any{}
		for _, name := range sortedKeys(s.Properties) {
			if !slices.Contains(s.Required, name) && g.r.IntN(2) == 0 {
				continue
			}
			v, err := g.Valid(s.Properties[name].Value)
			if err != nil {
				return nil, fmt.Errorf("property %s: %w", name, err)
			}
			obj[name] = v
		}
		return obj, nil
	}
	return nil, fmt.Errorf("schema type %v is not supported", s.Type)
}

// Variants returns values at and past every constraint of s, and of every other JSON type,
// each marked valid or not. For an object, each variant changes one thing of a valid object.
func (g *Generator) Variants(s *openapi3.Schema) ([]Variant, error) {
	var out []Variant
	// Every JSON type s is not: null is valid only where nullable; an integer is a number.
	for _, w := range []struct {
		typ   string
		value any
	}{{"null", nil}, {openapi3.TypeBoolean, true}, {openapi3.TypeString, "7"}, {openapi3.TypeInteger, 7},
		{openapi3.TypeNumber, 7.5}, {openapi3.TypeArray, []any{}}, {openapi3.TypeObject, map[string]any{}}} {
		switch {
		case w.typ == "null":
			out = append(out, Variant{"null", nil, s.Nullable})
		case s.Type.Is(w.typ), w.typ == openapi3.TypeInteger && s.Type.Is(openapi3.TypeNumber):
		default:
			out = append(out, Variant{"a " + w.typ + " instead of " + strings.Join(s.Type.Slice(), "|"), w.value, false})
		}
	}
	if len(s.Enum) > 0 {
		for _, e := range s.Enum {
			out = append(out, Variant{fmt.Sprintf("enum value %v", e), e, true})
		}
		out = append(out, Variant{"a value outside the enum", "NOT_IN_ENUM", false})
	}
	switch {
	case s.Type.Is(openapi3.TypeInteger):
		out = append(out, g.integerEdges(s)...)
	case s.Type.Is(openapi3.TypeString) && len(s.Enum) == 0:
		edges, err := g.StringEdges(s)
		if err != nil {
			return nil, err
		}
		out = append(out, edges...)
	case s.Type.Is(openapi3.TypeObject):
		objs, err := g.objectVariants(s)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

func intBounds(s *openapi3.Schema) (lo, hi int64) {
	lo, hi = -1<<40, 1<<40 // no bound given: wide enough, and no overflow below
	if s.Format == "int32" {
		lo, hi = math.MinInt32, math.MaxInt32
	}
	if s.Min != nil {
		lo = int64(*s.Min)
	}
	if s.Max != nil {
		hi = int64(*s.Max)
	}
	return lo, hi
}

func (g *Generator) integerEdges(s *openapi3.Schema) []Variant {
	lo, hi := intBounds(s)
	out := []Variant{
		{"zero", int64(0), lo <= 0 && 0 <= hi},
		{"minus one", int64(-1), lo <= -1 && -1 <= hi},
		{"a fraction", 1.5, false},
	}
	if s.Min != nil {
		out = append(out, Variant{"the minimum", lo, true}, Variant{"one below the minimum", lo - 1, false})
	}
	if s.Max != nil {
		out = append(out, Variant{"the maximum", hi, true}, Variant{"one above the maximum", hi + 1, false},
			Variant{"a number past int64", Raw("99999999999999999999999999"), false},
			Variant{"a number past float64", Raw("1e400"), false})
	}
	return out
}

// StringEdges returns strings at and past s's length bounds (in characters, with multi-byte
// ones), at and just outside each range of its pattern, and broken formats.
func (g *Generator) StringEdges(s *openapi3.Schema) ([]Variant, error) {
	var out []Variant
	maxLen := -1
	if s.MaxLength != nil {
		maxLen = length(*s.MaxLength)
	}
	minLen := length(s.MinLength)
	valid := func(str string) bool {
		n := utf8.RuneCountInString(str)
		if n < minLen || (maxLen >= 0 && n > maxLen) {
			return false
		}
		if s.Pattern != "" && !regexp.MustCompile(s.Pattern).MatchString(str) {
			return false
		}
		return s.Format != "uuid" || isUUID(str)
	}
	var lengths []int
	if minLen > 0 || maxLen >= 0 {
		lengths = append(lengths, minLen, minLen+1)
	}
	if minLen > 0 {
		lengths = append(lengths, minLen-1)
	}
	if maxLen >= 0 {
		lengths = append(lengths, maxLen, maxLen+1)
	}
	for _, n := range lengths {
		str, err := g.validString(s, n)
		if err != nil {
			return nil, err
		}
		out = append(out, Variant{fmt.Sprintf("%d characters", utf8.RuneCountInString(str)), str, valid(str)})
		if s.Pattern == "" && s.Format == "" {
			for _, r := range []rune{'あ', '🎁'} { // 3 and 4 bytes: the limit counts characters
				str := strings.Repeat(string(r), n)
				out = append(out, Variant{fmt.Sprintf("%d characters %q", n, r), str, valid(str)})
			}
		}
	}
	if s.Pattern != "" {
		edges, err := g.patternEdges(s, valid)
		if err != nil {
			return nil, err
		}
		out = append(out, edges...)
	}
	if s.Format == "uuid" {
		id := uuid.NewString()
		for _, v := range []struct{ name, value string }{
			{"upper-case UUID", strings.ToUpper(id)},
			{"UUID missing a digit", id[:35]},
			{"UUID with a digit too many", id + "0"},
			{"not a UUID", "not-a-uuid"},
			{"UUID with a non-hex digit", "g" + id[1:]},
		} {
			out = append(out, Variant{v.name, v.value, valid(v.value)})
		}
	}
	return out, nil
}

// patternEdges takes a valid string and swaps one character (in the middle, where HTTP does not
// trim) for each range bound of the pattern's character classes and for the character just
// outside each bound.
func (g *Generator) patternEdges(s *openapi3.Schema, valid func(string) bool) ([]Variant, error) {
	re, err := syntax.Parse(s.Pattern, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("parse pattern %q: %w", s.Pattern, err)
	}
	var bounds []rune
	walk(re, func(r *syntax.Regexp) {
		if r.Op == syntax.OpCharClass {
			bounds = append(bounds, r.Rune...)
		}
	})
	minLen := max(length(s.MinLength), 3)
	if s.MaxLength != nil {
		minLen = min(minLen, length(*s.MaxLength))
	}
	base, err := g.validString(s, minLen)
	if err != nil {
		return nil, err
	}
	runes := []rune(base)
	mid := len(runes) / 2
	var out []Variant
	seen := map[rune]bool{}
	bounds = append(bounds, 'あ', 'あ') // and a character beyond ASCII
	for i, b := range bounds {
		cands := []rune{b, b + 1}
		if i%2 == 0 { // a range's low end: the rune below it is outside
			cands = []rune{b, b - 1}
		}
		for _, c := range cands {
			if seen[c] || c < 0 || !utf8.ValidRune(c) {
				continue
			}
			seen[c] = true
			swapped := slices.Clone(runes)
			swapped[mid] = c
			str := string(swapped)
			out = append(out, Variant{fmt.Sprintf("pattern edge %U", c), str, valid(str)})
		}
	}
	return out, nil
}

func walk(re *syntax.Regexp, f func(*syntax.Regexp)) {
	f(re)
	for _, sub := range re.Sub {
		walk(sub, f)
	}
}

// validString returns a string s accepts, of n characters when n >= 0 (a length s may refuse:
// the caller asks for edges), else of a random length within s's bounds.
func (g *Generator) validString(s *openapi3.Schema, n int) (string, error) {
	switch s.Format {
	case "uuid":
		return uuid.NewString(), nil
	case "date-time":
		return "2026-11-28T09:00:00.123456Z", nil
	}
	if n < 0 {
		lo, hi := length(s.MinLength), length(s.MinLength)+40
		if s.MaxLength != nil {
			hi = min(hi, length(*s.MaxLength))
		}
		n = lo + g.r.IntN(hi-lo+1)
	}
	if n == 0 {
		return "", nil
	}
	if s.Pattern == "" {
		out := make([]rune, n)
		for i := range out {
			out[i] = textRunes[g.r.IntN(len(textRunes))]
		}
		return string(out), nil
	}
	re, err := syntax.Parse(s.Pattern, syntax.Perl)
	if err != nil {
		return "", fmt.Errorf("parse pattern %q: %w", s.Pattern, err)
	}
	var b strings.Builder
	if err := g.fromRegexp(&b, re.Simplify(), n); err != nil {
		return "", fmt.Errorf("pattern %q: %w", s.Pattern, err)
	}
	return b.String(), nil
}

// fromRegexp writes a string re matches; unbounded repetitions repeat n times (n is the wanted
// length for the usual "^[class]+$").
func (g *Generator) fromRegexp(b *strings.Builder, re *syntax.Regexp, n int) error {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
	case syntax.OpCharClass:
		b.WriteRune(g.pick(re.Rune))
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		b.WriteRune(textRunes[g.r.IntN(len(textRunes))])
	case syntax.OpCapture:
		return g.fromRegexp(b, re.Sub[0], n)
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if err := g.fromRegexp(b, sub, n); err != nil {
				return err
			}
		}
	case syntax.OpAlternate:
		return g.fromRegexp(b, re.Sub[g.r.IntN(len(re.Sub))], n)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := 0, -1
		switch re.Op {
		case syntax.OpPlus:
			lo = 1
		case syntax.OpQuest:
			hi = 1
		case syntax.OpRepeat:
			lo, hi = re.Min, re.Max
		}
		count := max(n, lo)
		if hi >= 0 {
			count = min(count, hi)
		}
		for range count {
			if err := g.fromRegexp(b, re.Sub[0], n); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("regexp operator %v is not supported", re.Op)
	}
	return nil
}

// pick returns a rune from a character class's ranges (lo, hi pairs), each range as likely as
// its size.
func (g *Generator) pick(ranges []rune) rune {
	var total rune
	for i := 0; i < len(ranges); i += 2 {
		total += ranges[i+1] - ranges[i] + 1
	}
	k := g.r.Int32N(total)
	for i := 0; i < len(ranges); i += 2 {
		size := ranges[i+1] - ranges[i] + 1
		if k < size {
			return ranges[i] + k
		}
		k -= size
	}
	return ranges[0]
}

// length converts a schema's length bound; the generator has no use for more than a million.
func length(n uint64) int {
	if n > 1<<20 {
		return 1 << 20
	}
	return int(n)
}

// objectVariants changes one thing of a valid object: a required property missing, an optional
// one left out, a property not in the schema, or one property replaced by each of its variants.
func (g *Generator) objectVariants(s *openapi3.Schema) ([]Variant, error) {
	full := func() (map[string]any, error) {
		obj := map[string]any{}
		for _, name := range sortedKeys(s.Properties) {
			v, err := g.Valid(s.Properties[name].Value)
			if err != nil {
				return nil, err
			}
			obj[name] = v
		}
		return obj, nil
	}
	var out []Variant
	for _, name := range sortedKeys(s.Properties) {
		obj, err := full()
		if err != nil {
			return nil, err
		}
		delete(obj, name)
		required := slices.Contains(s.Required, name)
		out = append(out, Variant{"without " + name, obj, !required})
	}
	obj, err := full()
	if err != nil {
		return nil, err
	}
	obj["unexpected"] = "x"
	extraAllowed := s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has
	out = append(out, Variant{"an extra property", obj, extraAllowed})
	for _, name := range sortedKeys(s.Properties) {
		vs, err := g.Variants(s.Properties[name].Value)
		if err != nil {
			return nil, fmt.Errorf("property %s: %w", name, err)
		}
		for _, v := range vs {
			obj, err := full()
			if err != nil {
				return nil, err
			}
			obj[name] = v.Value
			out = append(out, Variant{name + ": " + v.Name, obj, v.Valid})
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var uuidText = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isUUID(s string) bool { return uuidText.MatchString(s) }

// HeaderText renders a generated value as a header or path parameter's text (the simple style).
func HeaderText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}
