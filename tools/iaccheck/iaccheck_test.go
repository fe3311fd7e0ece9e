package iaccheck

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every check is proven able to fail: each fixture under testdata/ is testdata/valid with one
// mistake, and must produce exactly the one finding that names it, for each unit it affects.
// testdata/valid has the layout of live/: unit files that only include root.hcl and their
// _envcommon file, so most mistakes sit in an _envcommon file and are reported for the unit that
// includes it; envcommon_mistake has two environments including the same file.
func TestCheckFindsEachMistake(t *testing.T) {
	const (
		envcommonApp = "live/_envcommon/app.hcl"
		envcommonNet = "live/_envcommon/net.hcl"
		devApp       = "live/dev/app"
		devNet       = "live/dev/net"
	)
	tests := []struct {
		fixture string
		kind    string
		file    string
		units   []string // units the finding must be reported for, once each ("" for per-file checks)
		message string
	}{
		{"dependency_path_missing", KindDependencyPath, envcommonApp, []string{devApp}, `config_path "../network" (live/dev/network, relative to the unit) has no terragrunt.hcl`},
		{"dependency_cycle", KindCycle, devApp + "/terragrunt.hcl", []string{devApp}, "live/dev/app -> live/dev/net -> live/dev/app"},
		// In the unit file: merged with the _envcommon inputs, or "name" would be missing as well.
		{"undeclared_input", KindUndeclaredInput, devApp + "/terragrunt.hcl", []string{devApp}, `input "colour" is not a variable of module "app"`},
		{"missing_required_input", KindMissingInput, envcommonApp, []string{devApp}, `required variable "name" of module "app"`},
		{"unknown_output", KindUnknownOutput, envcommonApp, []string{devApp}, `module "net" has no output "vpc"`},
		// The unit file's dependency "net" replaces the _envcommon one whole (shallow merge).
		{"mock_missing_output", KindMockMissingOutput, devApp + "/terragrunt.hcl", []string{devApp}, "dependency.net.outputs.subnet_ids is used but missing from mock_outputs"},
		{"mock_allowed_for_apply", KindMockForApply, envcommonApp, []string{devApp}, `allows mock outputs for "apply"`},
		{"mock_commands_missing", KindMockCommandMissing, envcommonApp, []string{devApp}, `dependency "net" has mock_outputs but no mock_outputs_allowed_terraform_commands`},
		{"unknown_dependency", KindUnknownDependency, envcommonApp, []string{devApp}, `there is no dependency "vpc" block`},
		{"module_source_missing", KindSource, envcommonNet, []string{devNet}, `modules/network does not exist`},
		{"hcl_format", KindFormat, envcommonNet, []string{""}, "not in canonical HCL format"},
		{"parse_error", KindParse, envcommonNet, []string{""}, ""},
		{"include_missing", KindInclude, devApp + "/terragrunt.hcl", []string{devApp}, `include "envcommon": live/_envcommon/application.hcl does not exist`},
		{"include_nested", KindInclude, envcommonApp, []string{devApp}, "has an include block itself"},
		{"duplicate_generate", KindDuplicateGenerate, envcommonNet, []string{devNet}, `generate "provider" is also defined in live/root.hcl`},
		{"envcommon_mistake", KindUndeclaredInput, envcommonApp, []string{devApp, "live/prod/app"}, `input "colour" is not a variable of module "app"`},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			findings, err := Check(filepath.Join("testdata", tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			matching := map[string][]Finding{}
			var others []Finding
			for _, f := range findings {
				if f.Kind == tt.kind && f.File == tt.file && slices.Contains(tt.units, f.Unit) && strings.Contains(f.Message, tt.message) {
					matching[f.Unit] = append(matching[f.Unit], f)
				} else {
					others = append(others, f)
				}
			}
			for _, u := range tt.units {
				switch {
				case len(matching[u]) == 0:
					t.Errorf("want a [%s] finding in %s for unit %q containing %q; got %v", tt.kind, tt.file, u, tt.message, findings)
				// A parse error may be reported once per diagnostic; every other mistake exactly once
				// per unit, and nothing else may fire, so a fixture tests the check it is named after.
				case tt.kind != KindParse && len(matching[u]) != 1:
					t.Errorf("want exactly one matching finding for unit %q, got %v", u, matching[u])
				}
			}
			if len(others) > 0 {
				t.Errorf("unexpected findings besides the [%s] one: %v", tt.kind, others)
			}
		})
	}
}

func TestCheckAcceptsTheValidFixture(t *testing.T) {
	findings, err := Check(filepath.Join("testdata", "valid"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Error(f)
	}
}

// The real modules/ and live/ of this repository.
func TestRepositoryLiveIsWiredToModules(t *testing.T) {
	root := filepath.Join("..", "..")
	findings, err := Check(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Error(f)
	}
	// Guard against a vacuous pass (a moved live/ would otherwise check nothing).
	if n, err := UnitCount(root); err != nil || n < 26 {
		t.Fatalf("want at least 26 units (13 per environment) under live/, got %d (%v)", n, err)
	}
}

// dev and prod differ only through their env.hcl: every unit file is the same in both, so a
// difference between the environments is always a visible value in env.hcl.
func TestEnvironmentsShareTheirUnits(t *testing.T) {
	live := filepath.Join("..", "..", "live")
	units := func(env string) map[string]string {
		m := map[string]string{}
		dirs, err := os.ReadDir(filepath.Join(live, env))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			if !d.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(live, env, d.Name(), "terragrunt.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			m[d.Name()] = string(b)
		}
		return m
	}
	dev, prod := units("dev"), units("prod")
	for name, src := range dev {
		other, ok := prod[name]
		switch {
		case !ok:
			t.Errorf("unit %s exists in dev but not in prod", name)
		case other != src:
			t.Errorf("live/dev/%s and live/prod/%s differ; put the difference in env.hcl", name, name)
		}
	}
	for name := range prod {
		if _, ok := dev[name]; !ok {
			t.Errorf("unit %s exists in prod but not in dev", name)
		}
	}
}
