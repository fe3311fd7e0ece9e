package giftctl

import (
	"strings"

	"github.com/gift-platform/ecs-sre-gift-worker/shared/envconfig"
	"github.com/gift-platform/ecs-sre-gift-worker/shared/platform"
)

// Config is what giftctl reads from the environment: the services' own database and queue
// settings, the DLQ and the API's address.
type Config struct {
	APIURL   string // API_URL
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
		DLQURL:   r.String("SQS_DLQ_URL", ""),
		Database: platform.ReadDatabase(r),
		Queue:    platform.ReadQueue(r),
	}
	return c, r.Err()
}
