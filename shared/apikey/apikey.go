// Package apikey is the format of the Gift API's client keys: making one, reading one from an
// Authorization header, and checking it against what is stored.
//
// A key reads gk_<id>_<secret>: id is 8 lowercase hex digits, public, naming the key in giftctl
// and in logs; secret is 32 random bytes in unpadded base64url (43 characters). Only the SHA-256
// of the secret is stored: 256 random bits need no slow hash, and a stolen table gives no key.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

const (
	prefix    = "gk_"
	idLen     = 8
	secretLen = 43 // base64url of 32 bytes, unpadded
	// Len is the length of every key.
	Len = len(prefix) + idLen + 1 + secretLen
)

// Errors of FromAuthorization and Parse.
var (
	// ErrMissing: no Authorization header, or not the Bearer scheme.
	ErrMissing = errors.New("no bearer token in the Authorization header")
	// ErrMalformed: a bearer token that is not a key of this format.
	ErrMalformed = errors.New("bearer token is not a Gift API key")
)

// Key is a key read from a client: its public id and its secret.
type Key struct {
	ID     string
	secret string
}

// Hash is the stored form of a key's secret.
type Hash [sha256.Size]byte

// New makes a key: the text to show once to the client, and what to store (its id and hash).
func New() (text string, k Key, err error) {
	var raw [idLen/2 + 32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Key{}, fmt.Errorf("read random bytes for an API key: %w", err)
	}
	k = Key{ID: hex.EncodeToString(raw[:idLen/2]), secret: base64.RawURLEncoding.EncodeToString(raw[idLen/2:])}
	return prefix + k.ID + "_" + k.secret, k, nil
}

// Parse reads a key's text.
func Parse(text string) (Key, error) {
	if len(text) != Len || !strings.HasPrefix(text, prefix) || text[len(prefix)+idLen] != '_' {
		return Key{}, ErrMalformed
	}
	id, secret := text[len(prefix):len(prefix)+idLen], text[len(prefix)+idLen+1:]
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return Key{}, ErrMalformed
		}
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil || len(b) != 32 {
		return Key{}, ErrMalformed
	}
	return Key{ID: id, secret: secret}, nil
}

// FromAuthorization reads the key of an Authorization header value: "Bearer <key>", the scheme in
// any case (RFC 9110 11.1), one or more spaces after it.
func FromAuthorization(header string) (Key, error) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Key{}, ErrMissing
	}
	token = strings.TrimLeft(token, " ")
	if token == "" {
		return Key{}, ErrMissing
	}
	return Parse(token)
}

// Hash returns the stored form of k's secret.
func (k Key) Hash() Hash { return sha256.Sum256([]byte(k.secret)) }

// Matches reports whether k's secret is the one stored as h, in constant time.
func (k Key) Matches(h []byte) bool {
	mine := k.Hash()
	return subtle.ConstantTimeCompare(mine[:], h) == 1
}

// String shows the key's id only: a Key never prints its secret.
func (k Key) String() string { return prefix + k.ID + "_…" }
