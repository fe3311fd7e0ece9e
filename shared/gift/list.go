package gift

import (
	"time"

	"github.com/google/uuid"
)

// ListQuery asks for a page of a client's gifts, newest first (GET /gifts).
type ListQuery struct {
	ClientID uuid.UUID
	// Before, when set, is the last gift of the previous page: this page holds older gifts only.
	// Gift ids are UUIDv7, ordered by creation, so walking down the ids pages through the gifts
	// without skipping or repeating one, however many are created meanwhile.
	Before uuid.UUID
	// Limit is the most gifts of the page, MinListLimit to MaxListLimit.
	Limit int
	// Status, when set, keeps the gifts in that status.
	Status Status
	// CreatedSince (inclusive) and CreatedBefore (exclusive), when set, bound the creation time.
	CreatedSince  time.Time
	CreatedBefore time.Time
}

// The bounds of ListQuery.Limit and its default.
const (
	MinListLimit     = 1
	MaxListLimit     = 100
	DefaultListLimit = 20
)

// Page is a page of a list: the gifts, and whether more follow them.
type Page struct {
	Gifts []Gift
	More  bool
}
