// Package envconfig reads typed settings from environment variables, collecting every problem so a
// misconfigured service reports all of them at once and refuses to start, and remembering the
// effective value of every variable it read so the service can log its configuration at start
// with secrets masked (settings.go).
package envconfig

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Reader reads variables through Lookup (os.LookupEnv when nil), remembers what was wrong and
// what it read (Settings).
type Reader struct {
	Lookup   func(string) (string, bool)
	errs     []error
	settings map[string]Setting
}

// get returns the variable's value and whether it is set (an empty value counts as unset), and
// records it with def as its effective value when unset. The first read of a name is the one
// recorded: a later read with another default (a service's own DD_SERVICE fallback read twice)
// does not change what the log says.
func (r *Reader) get(name, def string) (string, bool) {
	lookup := r.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(name)
	ok = ok && v != ""
	if _, seen := r.settings[name]; !seen {
		if ok {
			r.record(name, v, true)
		} else {
			r.record(name, def, false)
		}
	}
	if !ok {
		return "", false
	}
	return v, true
}

// String returns the variable or def.
func (r *Reader) String(name, def string) string {
	if v, ok := r.get(name, def); ok {
		return v
	}
	return def
}

// Int returns the variable as an integer in [lo, hi], or def.
func (r *Reader) Int(name string, def, lo, hi int) int {
	v, ok := r.get(name, strconv.Itoa(def))
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
	v, ok := r.get(name, strconv.FormatFloat(def, 'g', -1, 64))
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
	v, ok := r.get(name, strconv.FormatBool(def))
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
	v, ok := r.get(name, def.String())
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
