package iaccheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every check is proven able to fail: each fixture under testdata/ is testdata/valid with one
// mistake, and must produce exactly the one finding that names it.
func TestCheckFindsEachMistake(t *testing.T) {
	tests := []struct {
		fixture string
		kind    string
		file    string
		message string
	}{
		{"dependency_path_missing", KindDependencyPath, "live/dev/app/terragrunt.hcl", `config_path "../network" has no terragrunt.hcl`},
		{"dependency_cycle", KindCycle, "live/dev/app/terragrunt.hcl", "live/dev/app -> live/dev/net -> live/dev/app"},
		{"undeclared_input", KindUndeclaredInput, "live/dev/app/terragrunt.hcl", `input "colour" is not a variable of module "app"`},
		{"missing_required_input", KindMissingInput, "live/dev/app/terragrunt.hcl", `required variable "name" of module "app"`},
		{"unknown_output", KindUnknownOutput, "live/dev/app/terragrunt.hcl", `module "net" has no output "vpc"`},
		{"mock_missing_output", KindMockMissingOutput, "live/dev/app/terragrunt.hcl", "dependency.net.outputs.subnet_ids is used but missing from mock_outputs"},
		{"mock_allowed_for_apply", KindMockForApply, "live/dev/app/terragrunt.hcl", `allows mock outputs for "apply"`},
		{"mock_commands_missing", KindMockCommandMissing, "live/dev/app/terragrunt.hcl", `dependency "net" has mock_outputs but no mock_outputs_allowed_terraform_commands`},
		{"unknown_dependency", KindUnknownDependency, "live/dev/app/terragrunt.hcl", `there is no dependency "vpc" block`},
		{"module_source_missing", KindSource, "live/dev/net/terragrunt.hcl", `modules/network does not exist`},
		{"hcl_format", KindFormat, "live/dev/net/terragrunt.hcl", "not in canonical HCL format"},
		{"parse_error", KindParse, "live/dev/net/terragrunt.hcl", ""},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			findings, err := Check(filepath.Join("testdata", tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			var matching, others []Finding
			for _, f := range findings {
				if f.Kind == tt.kind && f.File == tt.file && strings.Contains(f.Message, tt.message) {
					matching = append(matching, f)
				} else {
					others = append(others, f)
				}
			}
			if len(matching) == 0 {
				t.Errorf("want a [%s] finding in %s containing %q; got %v", tt.kind, tt.file, tt.message, findings)
			}
			// A parse error may be reported once per diagnostic; every other mistake exactly once,
			// and nothing else may fire, so a fixture tests the check it is named after.
			if tt.kind != KindParse && len(matching) != 1 {
				t.Errorf("want exactly one matching finding, got %v", matching)
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
