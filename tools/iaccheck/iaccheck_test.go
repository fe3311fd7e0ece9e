package iaccheck

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
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
		// The heading is "ECS running < desired": the "<" goes, both spaces stay, as on GitHub.
		{"runbook_anchor_missing", KindRunbookAnchor, "modules/alerts/main.tf", []string{""}, "docs/runbook.md#ecs-running-desired, but no heading"},
		{"runbook_link_missing", KindRunbookLinkMissing, "modules/alerts/main.tf", []string{""}, "datadog_monitor.backlog: the message links no runbook section"},
		{"oidc_pull_request_subject", KindOIDCPullRequest, "modules/app/trust.tf", []string{""}, `subject "repo:${...}:pull_request" admits the pull_request runs of every branch`},
		{"oidc_subject_form", KindOIDCSubjectForm, "modules/app/trust.tf", []string{""}, `OIDC subject "repo:${...}:ref:refs/heads/main" is neither`},
		{"needs_emitted_metric", KindNeedsEmittedMetric, "modules/alerts/main.tf", []string{""}, `datadog_metric_tag_configuration.durations needs metrics Datadog has already received, but it is not created through count or for_each over var.metrics_emitted`},
		{"needs_emitted_metric_default", KindNeedsEmittedMetric, "modules/alerts/main.tf", []string{""}, `variable "metrics_emitted" must default to empty`},
		{"notifying_monitors", KindNotifyingMonitors, "modules/alerts/main.tf", []string{""}, `9 monitors of module alerts notify`},
		{"db_connect_wildcard_user", KindDBConnectScope, "modules/app/db.tf", []string{""}, `rds-db:connect on "arn:aws:rds-db:${var.region}:111111111111:dbuser:${var.resource_id}/*": want one user on one instance`},
		{"db_connect_wildcard_instance", KindDBConnectScope, "modules/app/db.tf", []string{""}, `dbuser:*/gift_api": want one user on one instance`},
		// The module's statement is right (one user, one instance); the unit gives it the wrong user.
		{"db_user_of_service", KindDBUserOfService, envcommonApp, []string{devApp}, `db_user "gift_worker" is not service "api"'s own database user "gift_api"`},
		{"oidc_subject_stringlike", KindOIDCSubjectForm, "modules/app/trust.tf", []string{""}, `must test StringEquals (exact subjects), not "StringLike"`},
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
	if n, err := UnitCount(root); err != nil || n < 28 {
		t.Fatalf("want at least 28 units (14 per environment) under live/, got %d (%v)", n, err)
	}
}

// unitFile is the whole of live/<env>/<unit>/terragrunt.hcl: the unit is defined once, in
// live/_envcommon/<unit>.hcl, and an environment differs only through its env.hcl.
func unitFile(unit string) string {
	return `include "root" {
  path = find_in_parent_folders("root.hcl")
}

include "envcommon" {
  path = "${dirname(find_in_parent_folders("root.hcl"))}/_envcommon/` + unit + `.hcl"
}
`
}

// layoutProblems checks the layout of live/ that keeps dev and prod the same configuration:
//   - every environment (a directory of live/ not starting with "_") has one unit per
//     _envcommon/<unit>.hcl, and no other;
//   - every unit file is exactly unitFile(unit): it includes root.hcl and its _envcommon file and
//     nothing else, so any difference between environments is a value in env.hcl;
//   - its includes resolve, as Terragrunt resolves them, to live/root.hcl and
//     live/_envcommon/<unit>.hcl, so the state key root.hcl derives from path_relative_to_include()
//     is <env>/<unit>, where the state of the unit has always been (a root.hcl nearer to the unit
//     would move it).
func layoutProblems(live string) ([]string, error) {
	var problems []string
	common, err := filepath.Glob(filepath.Join(live, "_envcommon", "*.hcl"))
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, f := range common {
		want[strings.TrimSuffix(filepath.Base(f), ".hcl")] = true
	}
	if len(want) == 0 {
		problems = append(problems, "no live/_envcommon/*.hcl")
	}
	entries, err := os.ReadDir(live)
	if err != nil {
		return nil, err
	}
	envs := 0
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), "_") {
			continue
		}
		envs++
		env := e.Name()
		units, err := os.ReadDir(filepath.Join(live, env))
		if err != nil {
			return nil, err
		}
		have := map[string]bool{}
		for _, u := range units {
			if !u.IsDir() {
				continue
			}
			unit := u.Name()
			have[unit] = true
			file := filepath.Join(live, env, unit, "terragrunt.hcl")
			if !want[unit] {
				problems = append(problems, fmt.Sprintf("%s/%s: no _envcommon/%s.hcl defines this unit", env, unit, unit))
				continue
			}
			src, err := os.ReadFile(file)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s/%s: %v", env, unit, err))
				continue
			}
			if string(src) != unitFile(unit) {
				problems = append(problems, fmt.Sprintf("%s/%s/terragrunt.hcl must only include root.hcl and _envcommon/%s.hcl (put a per-environment value in %s/env.hcl)", env, unit, unit, env))
				continue
			}
			incs, err := Includes(file)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s/%s: includes: %v", env, unit, err))
				continue
			}
			absLive, _ := filepath.Abs(live)
			for _, inc := range incs {
				switch inc.Label {
				case "root":
					if inc.Path != filepath.Join(absLive, "root.hcl") {
						problems = append(problems, fmt.Sprintf("%s/%s: include root resolves to %s, not live/root.hcl", env, unit, inc.Path))
					}
					key, _ := filepath.Rel(filepath.Dir(inc.Path), filepath.Join(absLive, env, unit))
					if filepath.ToSlash(key) != env+"/"+unit {
						problems = append(problems, fmt.Sprintf("%s/%s: state key would be %s/terraform.tfstate, not %s/%s/terraform.tfstate", env, unit, filepath.ToSlash(key), env, unit))
					}
				case "envcommon":
					if inc.Path != filepath.Join(absLive, "_envcommon", unit+".hcl") {
						problems = append(problems, fmt.Sprintf("%s/%s: include envcommon resolves to %s", env, unit, inc.Path))
					}
				}
			}
		}
		for _, unit := range sortedKeys(want) {
			if !have[unit] {
				problems = append(problems, fmt.Sprintf("%s: no unit %s, though _envcommon/%s.hcl defines it", env, unit, unit))
			}
		}
	}
	if envs < 2 {
		problems = append(problems, fmt.Sprintf("want at least two environments under %s, got %d", live, envs))
	}
	return problems, nil
}

// dev and prod are the same configuration: every unit is defined once in live/_envcommon, and its
// terragrunt.hcl in each environment only includes root.hcl and that file.
func TestEnvironmentsShareTheirUnits(t *testing.T) {
	problems, err := layoutProblems(filepath.Join("..", "..", "live"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// The layout check can fail: prod lacks a unit, has one _envcommon does not define, carries an
// override in a unit file, and has a root.hcl of its own that would move the state of its units.
func TestLayoutProblemsFindsEachMistake(t *testing.T) {
	live := filepath.Join(t.TempDir(), "live")
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(live, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("root.hcl", "")
	write("_envcommon/net.hcl", "")
	write("_envcommon/app.hcl", "")
	write("_envcommon/db.hcl", "")
	write("dev/net/terragrunt.hcl", unitFile("net"))
	write("dev/app/terragrunt.hcl", unitFile("app"))
	write("dev/db/terragrunt.hcl", unitFile("db"))
	write("prod/root.hcl", "")
	write("prod/net/terragrunt.hcl", unitFile("net"))
	write("prod/app/terragrunt.hcl", unitFile("app")+"\ninputs = {\n  size = 2\n}\n")
	write("prod/cache/terragrunt.hcl", unitFile("cache"))

	problems, err := layoutProblems(live)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"prod/app/terragrunt.hcl must only include root.hcl and _envcommon/app.hcl",
		"prod: no unit db, though _envcommon/db.hcl defines it",
		"prod/cache: no _envcommon/cache.hcl defines this unit",
		"prod/net: include root resolves to",
		"prod/net: state key would be net/terraform.tfstate, not prod/net/terraform.tfstate",
		"prod/net: include envcommon resolves to", // dirname(find_in_parent_folders("root.hcl")) moved too
	} {
		found := false
		for _, p := range problems {
			found = found || strings.Contains(p, want)
		}
		if !found {
			t.Errorf("want a problem containing %q; got %q", want, problems)
		}
	}
	if len(problems) != 6 {
		t.Errorf("want exactly the 6 problems above, got %d: %q", len(problems), problems)
	}
}

// The two subject forms a role may trust, and the near misses: GitHub's "@" form is the immutable
// one (its changelog's first example joined the id with "-"), and every id is exact.
func TestSubjectFormOK(t *testing.T) {
	tests := []struct {
		subject string
		ok      bool
	}{
		{"repo:${...}/${...}:environment:${...}", true},
		{"repo:${...}@${...}/${...}@${...}:environment:${...}", true},
		{"repo:octo-org/app:environment:prod", true},
		{"repo:octo-org@123456/app@456789:environment:prod", true},
		{"repo:${...}:environment:${...}", false},                      // OWNER/NAME as one value: its form cannot be checked
		{"repo:${...}@*/${...}@*:environment:${...}", false},           // wildcard ids
		{"repo:octo-org@123456/app:environment:prod", false},           // one id without the other
		{"repo:${...}-${...}/${...}-${...}:environment:${...}", false}, // "-" joined ids: not what GitHub issues
		{"repo:octo-org/app:environment:*", false},
		{"repo:octo-org/app:ref:refs/heads/main", false},
		{"repo:octo-org/app:environment:prod:extra", false},
	}
	for _, tt := range tests {
		if got := SubjectFormOK(tt.subject); got != tt.ok {
			t.Errorf("SubjectFormOK(%q) = %v, want %v", tt.subject, got, tt.ok)
		}
	}
}

// GitHub's anchors, as its renderer makes them; a wrong rule here would let a broken link pass.
func TestAnchorFollowsGitHub(t *testing.T) {
	tests := []struct{ heading, want string }{
		{"Worker stopped", "worker-stopped"},
		{"ECS running < desired", "ecs-running--desired"},
		{"ALB 5xx / API errors", "alb-5xx--api-errors"},
		{"0. Before anything", "0-before-anything"},
		{"`giftctl` and the [DLQ](https://example.com)", "giftctl-and-the-dlq"},
		{"API availability: error budget burning", "api-availability-error-budget-burning"},
		{"snake_case stays", "snake_case-stays"},
		{"Émoji é", "émoji-é"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := Anchor(tt.heading); got != tt.want {
				t.Errorf("Anchor(%q) = %q, want %q", tt.heading, got, tt.want)
			}
		})
	}
}

func TestAnchorsSkipCodeAndNumberRepeats(t *testing.T) {
	md := "# A\n\n```bash\n# not a heading\n```\n\n## B\n## B\n~~~\n## hidden\n~~~\n### B\n"
	want := []string{"a", "b", "b-1", "b-2"}
	if got := Anchors([]byte(md)); !slices.Equal(got, want) {
		t.Errorf("Anchors = %q, want %q", got, want)
	}
}

// awsProviderProblems checks live/root.hcl's units_without_aws_provider against the modules: a unit
// gets the generated provider "aws" exactly when its module requires hashicorp/aws, and the
// generate "provider" block is disabled through that list.
func awsProviderProblems(root string) ([]string, error) {
	parse := func(file string) (*hclsyntax.Body, error) {
		src, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		f, diags := hclsyntax.ParseConfig(src, file, hcl.Pos{Line: 1, Column: 1})
		if diags.HasErrors() {
			return nil, diags
		}
		return f.Body.(*hclsyntax.Body), nil
	}
	rootHCL, err := parse(filepath.Join(root, "live", "root.hcl"))
	if err != nil {
		return nil, err
	}
	var problems []string
	without := map[string]bool{}
	disabled := false
	for _, b := range rootHCL.Blocks {
		switch {
		case b.Type == "locals":
			if a, ok := b.Body.Attributes["units_without_aws_provider"]; ok {
				items, diags := hcl.ExprList(a.Expr)
				if diags.HasErrors() {
					return nil, diags
				}
				for _, it := range items {
					if s, ok := literalString(it); ok {
						without[s] = true
					}
				}
			}
		case b.Type == "generate" && len(b.Labels) == 1 && b.Labels[0] == "provider":
			if a, ok := b.Body.Attributes["disable"]; ok {
				for _, tr := range a.Expr.Variables() {
					if s, _ := stepName(tr[1]); tr.RootName() == "local" && s == "units_without_aws_provider" {
						disabled = true
					}
				}
			}
		}
	}
	if !disabled {
		problems = append(problems, `generate "provider" in live/root.hcl is not disabled through local.units_without_aws_provider`)
	}
	common, err := filepath.Glob(filepath.Join(root, "live", "_envcommon", "*.hcl"))
	if err != nil {
		return nil, err
	}
	for _, f := range common {
		unit := strings.TrimSuffix(filepath.Base(f), ".hcl")
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		m := moduleSourceRE.FindSubmatch(src)
		if m == nil {
			problems = append(problems, unit+": no module source")
			continue
		}
		versions, err := parse(filepath.Join(root, "modules", string(m[1]), "versions.tf"))
		if err != nil {
			return nil, err
		}
		needsAWS := false
		for _, tb := range versions.Blocks {
			for _, rp := range tb.Body.Blocks {
				if rp.Type == "required_providers" {
					_, needsAWS = rp.Body.Attributes["aws"]
				}
			}
		}
		switch {
		case needsAWS && without[unit]:
			problems = append(problems, fmt.Sprintf("unit %s: module %s requires hashicorp/aws but root.hcl lists the unit in units_without_aws_provider", unit, m[1]))
		case !needsAWS && !without[unit]:
			problems = append(problems, fmt.Sprintf("unit %s: module %s requires no hashicorp/aws; add the unit to units_without_aws_provider in live/root.hcl, or it gets an unconstrained AWS provider", unit, m[1]))
		}
	}
	return problems, nil
}

// The AWS provider is generated into every unit whose module uses it, and into no other.
func TestRootGeneratesTheAWSProviderOnlyWhereAModuleRequiresIt(t *testing.T) {
	problems, err := awsProviderProblems(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
