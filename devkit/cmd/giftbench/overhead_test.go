package main

import (
	"math"
	"strings"
	"testing"
)

func TestSignTest(t *testing.T) {
	for _, tc := range []struct {
		k, n int
		want float64
	}{{5, 5, 1.0 / 32}, {4, 5, 6.0 / 32}, {0, 5, 1}, {3, 3, 1.0 / 8}, {9, 10, 11.0 / 1024}} {
		if got := signTestP(tc.k, tc.n); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("signTestP(%d, %d) = %v, want %v", tc.k, tc.n, got, tc.want)
		}
	}
}

// A mode slower in every one of 5 rounds is measurably slower; slower in 4 of 5 is within the
// noise; 3 rounds cannot tell, however clear they look.
func TestLatencyVerdict(t *testing.T) {
	off := []float64{5, 6, 5, 7, 14}
	for _, tc := range []struct {
		off, on []float64
		want    string
	}{
		{off, []float64{6, 7, 6, 8, 15}, "MEASURABLE"},
		{off, []float64{9, 9, 9, 9, 9}, "not measurable"},
		{off[:3], []float64{50, 50, 50}, "too few rounds"},
	} {
		if got := latencyVerdict(tc.off, tc.on); !strings.Contains(got, tc.want) {
			t.Errorf("latencyVerdict(%v, %v) = %q, want %q", tc.off, tc.on, got, tc.want)
		}
	}
}
