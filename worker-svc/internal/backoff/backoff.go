// Package backoff computes how long a failed send waits before SQS delivers it again.
package backoff

import "time"

// Delay is the visibility to give a message whose attempt number attempt (its
// ApproximateReceiveCount, 1 for the first delivery) has just failed: base doubled for each earlier
// attempt (base, 2*base, 4*base, ...), at most max, in whole seconds rounded up because SQS takes
// visibility timeouts in seconds. A zero base retries at once.
func Delay(attempt int, base, max time.Duration) time.Duration {
	if base <= 0 || max <= 0 {
		return 0
	}
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return d
}
