// Package layers checks the rule of docs/architecture.md, "Layers", for the packages of one
// service: the use cases compile against the domain (shared/gift, shared/queue) and the interfaces
// they declare themselves, never against an adapter (shared/postgres, shared/sqs). Only the
// composition roots open adapters.
package layers

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

// Adapters are the packages only a composition root may import.
var Adapters = []string{
	"github.com/gift-platform/ecs-sre-gift-worker/shared/postgres",
	"github.com/gift-platform/ecs-sre-gift-worker/shared/sqs",
}

// Check walks the non-test Go files below dir and fails t for every import of an adapter by a
// package that is not one of roots (paths relative to dir). Every package in useCases must be
// found, so that the walk cannot pass by looking at nothing.
func Check(t testing.TB, dir string, roots, useCases []string) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == "testdata" {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(dir, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		seen[pkg] = true
		if slices.Contains(roots, pkg) {
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
			for _, a := range Adapters {
				if imp == a || strings.HasPrefix(imp, a+"/") {
					t.Errorf("%s imports the adapter %s: only a composition root (%s) may; declare the interface in the use case and move the types it exchanges to shared/gift or shared/queue",
						path, imp, strings.Join(roots, ", "))
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
			t.Errorf("use-case package %s not found below %s: the walk looked at %v", u, dir, seen)
		}
	}
}
