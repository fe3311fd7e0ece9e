package gift

import (
	"math"
	"regexp"
	"time"

	"github.com/google/uuid"
)

// Client and key administration (giftctl client, giftctl key): what an operator lists and the
// audit of what operators did.

// ClientSummary is a client as an operator lists it.
type ClientSummary struct {
	Client
	CreatedAt  time.Time
	CreatedBy  string
	ActiveKeys int
}

// ClientAction is what an operator did to a client or one of its keys.
type ClientAction string

// The actions of api_client_events.
const (
	ClientCreated ClientAction = "client.create"
	LimitsChanged ClientAction = "client.limits"
	KeyIssued     ClientAction = "key.issue"
	KeyRevoked    ClientAction = "key.revoke"
)

// ClientEvent is one entry of a client's append-only audit: who did what, when.
type ClientEvent struct {
	ID       int64
	ClientID uuid.UUID
	KeyID    string // the key issued or revoked; empty for the client's own changes
	Action   ClientAction
	Detail   string // the limits set, for client.create and client.limits
	// Actor is giftctl's identity of the operator (the AWS caller ARN, or os:USER locally), with
	// --actor's name in front as "NAME <IDENTITY>".
	Actor string
	At    time.Time
}

var clientName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}$`)

// ValidateClientName checks a client's name: lowercase letters, digits and hyphens, starting with
// a letter or digit, at most 100 characters (the CHECK of api_clients.name).
func ValidateClientName(name string) error {
	if !clientName.MatchString(name) {
		return Invalidf("client name %q: use lowercase letters, digits and '-', starting with a letter or digit, at most 100 characters", name)
	}
	return nil
}

// Validate checks a token bucket: a positive finite rate and a burst of at least one (that fits
// api_clients.burst).
func (l RateLimit) Validate() error {
	if !(l.PerSecond > 0) || math.IsInf(l.PerSecond, 0) {
		return Invalidf("rate %g: want a number of requests a second above 0", l.PerSecond)
	}
	if l.Burst < 1 || l.Burst > math.MaxInt32 {
		return Invalidf("burst %d: want at least 1 (and at most %d)", l.Burst, math.MaxInt32)
	}
	return nil
}

// DefaultRateLimit is a new client's token bucket unless the operator sets one (the defaults of
// api_clients).
var DefaultRateLimit = RateLimit{PerSecond: 50, Burst: 100}
