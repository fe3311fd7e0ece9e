package gift

import (
	"math"
	"strings"
	"unicode/utf8"
)

// Limits of the contract (openapi.yaml repeats them; tests keep the two in step).
const (
	MinAmount               = 1
	MaxAmount               = math.MaxInt32 // PostgreSQL INTEGER
	MaxMessageChars         = 500           // Unicode characters, not bytes
	MaxIdempotencyKeyLength = 255
)

// Validate checks a new gift against the rules of docs/requirements.md §6.1.
func (n NewGift) Validate() error {
	if n.Amount < MinAmount || n.Amount > MaxAmount {
		return Invalidf("amount must be an integer between %d and %d", MinAmount, MaxAmount)
	}
	if n.Message != nil {
		if !utf8.ValidString(*n.Message) {
			return Invalidf("message must be valid UTF-8")
		}
		if c := utf8.RuneCountInString(*n.Message); c > MaxMessageChars {
			return Invalidf("message must be at most %d characters, got %d", MaxMessageChars, c)
		}
		// PostgreSQL text cannot hold U+0000: refused here as a rule, not there as a failure.
		if strings.ContainsRune(*n.Message, 0) {
			return Invalidf("message must not contain the NUL character (U+0000)")
		}
	}
	return nil
}

// ValidateIdempotencyKey checks a client's Idempotency-Key: 1 to 255 visible ASCII characters
// (0x21-0x7E), so it is safe to log, to store and to echo back.
func ValidateIdempotencyKey(key string) error {
	if key == "" {
		return Invalidf("Idempotency-Key header is required")
	}
	if len(key) > MaxIdempotencyKeyLength {
		return Invalidf("Idempotency-Key must be at most %d characters", MaxIdempotencyKeyLength)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c > 0x7e {
			return Invalidf("Idempotency-Key must contain only visible ASCII characters (0x21-0x7E)")
		}
	}
	return nil
}

// IsValidIdempotencyKey reports whether ValidateIdempotencyKey accepts key.
func IsValidIdempotencyKey(key string) bool { return ValidateIdempotencyKey(key) == nil }

// ParseIdempotencyKey reads an Idempotency-Key header (create and send alike) and returns the key
// it names. The IETF draft "The Idempotency-Key HTTP Header Field" defines the header as a
// structured-field String ("abc", quoted); clients and proxies also send the bare form (abc), as
// this API has always accepted. Both forms name the same key: a value that starts and ends with a
// double quote is the quoted form and the key is what lies between the quotes, which must be a
// valid key without '"' or '\' (the String's escapes are refused rather than interpreted, so a
// key never has two spellings besides these). Every other value is the bare form, checked by
// ValidateIdempotencyKey. The key returned is stored, echoed as request_id and logged.
func ParseIdempotencyKey(raw string) (string, error) {
	if err := ValidateIdempotencyKey(raw); err != nil {
		return "", err
	}
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return raw, nil
	}
	key := raw[1 : len(raw)-1]
	if key == "" {
		return "", Invalidf("Idempotency-Key must not be an empty quoted string")
	}
	if strings.ContainsAny(key, `"\`) {
		return "", Invalidf("Idempotency-Key in quoted form must not contain a double quote or a backslash")
	}
	return key, nil
}
