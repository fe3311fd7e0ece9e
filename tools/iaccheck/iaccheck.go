// Package iaccheck checks, offline, that the Terragrunt units under live/ are wired correctly to
// the Terraform modules under modules/: the mistakes `terragrunt run --all plan` would otherwise
// find in CI (or not at all, since Terragrunt passes inputs as TF_VAR_ variables and silently drops
// the ones a module does not declare).
//
// A unit is checked as Terragrunt sees it: its terragrunt.hcl merged with the files its include
// blocks name (live/root.hcl, live/_envcommon/<unit>.hcl), with Terragrunt's default shallow merge.
// Paths in every merged file (dependency config_path, find_in_parent_folders) resolve from the
// unit's directory, as Terragrunt resolves them. A mistake in an included file is therefore
// reported once for each unit that includes it.
//
// It parses the HCL only; it evaluates nothing but literals and the path functions of include and
// config_path (find_in_parent_folders, get_terragrunt_dir, dirname, basename), so it needs no
// provider, no network and no Terragrunt binary.
//
// It also checks the links into docs/runbook.md (runbook.go): monitors must land on an existing
// section; and that a task role's rds-db:connect names one database user of one instance, the
// service's own (checkDBConnect, checkDBUserOfService).
package iaccheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Kinds of findings. Each is proven able to fire by a fixture under testdata/.
const (
	KindParse              = "parse"                     // a file does not parse
	KindFormat             = "hcl-format"                // a live/ file is not in canonical HCL format
	KindInclude            = "include"                   // an include Terragrunt would refuse (missing file, nested include)
	KindDuplicateGenerate  = "duplicate-generate"        // the same generate block name in two merged files
	KindSource             = "module-source"             // terraform.source names no module under modules/
	KindDependencyPath     = "dependency-path"           // config_path (or dependencies.paths) has no unit
	KindCycle              = "dependency-cycle"          // units depend on each other in a loop
	KindUndeclaredInput    = "undeclared-input"          // an input the module has no variable for
	KindMissingInput       = "missing-input"             // a required module variable not given
	KindUnknownDependency  = "unknown-dependency"        // dependency.X used but no dependency "X" block
	KindUnknownOutput      = "unknown-output"            // dependency.X.outputs.Y where X's module has no output Y
	KindMockMissingOutput  = "mock-missing-output"       // dependency.X.outputs.Y used but not in X's mock_outputs
	KindMockCommandMissing = "mock-commands-missing"     // mock_outputs without mock_outputs_allowed_terraform_commands
	KindMockForApply       = "mock-allowed-for-apply"    // mocks allowed for a command other than validate/plan
	KindOIDCPullRequest    = "oidc-pull-request-subject" // a module trusts the GitHub OIDC subject repo:OWNER/NAME:pull_request
	KindOIDCSubjectForm    = "oidc-subject-form"         // an OIDC subject not in one of the two exact environment forms, or matched with a test other than StringEquals
	KindNeedsEmittedMetric = "needs-emitted-metric"      // a resource that needs a metric Datadog has received is not gated by var.metrics_emitted (empty by default): alerts.go
	KindNotifyingMonitors  = "notifying-monitors"        // more than 8 monitors of a module notify: alerts.go
	KindRunbookAnchor      = "runbook-anchor"            // a link to docs/runbook.md#x where no heading has anchor x
	KindRunbookLinkMissing = "runbook-link-missing"      // a datadog_monitor whose message links no runbook section
	KindDBConnectScope     = "db-connect-scope"          // rds-db:connect on anything but one dbuser of one instance (a wildcard, a list, a computed value)
	KindDBUserOfService    = "db-user-of-service"        // a service unit's db_user is not its own database user gift_<service_name>
)

// dbUserARNRE matches the one resource rds-db:connect may have in a module: the dbuser ARN of one
// user on one instance, each part a literal or one interpolation, no wildcard anywhere:
// arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:DBI_RESOURCE_ID/USER.
var dbUserARNRE = regexp.MustCompile(`^arn:[^*:]+:rds-db:[^*:]+:[^*:]+:dbuser:[^*:/]+/[^*:/]+$`)

// pullRequestSubjectRE matches a GitHub Actions OIDC subject for pull_request runs, the repository
// part possibly interpolated: repo:OWNER/NAME:pull_request. GitHub issues it to the pull_request
// runs of every branch, whose workflow files the branch itself may have edited, so a role that
// trusts it is open to anyone who can push a branch (docs: modules/ci-iam/README.md).
var pullRequestSubjectRE = regexp.MustCompile(`^repo:[^:]+:pull_request$`)

// subjectFormRE matches the two GitHub OIDC subjects a role may trust, each part one literal name
// or one interpolation: repo:OWNER/NAME:environment:ENV (by name) and
// repo:OWNER@OWNER_ID/NAME@REPO_ID:environment:ENV (immutable subject claims, GitHub's "@" form).
// No wildcard, no other context (a branch, a tag, pull_request), no other id separator.
var subjectFormRE = func() *regexp.Regexp {
	part := `(?:\$\{\.\.\.\}|[A-Za-z0-9_.-]+)`
	return regexp.MustCompile(`^repo:` + part + `(?:@` + part + `)?/` + part + `(?:@` + part + `)?:environment:` + part + `$`)
}()

// subjectIDsRE tells the immutable form (both ids) from the name form (neither): one id without the
// other is no subject GitHub issues.
var subjectIDsRE = regexp.MustCompile(`^repo:[^@/]+(@[^/]+)?/[^@:]+(@[^:]+)?:`)

// mockCommands are the only commands mocks may serve: anything that changes real infrastructure
// (apply, destroy, import, ...) must see the dependency's real outputs.
var mockCommands = []string{"validate", "plan"}

// Finding is one problem. File is the file holding the mistake (where to fix it) and Unit the unit
// directory whose merged configuration has it ("" for per-file checks: parse, format); both are
// relative to the checked root. A mistake in an included file yields one finding per unit.
type Finding struct {
	Kind    string
	File    string
	Unit    string
	Message string
}

func (f Finding) String() string {
	if f.Unit != "" && path.Dir(f.File) != f.Unit {
		return fmt.Sprintf("%s: [%s] in unit %s: %s", f.File, f.Kind, f.Unit, f.Message)
	}
	return fmt.Sprintf("%s: [%s] %s", f.File, f.Kind, f.Message)
}

// module is what a unit needs to know about a Terraform module.
type module struct {
	variables map[string]bool // name -> required (no default)
	outputs   map[string]bool
}

// parsedFile is one parsed .hcl or .tf file; parse errors are reported once per file.
type parsedFile struct {
	path string
	src  []byte
	body *hclsyntax.Body
}

type dependency struct {
	name        string
	file        string // file holding the block (after merging: the one that won)
	configPath  string // as evaluated, relative to the unit
	pathProblem string // why config_path could not be resolved, if it could not
	dir         string // absolute unit directory it points at
	mockOutputs map[string]bool
	hasMocks    bool
	commands    []string
	hasCommands bool
}

type reference struct {
	file   string
	dep    string
	output string // "" when the whole outputs object is used
}

type input struct {
	file string
	rng  hcl.Range
	expr hcl.Expression // the value, for the checks of literal inputs
}

type extraDep struct {
	file string
	dir  string // absolute
}

// unit is the merged configuration of one terragrunt.hcl and the files it includes.
type unit struct {
	dir        string // absolute
	file       string // absolute path of terragrunt.hcl
	moduleName string
	sourceFile string // file whose terraform.source won ("" when none has one)
	deps       map[string]*dependency
	extraDeps  []extraDep // from dependencies { paths }, concatenated over the merged files
	inputs     map[string]input
	hasInputs  bool
	refs       []reference
	broken     bool // a file of the unit did not parse, or an include failed; already reported
}

var moduleSourceRE = regexp.MustCompile(`//modules/([A-Za-z0-9_-]+)`)

// Check parses root/modules and root/live and returns every finding, sorted.
func Check(root string) ([]Finding, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	c := &checker{root: root, modules: map[string]*module{}, units: map[string]*unit{}, files: map[string]*parsedFile{}}
	if err := c.loadModules(filepath.Join(root, "modules")); err != nil {
		return nil, err
	}
	if err := c.loadLive(filepath.Join(root, "live")); err != nil {
		return nil, err
	}
	if len(c.units) == 0 {
		return nil, fmt.Errorf("no terragrunt.hcl under %s", filepath.Join(root, "live"))
	}
	for _, dir := range c.sortedUnitDirs() {
		c.checkUnit(c.units[dir])
	}
	c.checkCycles()
	if err := c.checkRunbook(); err != nil {
		return nil, err
	}
	sort.Slice(c.findings, func(i, j int) bool {
		a, b := c.findings[i], c.findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Unit != b.Unit {
			return a.Unit < b.Unit
		}
		return a.Message < b.Message
	})
	return slices.Compact(c.findings), nil
}

// UnitCount reports how many units Check saw, so a caller can tell "no findings" from "nothing read".
func UnitCount(root string) (int, error) {
	n := 0
	err := filepath.WalkDir(filepath.Join(root, "live"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && skipDir(d.Name()) {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "terragrunt.hcl" {
			n++
		}
		return nil
	})
	return n, err
}

// Include is one include block of a unit, resolved as Terragrunt resolves it.
type Include struct {
	Label string
	Path  string // absolute
}

// Includes returns the include blocks of the unit file, in order, with their paths evaluated from
// the unit's directory (find_in_parent_folders, get_terragrunt_dir, dirname, basename).
func Includes(unitFile string) ([]Include, error) {
	src, err := os.ReadFile(unitFile)
	if err != nil {
		return nil, err
	}
	f, diags := hclsyntax.ParseConfig(src, unitFile, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return nil, diags
	}
	var out []Include
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "include" {
			continue
		}
		a, ok := b.Body.Attributes["path"]
		if !ok {
			return nil, fmt.Errorf("include without path")
		}
		p, err := evalPath(a.Expr, unitFile)
		if err != nil {
			return nil, err
		}
		label := ""
		if len(b.Labels) > 0 {
			label = b.Labels[0]
		}
		out = append(out, Include{Label: label, Path: p})
	}
	return out, nil
}

type checker struct {
	root     string
	modules  map[string]*module
	units    map[string]*unit
	files    map[string]*parsedFile // nil value: did not parse
	findings []Finding
}

func (c *checker) rel(p string) string {
	r, err := filepath.Rel(c.root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(r)
}

// add reports a problem of a file as such (parse, format).
func (c *checker) add(kind, file, format string, args ...any) {
	c.findings = append(c.findings, Finding{Kind: kind, File: c.rel(file), Message: fmt.Sprintf(format, args...)})
}

// addUnit reports a problem of unit u found in file (the unit's own file or one it includes).
func (c *checker) addUnit(u *unit, kind, file, format string, args ...any) {
	c.findings = append(c.findings, Finding{Kind: kind, File: c.rel(file), Unit: c.rel(u.dir), Message: fmt.Sprintf(format, args...)})
}

func (c *checker) addDiags(file string, diags hcl.Diagnostics) {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			c.add(KindParse, file, "%s", d.Error())
		}
	}
}

func skipDir(name string) bool {
	return name == ".terragrunt-cache" || name == ".terraform" || strings.HasPrefix(name, ".git")
}

func (c *checker) loadModules(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read modules: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		m := &module{variables: map[string]bool{}, outputs: map[string]bool{}}
		files, err := filepath.Glob(filepath.Join(dir, e.Name(), "*.tf"))
		if err != nil {
			return err
		}
		var parsed []*parsedFile
		for _, f := range files {
			pf := c.parse(f)
			if pf == nil {
				continue
			}
			parsed = append(parsed, pf)
			c.checkOIDCSubjects(pf)
			c.checkDBConnect(pf)
			for _, b := range pf.body.Blocks {
				switch {
				case b.Type == "variable" && len(b.Labels) == 1:
					_, hasDefault := b.Body.Attributes["default"]
					m.variables[b.Labels[0]] = !hasDefault
				case b.Type == "output" && len(b.Labels) == 1:
					m.outputs[b.Labels[0]] = true
				}
			}
		}
		c.checkAlerts(parsed)
		c.modules[e.Name()] = m
	}
	return nil
}

// checkOIDCSubjects reports every string of a module file that is an OIDC subject GitHub Actions
// roles must not trust, wherever it sits (a condition's values, a local, a default): the literal
// text of a template with each interpolation standing for one non-empty value. A bare pull_request
// subject is its own finding; any other "repo:..." string must be one of the two exact environment
// forms (subjectFormRE). A condition on the "...:sub" claim must test StringEquals: StringLike
// would let a "*" stand for an id or an environment.
func (c *checker) checkOIDCSubjects(pf *parsedFile) {
	_ = hclsyntax.VisitAll(pf.body, func(n hclsyntax.Node) hcl.Diagnostics {
		switch n := n.(type) {
		case *hclsyntax.TemplateExpr:
			s := templateText(n)
			line := n.SrcRange.Start.Line
			switch {
			case pullRequestSubjectRE.MatchString(s):
				c.add(KindOIDCPullRequest, pf.path, "line %d: trust policy subject %q admits the pull_request runs of every branch (which may edit the workflow); trust a GitHub environment with protection rules instead: repo:OWNER/NAME:environment:NAME (modules/ci-iam/README.md)", line, s)
			case strings.HasPrefix(s, "repo:"):
				if !SubjectFormOK(s) {
					c.add(KindOIDCSubjectForm, pf.path, "line %d: OIDC subject %q is neither repo:OWNER/NAME:environment:ENV nor repo:OWNER@OWNER_ID/NAME@REPO_ID:environment:ENV, each part exact (no wildcard; modules/ci-iam/README.md, \"Subject claims\")", line, s)
				}
			}
		case *hclsyntax.Block:
			if n.Type != "condition" {
				return nil
			}
			v, okV := n.Body.Attributes["variable"]
			t, okT := n.Body.Attributes["test"]
			if !okV || !okT {
				return nil
			}
			vt, ok := v.Expr.(*hclsyntax.TemplateExpr)
			if !ok || !strings.HasSuffix(templateText(vt), ":sub") {
				return nil
			}
			if test, ok := literalString(t.Expr); !ok || test != "StringEquals" {
				c.add(KindOIDCSubjectForm, pf.path, "line %d: the OIDC subject condition must test StringEquals (exact subjects), not %s", t.SrcRange.Start.Line, hclText(pf.src, t.Expr.Range()))
			}
		}
		return nil
	})
}

// checkDBConnect reports every IAM policy statement of a module file (a statement block, or the
// content of a dynamic one) that allows rds-db:connect (or rds-db:*) on anything but exactly one
// dbuser ARN written out as a template (dbUserARNRE): a wildcard user or instance, a list of users,
// or a value computed elsewhere that this check cannot see. Which user that is, per service, is
// checked on the units (checkDBUserOfService).
func (c *checker) checkDBConnect(pf *parsedFile) {
	_ = hclsyntax.VisitAll(pf.body, func(n hclsyntax.Node) hcl.Diagnostics {
		b, ok := n.(*hclsyntax.Block)
		if !ok || (b.Type != "statement" && b.Type != "content") {
			return nil
		}
		actions, ok := b.Body.Attributes["actions"]
		if !ok || !allowsDBConnect(actions.Expr) {
			return nil
		}
		line := b.TypeRange.Start.Line
		res, ok := b.Body.Attributes["resources"]
		if !ok {
			c.add(KindDBConnectScope, pf.path, "line %d: rds-db:connect without resources", line)
			return nil
		}
		tuple, ok := res.Expr.(*hclsyntax.TupleConsExpr)
		if !ok || len(tuple.Exprs) != 1 {
			c.add(KindDBConnectScope, pf.path, "line %d: rds-db:connect must name exactly one database user, as a list of one dbuser ARN written here, not %s", line, hclText(pf.src, res.Expr.Range()))
			return nil
		}
		text := ""
		switch e := tuple.Exprs[0].(type) {
		case *hclsyntax.TemplateExpr:
			text = templateText(e)
		case *hclsyntax.LiteralValueExpr:
			if e.Val.Type() == cty.String {
				text = e.Val.AsString()
			}
		}
		if !dbUserARNRE.MatchString(text) {
			c.add(KindDBConnectScope, pf.path, "line %d: rds-db:connect on %s: want one user on one instance, arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:DBI_RESOURCE_ID/USER, no wildcard", line, hclText(pf.src, tuple.Exprs[0].Range()))
		}
		return nil
	})
}

// allowsDBConnect reports whether an actions list names rds-db:connect, by itself or by a wildcard
// over rds-db.
func allowsDBConnect(expr hclsyntax.Expression) bool {
	tuple, ok := expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		return false
	}
	for _, e := range tuple.Exprs {
		if a, ok := literalString(e); ok {
			a = strings.ToLower(a)
			if a == "rds-db:connect" || (strings.HasPrefix(a, "rds-db:") && strings.Contains(a, "*")) {
				return true
			}
		}
	}
	return false
}

// checkDBUserOfService reports a unit that gives its service another service's database user:
// with service_name and db_user both literal inputs, db_user must be gift_<service_name> (the task
// role of that service may rds-db:connect as db_user, docs/architecture.md).
func (c *checker) checkDBUserOfService(u *unit) {
	svc, okS := u.inputs["service_name"]
	user, okU := u.inputs["db_user"]
	if !okS || !okU {
		return
	}
	name, okN := literalString(svc.expr)
	got, okG := literalString(user.expr)
	if !okG {
		c.addUnit(u, KindDBUserOfService, user.file, "db_user must be a literal database user (gift_<service_name>), so that the user a task role may connect as is reviewable here")
		return
	}
	if okN && got != "gift_"+name {
		c.addUnit(u, KindDBUserOfService, user.file, "db_user %q is not service %q's own database user %q: its task role would connect as another service's user", got, name, "gift_"+name)
	}
}

// SubjectFormOK reports whether s (a template's text, interpolations as "${...}") is one of the two
// subject forms a role may trust: repo:OWNER/NAME:environment:ENV or
// repo:OWNER@OWNER_ID/NAME@REPO_ID:environment:ENV.
func SubjectFormOK(s string) bool {
	m := subjectIDsRE.FindStringSubmatch(s)
	return subjectFormRE.MatchString(s) && m != nil && (m[1] == "") == (m[2] == "")
}

// templateText is the literal text of a template, each interpolation written as "${...}".
func templateText(t *hclsyntax.TemplateExpr) string {
	var b strings.Builder
	for _, part := range t.Parts {
		if lit, ok := part.(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String {
			b.WriteString(lit.Val.AsString())
		} else {
			b.WriteString("${...}")
		}
	}
	return b.String()
}

func hclText(src []byte, r hcl.Range) string { return string(src[r.Start.Byte:r.End.Byte]) }

// parse parses a file once; a file that does not parse is reported once and yields nil.
func (c *checker) parse(file string) *parsedFile {
	if pf, ok := c.files[file]; ok {
		return pf
	}
	c.files[file] = nil
	src, err := os.ReadFile(file)
	if err != nil {
		c.add(KindParse, file, "%v", err)
		return nil
	}
	f, diags := hclsyntax.ParseConfig(src, c.rel(file), hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		c.addDiags(file, diags)
		return nil
	}
	pf := &parsedFile{path: file, src: src, body: f.Body.(*hclsyntax.Body)}
	c.files[file] = pf
	return pf
}

func (c *checker) loadLive(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if filepath.Ext(path) != ".hcl" {
			return nil
		}
		c.checkFormat(path)
		if d.Name() == "terragrunt.hcl" {
			c.loadUnit(path)
		}
		return nil
	})
}

// checkFormat stands in for `terragrunt hcl fmt --check`: canonical HCL layout (hclwrite.Format).
func (c *checker) checkFormat(file string) {
	src, err := os.ReadFile(file)
	if err != nil {
		c.add(KindParse, file, "%v", err)
		return
	}
	if _, diags := hclwrite.ParseConfig(src, c.rel(file), hcl.Pos{Line: 1, Column: 1}); diags.HasErrors() {
		c.addDiags(file, diags)
		return
	}
	if got := hclwrite.Format(src); string(got) != string(src) {
		c.add(KindFormat, file, "not in canonical HCL format (run: cd tools/iaccheck && go run ./cmd/iaccheck -fix)")
	}
}

// loadUnit reads a unit and merges the files it includes into it the way Terragrunt does by
// default (shallow merge): later includes override earlier ones and the unit file overrides them
// all; dependency blocks, inputs and generate blocks are replaced by name, dependencies.paths are
// concatenated, and locals stay private to the file that defines them.
func (c *checker) loadUnit(file string) {
	u := &unit{dir: filepath.Dir(file), file: file, deps: map[string]*dependency{}, inputs: map[string]input{}}
	c.units[u.dir] = u
	own := c.parse(file)
	if own == nil {
		u.broken = true
		return
	}
	layers := c.includedFiles(u, own)
	if u.broken {
		return
	}
	layers = append(layers, own)

	generates := map[string]string{} // generate block name -> file defining it
	for _, l := range layers {
		for _, b := range l.body.Blocks {
			if b.Type != "generate" || len(b.Labels) != 1 {
				continue
			}
			// Terragrunt refuses a generate block name defined in more than one merged file.
			if first, dup := generates[b.Labels[0]]; dup {
				c.addUnit(u, KindDuplicateGenerate, l.path, "generate %q is also defined in %s; Terragrunt refuses duplicate generate blocks across includes", b.Labels[0], c.rel(first))
				continue
			}
			generates[b.Labels[0]] = l.path
		}
		c.mergeLayer(u, l)
	}
}

// includedFiles resolves and parses the unit's include blocks, in order. An include Terragrunt
// would refuse is reported and marks the unit broken.
func (c *checker) includedFiles(u *unit, own *parsedFile) []*parsedFile {
	var out []*parsedFile
	for _, b := range own.body.Blocks {
		if b.Type != "include" {
			continue
		}
		label := ""
		if len(b.Labels) > 0 {
			label = b.Labels[0]
		}
		a, ok := b.Body.Attributes["path"]
		if !ok {
			c.addUnit(u, KindInclude, u.file, "include %q has no path", label)
			u.broken = true
			continue
		}
		p, err := evalPath(a.Expr, u.file)
		if err != nil {
			c.addUnit(u, KindInclude, u.file, "include %q: %v", label, err)
			u.broken = true
			continue
		}
		if _, err := os.Stat(p); err != nil {
			c.addUnit(u, KindInclude, u.file, "include %q: %s does not exist", label, c.rel(p))
			u.broken = true
			continue
		}
		strategy := "shallow"
		if ms, ok := b.Body.Attributes["merge_strategy"]; ok {
			strategy, _ = literalString(ms.Expr)
		}
		inc := c.parse(p)
		if inc == nil {
			u.broken = true // the parse error is reported for the included file
			continue
		}
		for _, nb := range inc.body.Blocks {
			if nb.Type == "include" {
				c.addUnit(u, KindInclude, p, "included by %s but has an include block itself; Terragrunt supports one level of include", c.rel(u.file))
				u.broken = true
			}
		}
		switch strategy {
		case "shallow":
			out = append(out, inc)
		case "no_merge":
			// read for expose only: contributes nothing to the unit's configuration
		default:
			c.addUnit(u, KindInclude, u.file, "include %q: merge_strategy %q is not modelled by iaccheck (it checks the default shallow merge)", label, strategy)
			u.broken = true
		}
	}
	return out
}

// mergeLayer merges one file of the unit over what earlier (lower-precedence) files gave.
func (c *checker) mergeLayer(u *unit, l *parsedFile) {
	for _, b := range l.body.Blocks {
		switch b.Type {
		case "terraform":
			if a, ok := b.Body.Attributes["source"]; ok {
				r := a.Expr.Range()
				u.sourceFile = l.path
				u.moduleName = ""
				if m := moduleSourceRE.FindSubmatch(l.src[r.Start.Byte:r.End.Byte]); m != nil {
					u.moduleName = string(m[1])
				}
			}
		case "dependency":
			if len(b.Labels) == 1 {
				u.deps[b.Labels[0]] = c.loadDependency(u, l.path, b)
			}
		case "dependencies":
			if a, ok := b.Body.Attributes["paths"]; ok {
				for _, p := range c.stringList(u, l.path, a.Expr) {
					u.extraDeps = append(u.extraDeps, extraDep{file: l.path, dir: filepath.Join(u.dir, p)})
				}
			}
		}
	}
	if a, ok := l.body.Attributes["inputs"]; ok {
		u.hasInputs = true
		pairs, diags := hcl.ExprMap(a.Expr)
		c.addDiags(l.path, diags)
		for _, kv := range pairs {
			if k, ok := literalString(kv.Key); ok {
				u.inputs[k] = input{file: l.path, rng: kv.Key.Range(), expr: kv.Value}
			}
		}
	}
	// Every reference to dependency.X[.outputs.Y] anywhere in the file (inputs, locals, generate):
	// Terragrunt resolves them against the unit's merged dependency blocks.
	_ = hclsyntax.VisitAll(l.body, func(n hclsyntax.Node) hcl.Diagnostics {
		t, ok := n.(*hclsyntax.ScopeTraversalExpr)
		if !ok || t.Traversal.RootName() != "dependency" {
			return nil
		}
		steps := t.Traversal
		if len(steps) < 2 {
			return nil
		}
		ref := reference{file: l.path}
		ref.dep, _ = stepName(steps[1])
		if len(steps) >= 4 {
			if s, _ := stepName(steps[2]); s == "outputs" {
				ref.output, _ = stepName(steps[3])
			}
		}
		u.refs = append(u.refs, ref)
		return nil
	})
}

func (c *checker) loadDependency(u *unit, file string, b *hclsyntax.Block) *dependency {
	d := &dependency{name: b.Labels[0], file: file, mockOutputs: map[string]bool{}}
	if a, ok := b.Body.Attributes["config_path"]; ok {
		if p, err := evalPath(a.Expr, u.file); err != nil {
			d.pathProblem = fmt.Sprintf("config_path: %v", err)
		} else {
			d.dir = p
			d.configPath, _ = filepath.Rel(u.dir, p)
			d.configPath = filepath.ToSlash(d.configPath)
		}
	} else {
		d.pathProblem = "no config_path"
	}
	if a, ok := b.Body.Attributes["mock_outputs"]; ok {
		d.hasMocks = true
		pairs, diags := hcl.ExprMap(a.Expr)
		c.addDiags(file, diags)
		for _, kv := range pairs {
			if k, ok := literalString(kv.Key); ok {
				d.mockOutputs[k] = true
			}
		}
	}
	if a, ok := b.Body.Attributes["mock_outputs_allowed_terraform_commands"]; ok {
		d.hasCommands = true
		items, diags := hcl.ExprList(a.Expr)
		c.addDiags(file, diags)
		for _, it := range items {
			if s, ok := literalString(it); ok {
				d.commands = append(d.commands, s)
			}
		}
	}
	return d
}

// stringList evaluates a list of paths relative to the unit (literals or path functions).
func (c *checker) stringList(u *unit, file string, expr hcl.Expression) []string {
	items, diags := hcl.ExprList(expr)
	c.addDiags(file, diags)
	var out []string
	for _, it := range items {
		p, err := evalPath(it, u.file)
		if err != nil {
			c.addUnit(u, KindDependencyPath, file, "dependencies.paths entry: %v", err)
			continue
		}
		r, _ := filepath.Rel(u.dir, p)
		out = append(out, r)
	}
	return out
}

// evalPath evaluates a path expression of an include or dependency block the way Terragrunt does
// for the unit unitFile: function calls run in the unit's context whichever file holds the
// expression, and a relative result is relative to the unit's directory. Only literals, string
// templates and the functions below are supported; anything else (locals, other functions) is an
// error, since iaccheck cannot evaluate it.
func evalPath(expr hcl.Expression, unitFile string) (string, error) {
	unitFile, err := filepath.Abs(unitFile)
	if err != nil {
		return "", err
	}
	unitDir := filepath.Dir(unitFile)
	str := func(impl func(args []cty.Value) (string, error), params ...string) function.Function {
		spec := &function.Spec{Type: function.StaticReturnType(cty.String)}
		for _, p := range params {
			spec.Params = append(spec.Params, function.Parameter{Name: p, Type: cty.String})
		}
		spec.Impl = func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			s, err := impl(args)
			if err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(s), nil
		}
		return function.New(spec)
	}
	ctx := &hcl.EvalContext{Functions: map[string]function.Function{
		"find_in_parent_folders": str(func(args []cty.Value) (string, error) {
			return findInParentFolders(unitDir, args[0].AsString())
		}, "name"),
		"get_terragrunt_dir": str(func([]cty.Value) (string, error) { return unitDir, nil }),
		"dirname":            str(func(a []cty.Value) (string, error) { return filepath.Dir(a[0].AsString()), nil }, "path"),
		"basename":           str(func(a []cty.Value) (string, error) { return filepath.Base(a[0].AsString()), nil }, "path"),
	}}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		var msgs []string
		for _, d := range diags {
			msgs = append(msgs, d.Detail)
		}
		return "", fmt.Errorf("cannot evaluate (iaccheck evaluates literals, find_in_parent_folders, get_terragrunt_dir, dirname, basename): %s", strings.Join(msgs, "; "))
	}
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", errors.New("is not a string")
	}
	p := v.AsString()
	if !filepath.IsAbs(p) {
		p = filepath.Join(unitDir, p)
	}
	return filepath.Clean(p), nil
}

// findInParentFolders is Terragrunt's find_in_parent_folders(name): the first name found in the
// parent directories of the unit (starting with the parent of the unit's own directory).
func findInParentFolders(unitDir, name string) (string, error) {
	dir := unitDir
	for {
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find_in_parent_folders(%q): no such file above %s", name, unitDir)
		}
		if candidate := filepath.Join(parent, name); fileExists(candidate) {
			return candidate, nil
		}
		dir = parent
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// literalString evaluates an expression that must not reference anything (a string literal, or an
// object key written as a bare word).
func literalString(expr hcl.Expression) (string, bool) {
	if k, ok := expr.(*hclsyntax.ObjectConsKeyExpr); ok {
		if name := hcl.ExprAsKeyword(k.Wrapped); name != "" && !k.ForceNonLiteral {
			return name, true
		}
		expr = k.Wrapped
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

func stepName(s hcl.Traverser) (string, bool) {
	switch t := s.(type) {
	case hcl.TraverseAttr:
		return t.Name, true
	case hcl.TraverseIndex:
		if t.Key.Type() == cty.String && t.Key.IsKnown() {
			return t.Key.AsString(), true
		}
	}
	return "", false
}

func (c *checker) moduleOf(u *unit) *module {
	if u == nil || u.moduleName == "" {
		return nil
	}
	return c.modules[u.moduleName]
}

// unitAt returns the unit in dir, loading it if it lies outside live/ (a dependency may point anywhere).
func (c *checker) unitAt(dir string) *unit {
	if u, ok := c.units[dir]; ok {
		return u
	}
	file := filepath.Join(dir, "terragrunt.hcl")
	if !fileExists(file) {
		return nil
	}
	c.loadUnit(file)
	return c.units[dir]
}

func (c *checker) checkUnit(u *unit) {
	if u.broken {
		return
	}
	mod := c.moduleOf(u)
	switch {
	case u.sourceFile == "":
		c.addUnit(u, KindSource, u.file, "no terraform.source in the unit or the files it includes")
	case u.moduleName == "":
		c.addUnit(u, KindSource, u.sourceFile, "terraform.source does not name a module as .../modules/<name>")
	case mod == nil:
		c.addUnit(u, KindSource, u.sourceFile, "terraform.source names module %q, but modules/%s does not exist", u.moduleName, u.moduleName)
	}

	for _, name := range sortedKeys(u.deps) {
		d := u.deps[name]
		if d.pathProblem != "" {
			c.addUnit(u, KindDependencyPath, d.file, "dependency %q: %s", name, d.pathProblem)
		} else if c.unitAt(d.dir) == nil {
			c.addUnit(u, KindDependencyPath, d.file, "dependency %q: config_path %q (%s, relative to the unit) has no terragrunt.hcl", name, d.configPath, c.rel(d.dir))
		}
		if d.hasMocks {
			if !d.hasCommands {
				c.addUnit(u, KindMockCommandMissing, d.file, "dependency %q has mock_outputs but no mock_outputs_allowed_terraform_commands, so mocks could reach apply; allow only %v", name, mockCommands)
			}
			for _, cmd := range d.commands {
				if !slices.Contains(mockCommands, cmd) {
					c.addUnit(u, KindMockForApply, d.file, "dependency %q allows mock outputs for %q; only %v may use mocks", name, cmd, mockCommands)
				}
			}
		}
	}
	for _, p := range u.extraDeps {
		if c.unitAt(p.dir) == nil {
			rel, _ := filepath.Rel(u.dir, p.dir)
			c.addUnit(u, KindDependencyPath, p.file, "dependencies.paths entry %q (%s, relative to the unit) has no terragrunt.hcl", filepath.ToSlash(rel), c.rel(p.dir))
		}
	}

	if mod != nil && u.hasInputs {
		for _, k := range sortedKeys(u.inputs) {
			if _, ok := mod.variables[k]; !ok {
				c.addUnit(u, KindUndeclaredInput, u.inputs[k].file, "input %q is not a variable of module %q (Terragrunt would drop it silently)", k, u.moduleName)
			}
		}
	}
	if mod != nil {
		for _, v := range sortedKeys(mod.variables) {
			if _, given := u.inputs[v]; mod.variables[v] && !given {
				c.addUnit(u, KindMissingInput, u.sourceFile, "required variable %q of module %q is not given in inputs", v, u.moduleName)
			}
		}
	}

	c.checkDBUserOfService(u)

	seen := map[string]bool{}
	for _, r := range u.refs {
		key := r.dep + "." + r.output
		if seen[key] {
			continue
		}
		seen[key] = true
		d, ok := u.deps[r.dep]
		if !ok {
			c.addUnit(u, KindUnknownDependency, r.file, "dependency.%s is used, but there is no dependency %q block", r.dep, r.dep)
			continue
		}
		if r.output == "" {
			continue
		}
		if target := c.unitAt(d.dir); target != nil && !target.broken {
			if depMod := c.moduleOf(target); depMod != nil && !depMod.outputs[r.output] {
				c.addUnit(u, KindUnknownOutput, r.file, "dependency.%s.outputs.%s: module %q has no output %q", r.dep, r.output, target.moduleName, r.output)
			}
		}
		if !d.mockOutputs[r.output] {
			c.addUnit(u, KindMockMissingOutput, d.file, "dependency.%s.outputs.%s is used but missing from mock_outputs, so plan fails before %s is applied", r.dep, r.output, r.dep)
		}
	}
}

// checkCycles reports every dependency loop once, as a -> b -> a (paths relative to the root).
func (c *checker) checkCycles() {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	reported := map[string]bool{}
	var visit func(dir string)
	visit = func(dir string) {
		color[dir] = grey
		stack = append(stack, dir)
		for _, next := range c.edges(dir) {
			switch color[next] {
			case white:
				visit(next)
			case grey:
				i := slices.Index(stack, next)
				loop := append(slices.Clone(stack[i:]), next)
				members := slices.Clone(stack[i:])
				sort.Strings(members)
				key := strings.Join(members, "|")
				if !reported[key] {
					reported[key] = true
					names := make([]string, len(loop))
					for j, d := range loop {
						names[j] = c.rel(d)
					}
					c.addUnit(c.units[next], KindCycle, filepath.Join(next, "terragrunt.hcl"), "dependency cycle: %s", strings.Join(names, " -> "))
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[dir] = black
	}
	for _, dir := range c.sortedUnitDirs() {
		if color[dir] == white {
			visit(dir)
		}
	}
}

func (c *checker) edges(dir string) []string {
	u := c.units[dir]
	if u == nil {
		return nil
	}
	var out []string
	for _, name := range sortedKeys(u.deps) {
		if d := u.deps[name]; d.dir != "" && c.units[d.dir] != nil {
			out = append(out, d.dir)
		}
	}
	for _, p := range u.extraDeps {
		if c.units[p.dir] != nil {
			out = append(out, p.dir)
		}
	}
	return out
}

func (c *checker) sortedUnitDirs() []string { return sortedKeys(c.units) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FormatLive rewrites every .hcl file under root/live into canonical HCL format and returns the
// files it changed.
func FormatLive(root string) ([]string, error) {
	var changed []string
	err := filepath.WalkDir(filepath.Join(root, "live"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && skipDir(d.Name()) {
			return filepath.SkipDir
		}
		if d.IsDir() || filepath.Ext(path) != ".hcl" {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if out := hclwrite.Format(src); string(out) != string(src) {
			if err := os.WriteFile(path, out, 0o644); err != nil {
				return err
			}
			changed = append(changed, path)
		}
		return nil
	})
	return changed, err
}
