package giftctl

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// The identity recorded with every change an operator makes (gift_events.actor_name):
//
//   - AWS credentials: the caller's ARN from STS GetCallerIdentity, e.g.
//     arn:aws:sts::123456789012:assumed-role/OpsAdmin/alice (what CloudTrail records too);
//   - local (SQS_ENDPOINT set and neither AWS_ACCESS_KEY_ID nor AWS_PROFILE: the emulator's fixed
//     credentials, which STS would not know): "os:" and the OS user;
//   - STS unreachable or refusing: "os:USER (STS unavailable)", with a warning on stderr.
//
// --actor NAME adds a name in front, as in a mail address: `NAME <IDENTITY>`; it never replaces the
// identity.

// stsTimeout bounds the STS call.
const stsTimeout = 5 * time.Second

// STSCaller returns the ARN of the AWS identity behind the standard credential chain.
func STSCaller(ctx context.Context, region string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, stsTimeout)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return "", fmt.Errorf("load AWS config: %w", err)
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("sts GetCallerIdentity: %w", err)
	}
	return aws.ToString(out.Arn), nil
}

// actor is who acts, as recorded in the history: the caller's identity, with name in front when
// the operator gave one (--actor).
func (c *CLI) actor(ctx context.Context, d *deps, name string) string {
	id := c.identity(ctx, d)
	if name == "" {
		return id
	}
	return name + " <" + id + ">"
}

func (c *CLI) identity(ctx context.Context, d *deps) string {
	set := func(k string) bool { v, ok := c.Lookup(k); return ok && v != "" }
	if d.cfg.Queue.Endpoint != "" && !set("AWS_ACCESS_KEY_ID") && !set("AWS_PROFILE") {
		return "os:" + c.User()
	}
	caller := c.Caller
	if caller == nil {
		caller = func(ctx context.Context) (string, error) { return STSCaller(ctx, d.cfg.Queue.Region) }
	}
	arn, err := caller(ctx)
	if err != nil || arn == "" {
		fmt.Fprintf(c.Stderr, "giftctl: caller identity unknown (%v): recording the OS user instead\n", err)
		return "os:" + c.User() + " (STS unavailable)"
	}
	return arn
}
