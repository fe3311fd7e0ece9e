package envconfig

import (
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Masked replaces a secret, or the secret part of a value, in Settings and in the log.
const Masked = "*****"

// Setting is the effective value of one variable a Reader read.
type Setting struct {
	Name  string
	Value string // what the service uses: the variable, or the default when unset; secrets masked
	Set   bool   // the variable was set (not empty); false: Value is the default
	// Secret says Value was masked, whole (a password) or in part (the password of DATABASE_URL).
	Secret bool
}

// record remembers name's effective value, masked before it is stored so that no secret is kept.
func (r *Reader) record(name, value string, set bool) {
	if r.settings == nil {
		r.settings = map[string]Setting{}
	}
	masked := mask(name, value)
	r.settings[name] = Setting{Name: name, Value: masked, Set: set, Secret: masked != value}
}

// Derive makes value the effective value of name when that variable, already read, was unset: a
// default computed from other settings (the worker's pool size follows its concurrency). It
// reports whether name was unset, that is whether the caller should use value.
func (r *Reader) Derive(name, value string) bool {
	if s, ok := r.settings[name]; ok && s.Set {
		return false
	}
	r.record(name, value, false)
	return true
}

// Settings returns the effective value of every variable read so far, by name.
func (r *Reader) Settings() []Setting {
	out := make([]Setting, 0, len(r.settings))
	for _, s := range r.settings {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Setting) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// LogConfiguration logs the effective configuration as one line: msg "configuration", field
// config an object of every variable's effective value (secrets masked), field config_from_env the
// names set in the environment (the others have their default). docs/observability.md.
func LogConfiguration(log *slog.Logger, settings []Setting) {
	values := make([]any, 0, len(settings))
	fromEnv := []string{}
	for _, s := range settings {
		values = append(values, slog.String(s.Name, s.Value))
		if s.Set {
			fromEnv = append(fromEnv, s.Name)
		}
	}
	log.Info("configuration", slog.Group("config", values...), slog.Any("config_from_env", fromEnv))
}

// secretName matches the names of variables whose whole value is secret. An ARN names a secret
// without being one (DB_SECRET_ARN is shown).
var secretName = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_?KEY|SECRET)`)

// dsnPassword matches the password of a libpq keyword/value connection string.
var dsnPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// mask returns value with what is secret in it replaced by Masked: the whole value of a secret
// variable, the password of a URL (user info or a password query parameter) or of a keyword/value
// connection string. A value that looks like a URL with user info but does not parse is masked
// whole, since where its password ends cannot be told.
func mask(name, value string) string {
	if value == "" {
		return value
	}
	if secretName.MatchString(name) && !strings.HasSuffix(strings.ToUpper(name), "_ARN") {
		return Masked
	}
	if strings.Contains(value, "://") {
		u, err := url.Parse(value)
		if err != nil {
			if strings.Contains(value, "@") {
				return Masked
			}
			return value
		}
		changed := false
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), Masked)
			changed = true
		}
		if q := u.Query(); len(q) > 0 {
			for k := range q {
				if secretName.MatchString(k) {
					q.Set(k, Masked)
					changed = true
				}
			}
			u.RawQuery = q.Encode()
		}
		if !changed {
			return value
		}
		// url escapes the mask in a query (%2A): show it as written.
		return strings.ReplaceAll(u.String(), url.QueryEscape(Masked), Masked)
	}
	return dsnPassword.ReplaceAllString(value, "${1}"+Masked)
}
