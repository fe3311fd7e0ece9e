// Package envconfig reads typed settings from environment variables, collecting every problem so a
// misconfigured service reports all of them at once and refuses to start.
package envconfig

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Reader reads variables through Lookup (os.LookupEnv when nil) and remembers what was wrong.
type Reader struct {
	Lookup func(string) (string, bool)
	errs   []error
}

func (r *Reader) get(name string) (string, bool) {
	lookup := r.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(name)
	if !ok || v == "" {
		return "", false
	}
	return v, true
}

// String returns the variable or def.
func (r *Reader) String(name, def string) string {
	if v, ok := r.get(name); ok {
		return v
	}
	return def
}

// Int returns the variable as an integer in [lo, hi], or def.
func (r *Reader) Int(name string, def, lo, hi int) int {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: want an integer from %d to %d", name, v, lo, hi))
		return def
	}
	return n
}

// Float returns the variable as a number in [lo, hi], or def.
func (r *Reader) Float(name string, def, lo, hi float64) float64 {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < lo || f > hi {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: want a number from %g to %g", name, v, lo, hi))
		return def
	}
	return f
}

// Bool returns the variable as a boolean (true/false/1/0), or def.
func (r *Reader) Bool(name string, def bool) bool {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: want true or false", name, v))
		return def
	}
	return b
}

// Duration returns the variable in Go duration syntax (1s, 250ms), at least min, or def.
func (r *Reader) Duration(name string, def, lowest time.Duration) time.Duration {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lowest {
		r.errs = append(r.errs, fmt.Errorf("%s=%q: want a Go duration (like 1s or 250ms) of at least %s", name, v, lowest))
		return def
	}
	return d
}

// Check adds a problem found by the caller's own validation when bad is true.
func (r *Reader) Check(bad bool, format string, args ...any) {
	if bad {
		r.errs = append(r.errs, fmt.Errorf(format, args...))
	}
}

// Err returns every problem found, or nil.
func (r *Reader) Err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration: %w", errors.Join(r.errs...))
}
