// Package internal_test keeps the layers of api-svc apart (docs/architecture.md, "Layers").
package internal_test

import (
	"testing"

	"github.com/gift-platform/ecs-sre-gift-worker/testkit/layers"
)

func TestUseCasesImportNoAdapter(t *testing.T) {
	layers.Check(t, ".",
		[]string{"apiserver", "giftctl/connect"}, // the composition roots (cmd/* lie outside internal/)
		[]string{"gifts", "outbox", "giftctl", "httpapi"})
}
