// Package internal_test keeps the layers of worker-svc apart (docs/architecture.md, "Layers").
package internal_test

import (
	"testing"

	"github.com/gift-platform/ecs-sre-gift-worker/testkit/layers"
)

func TestUseCasesImportNoAdapter(t *testing.T) {
	layers.Check(t, ".",
		[]string{"workerserver"}, // the composition root (cmd/* lie outside internal/)
		[]string{"worker", "work", "reconcile", "seed", "send", "backoff", "dbgate", "health"})
}
