package giftctl

import (
	"strings"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/apikey"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/envconfig"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/platform"
)

// Config is what giftctl reads from the environment: the services' own database and queue
// settings, the DLQ, the API's address and the key giftctl calls it with.
type Config struct {
	APIURL string // API_URL
	// APIKey is GIFT_API_KEY: the API key sent as "Authorization: Bearer <key>" on every call to
	// the API (the gift commands need it; status's readiness probe does not). Empty: no
	// Authorization header, and the API answers 401 to everything but its probes.
	APIKey   string
	DLQURL   string // SQS_DLQ_URL; empty: the main queue's RedrivePolicy target
	Database platform.Database
	Queue    platform.Queue
}

// Load reads the configuration through lookup (CLI.Lookup, os.LookupEnv in main) and reports
// every problem at once: the same shape as the services' config.Load.
func Load(lookup func(string) (string, bool)) (Config, error) {
	r := &envconfig.Reader{Lookup: lookup}
	c := Config{
		APIURL:   strings.TrimRight(r.String("API_URL", DefaultAPIURL), "/"),
		APIKey:   strings.TrimSpace(r.String("GIFT_API_KEY", "")),
		DLQURL:   r.String("SQS_DLQ_URL", ""),
		Database: platform.ReadDatabase(r),
		Queue:    platform.ReadQueue(r),
	}
	if c.APIKey != "" {
		_, err := apikey.Parse(c.APIKey)
		r.Check(err != nil, "GIFT_API_KEY: not a Gift API key (gk_ followed by its id and secret, as `giftctl key issue` prints it)")
	}
	return c, r.Err()
}
