// Package internal_test keeps the layers of worker-svc apart (docs/architecture.md, "Layers"): the
// use cases under internal/ compile against the domain (shared/gift, shared/queue) and the
// interfaces they declare themselves, never against an adapter (shared/postgres, shared/sqs). Only
// the composition roots open adapters.
package internal_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// adapters are the packages only a composition root may import.
var adapters = []string{
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres",
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs",
}

// compositionRoots are the packages under internal/ that wire adapters to use cases (cmd/* are
// composition roots too and lie outside internal/: cmd/worker wires the worker today).
var compositionRoots = []string{
	"workerserver", // the worker's wiring once it leaves cmd/worker (issue 15)
}

// useCases must exist, so that the walk below cannot pass by looking at nothing.
var useCases = []string{"worker", "work", "reconcile", "seed", "send", "backoff", "dbgate", "health"}

func TestUseCasesImportNoAdapter(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == "testdata" {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		seen[pkg] = true
		if slices.Contains(compositionRoots, pkg) {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return err
			}
			for _, a := range adapters {
				if imp == a || strings.HasPrefix(imp, a+"/") {
					t.Errorf("%s imports the adapter %s: only a composition root (%s) may; declare the interface in the use case and move the types it exchanges to shared/gift or shared/queue",
						path, imp, strings.Join(compositionRoots, ", "))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range useCases {
		if !seen[u] {
			t.Errorf("use-case package internal/%s not found: the walk looked at %v", u, seen)
		}
	}
}
