package tracing

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// steadySampler is a sampler on a clock the test moves, with a seeded draw.
func steadySampler(perSecond int) (*RequestSampler, *time.Time) {
	s := NewRequestSampler(perSecond)
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	s.draw = rand.New(rand.NewPCG(1, 2)).Float64
	return s, &now
}

// offer runs perSecond requests a second, evenly spread, for seconds, and returns the requests
// sampled in each second and the sum of their weights (1/rate).
func offer(s *RequestSampler, now *time.Time, perSecond, seconds int) (sampled []int, weight float64) {
	gap := time.Second / time.Duration(perSecond)
	for range seconds {
		n := 0
		for range perSecond {
			ok, rate := s.sample()
			if ok {
				n++
				weight += 1 / rate
			}
			*now = now.Add(gap)
		}
		sampled = append(sampled, n)
	}
	return sampled, weight
}

// Below its rate the sampler keeps every request at weight 1; above it about perSecond a second,
// each weighing what it stands for, so that the weights add up to the requests served, the first
// second of a burst included.
func TestSamplerKeepsAboutPerSecondAndWeighsTheRest(t *testing.T) {
	s, now := steadySampler(100)
	sampled, weight := offer(s, now, 50, 5)
	for sec, n := range sampled {
		if n != 50 {
			t.Errorf("at 50 a second, second %d sampled %d, want all 50", sec, n)
		}
	}
	if weight != 5*50 {
		t.Errorf("at 50 a second the weights add up to %.0f, want %d", weight, 5*50)
	}

	const load, seconds = 5000, 20
	sampled, weight = offer(s, now, load, seconds)
	// A burst after a quiet spell: the share of the quiet second is 1, and falls as the burst's
	// requests arrive, to about 100 × (1 + ln 50) ≈ 490 in its first second.
	if sampled[0] < 300 || sampled[0] > 700 {
		t.Errorf("the first busy second sampled %d, want about 490 of its %d", sampled[0], load)
	}
	for sec, n := range sampled[1:] {
		if n < 70 || n > 130 {
			t.Errorf("at %d a second, second %d sampled %d, want about 100", load, sec+1, n)
		}
	}
	served := float64(load * seconds)
	if math.Abs(weight-served)/served > 0.05 {
		t.Errorf("the sampled requests weigh %.0f in all, want the %.0f served (within 5 %%)", weight, served)
	}
}
