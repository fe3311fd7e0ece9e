package gift_test

import (
	"math"
	"strings"
	"testing"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/gift"
)

func TestValidateClientName(t *testing.T) {
	for name, ok := range map[string]bool{
		"shop-web":               true,
		"a":                      true,
		"team-42":                true,
		"0day":                   true,
		strings.Repeat("a", 100): true,
		"":                       false,
		"-shop":                  false,
		"Shop":                   false,
		"shop_web":               false,
		"shop web":               false,
		"shöp":                   false,
		strings.Repeat("a", 101): false,
	} {
		err := gift.ValidateClientName(name)
		if (err == nil) != ok || (err != nil && gift.KindOf(err) != gift.KindInvalid) {
			t.Errorf("ValidateClientName(%q) = %v, want ok %v (or a KindInvalid error)", name, err, ok)
		}
	}
}

func TestRateLimitValidate(t *testing.T) {
	for _, tc := range []struct {
		limit gift.RateLimit
		ok    bool
	}{
		{gift.DefaultRateLimit, true},
		{gift.RateLimit{PerSecond: 0.1, Burst: 1}, true},
		{gift.RateLimit{PerSecond: 1, Burst: math.MaxInt32}, true},
		{gift.RateLimit{PerSecond: 0, Burst: 1}, false},
		{gift.RateLimit{PerSecond: -1, Burst: 1}, false},
		{gift.RateLimit{PerSecond: math.NaN(), Burst: 1}, false},
		{gift.RateLimit{PerSecond: math.Inf(1), Burst: 1}, false},
		{gift.RateLimit{PerSecond: 1, Burst: 0}, false},
		{gift.RateLimit{PerSecond: 1, Burst: math.MaxInt32 + 1}, false},
	} {
		err := tc.limit.Validate()
		if (err == nil) != tc.ok || (err != nil && gift.KindOf(err) != gift.KindInvalid) {
			t.Errorf("%+v.Validate() = %v, want ok %v (or a KindInvalid error)", tc.limit, err, tc.ok)
		}
	}
}
