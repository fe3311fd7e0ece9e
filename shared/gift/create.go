package gift

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// CreateKey makes a create idempotent: the client's Idempotency-Key (as ParseIdempotencyKey
// returns it) and the fingerprint of the request it came with.
type CreateKey struct {
	Key         string
	Fingerprint [sha256.Size]byte
}

// CreateOutcome is what the store's idempotent create did.
type CreateOutcome struct {
	// Replayed is true when the key was already stored with the same fingerprint: nothing was
	// created, and GiftID and Response are those of the first create.
	Replayed bool
	GiftID   uuid.UUID
	Response []byte
}

// fingerprintVersion starts every fingerprint, so a later change of the canonical form cannot
// collide with the fingerprints already stored.
const fingerprintVersion = "gift-create/v1\n"

// Fingerprint is the SHA-256 of the validated request in one canonical form: the decoded values,
// re-encoded with a fixed field order, so two bodies that differ only in spacing, key order or
// escapes have the same fingerprint, and a missing message differs from an empty one. Call it on a
// request that Validate accepts.
func (n NewGift) Fingerprint() ([sha256.Size]byte, error) {
	canonical, err := json.Marshal(struct {
		Amount  int64   `json:"amount"`
		Message *string `json:"message"`
	}{n.Amount, n.Message})
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("fingerprint create request: %w", err)
	}
	return sha256.Sum256(append([]byte(fingerprintVersion), canonical...)), nil
}
