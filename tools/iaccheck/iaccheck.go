// Package iaccheck checks, offline, that the Terragrunt units under live/ are wired correctly to
// the Terraform modules under modules/: the mistakes `terragrunt run --all plan` would otherwise
// find in CI (or not at all, since Terragrunt passes inputs as TF_VAR_ variables and silently drops
// the ones a module does not declare).
//
// It parses the HCL only; it evaluates nothing but literals, so it needs no provider, no network
// and no Terragrunt binary.
package iaccheck

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Kinds of findings. Each is proven able to fire by a fixture under testdata/.
const (
	KindParse              = "parse"                  // a file does not parse
	KindFormat             = "hcl-format"             // a live/ file is not in canonical HCL format
	KindSource             = "module-source"          // terraform.source names no module under modules/
	KindDependencyPath     = "dependency-path"        // config_path (or dependencies.paths) has no unit
	KindCycle              = "dependency-cycle"       // units depend on each other in a loop
	KindUndeclaredInput    = "undeclared-input"       // an input the module has no variable for
	KindMissingInput       = "missing-input"          // a required module variable not given
	KindUnknownDependency  = "unknown-dependency"     // dependency.X used but no dependency "X" block
	KindUnknownOutput      = "unknown-output"         // dependency.X.outputs.Y where X's module has no output Y
	KindMockMissingOutput  = "mock-missing-output"    // dependency.X.outputs.Y used but not in X's mock_outputs
	KindMockCommandMissing = "mock-commands-missing"  // mock_outputs without mock_outputs_allowed_terraform_commands
	KindMockForApply       = "mock-allowed-for-apply" // mocks allowed for a command other than validate/plan
)

// mockCommands are the only commands mocks may serve: anything that changes real infrastructure
// (apply, destroy, import, ...) must see the dependency's real outputs.
var mockCommands = []string{"validate", "plan"}

// Finding is one problem, in a file given relative to the checked root.
type Finding struct {
	Kind    string
	File    string
	Message string
}

func (f Finding) String() string { return fmt.Sprintf("%s: [%s] %s", f.File, f.Kind, f.Message) }

// module is what a unit needs to know about a Terraform module.
type module struct {
	variables map[string]bool // name -> required (no default)
	outputs   map[string]bool
}

type dependency struct {
	name        string
	configPath  string // as written
	dir         string // absolute unit directory it points at
	mockOutputs map[string]bool
	hasMocks    bool
	commands    []string
	hasCommands bool
	rng         hcl.Range
}

type reference struct {
	dep    string
	output string // "" when the whole outputs object is used
	rng    hcl.Range
}

type unit struct {
	dir        string // absolute
	file       string // absolute path of terragrunt.hcl
	moduleName string
	deps       map[string]*dependency
	extraDeps  []string // absolute dirs from dependencies { paths }
	inputs     map[string]hcl.Range
	hasInputs  bool
	refs       []reference
	broken     bool // did not parse; already reported
}

var moduleSourceRE = regexp.MustCompile(`//modules/([A-Za-z0-9_-]+)`)

// Check parses root/modules and root/live and returns every finding, sorted.
func Check(root string) ([]Finding, error) {
	c := &checker{root: root, modules: map[string]*module{}, units: map[string]*unit{}}
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
	sort.Slice(c.findings, func(i, j int) bool {
		a, b := c.findings[i], c.findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Message < b.Message
	})
	return c.findings, nil
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

type checker struct {
	root     string
	modules  map[string]*module
	units    map[string]*unit
	findings []Finding
}

func (c *checker) add(kind, file, format string, args ...any) {
	rel, err := filepath.Rel(c.root, file)
	if err != nil {
		rel = file
	}
	c.findings = append(c.findings, Finding{Kind: kind, File: filepath.ToSlash(rel), Message: fmt.Sprintf(format, args...)})
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
		for _, f := range files {
			body, ok := c.parse(f)
			if !ok {
				continue
			}
			for _, b := range body.Blocks {
				switch {
				case b.Type == "variable" && len(b.Labels) == 1:
					_, hasDefault := b.Body.Attributes["default"]
					m.variables[b.Labels[0]] = !hasDefault
				case b.Type == "output" && len(b.Labels) == 1:
					m.outputs[b.Labels[0]] = true
				}
			}
		}
		c.modules[e.Name()] = m
	}
	return nil
}

func (c *checker) parse(file string) (*hclsyntax.Body, bool) {
	src, err := os.ReadFile(file)
	if err != nil {
		c.add(KindParse, file, "%v", err)
		return nil, false
	}
	f, diags := hclsyntax.ParseConfig(src, file, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		c.addDiags(file, diags)
		return nil, false
	}
	return f.Body.(*hclsyntax.Body), true
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
	if _, diags := hclwrite.ParseConfig(src, file, hcl.Pos{Line: 1, Column: 1}); diags.HasErrors() {
		c.addDiags(file, diags)
		return
	}
	if got := hclwrite.Format(src); string(got) != string(src) {
		c.add(KindFormat, file, "not in canonical HCL format (run: cd tools/iaccheck && go run ./cmd/iaccheck -fix)")
	}
}

func (c *checker) loadUnit(file string) {
	u := &unit{dir: filepath.Dir(file), file: file, deps: map[string]*dependency{}, inputs: map[string]hcl.Range{}}
	c.units[u.dir] = u
	body, ok := c.parse(file)
	if !ok {
		u.broken = true
		return
	}
	for _, b := range body.Blocks {
		switch b.Type {
		case "terraform":
			if a, ok := b.Body.Attributes["source"]; ok {
				r := a.Expr.Range()
				src, _ := os.ReadFile(file)
				if m := moduleSourceRE.FindSubmatch(src[r.Start.Byte:r.End.Byte]); m != nil {
					u.moduleName = string(m[1])
				}
			}
		case "dependency":
			if len(b.Labels) == 1 {
				c.loadDependency(u, b)
			}
		case "dependencies":
			if a, ok := b.Body.Attributes["paths"]; ok {
				for _, p := range c.stringList(file, a.Expr) {
					u.extraDeps = append(u.extraDeps, filepath.Join(u.dir, p))
				}
			}
		}
	}
	if a, ok := body.Attributes["inputs"]; ok {
		u.hasInputs = true
		pairs, diags := hcl.ExprMap(a.Expr)
		c.addDiags(file, diags)
		for _, kv := range pairs {
			if k, ok := literalString(kv.Key); ok {
				u.inputs[k] = kv.Key.Range()
			}
		}
	}
	// Every reference to dependency.X[.outputs.Y] anywhere in the unit (inputs, locals, generate).
	_ = hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		t, ok := n.(*hclsyntax.ScopeTraversalExpr)
		if !ok || t.Traversal.RootName() != "dependency" {
			return nil
		}
		ref := reference{rng: t.SrcRange}
		steps := t.Traversal
		if len(steps) < 2 {
			return nil
		}
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

func (c *checker) loadDependency(u *unit, b *hclsyntax.Block) {
	d := &dependency{name: b.Labels[0], rng: b.DefRange(), mockOutputs: map[string]bool{}}
	if a, ok := b.Body.Attributes["config_path"]; ok {
		if s, ok := literalString(a.Expr); ok {
			d.configPath = s
			d.dir = filepath.Join(u.dir, s)
		} else {
			c.add(KindDependencyPath, u.file, "dependency %q: config_path must be a literal relative path", d.name)
		}
	} else {
		c.add(KindDependencyPath, u.file, "dependency %q has no config_path", d.name)
	}
	if a, ok := b.Body.Attributes["mock_outputs"]; ok {
		d.hasMocks = true
		pairs, diags := hcl.ExprMap(a.Expr)
		c.addDiags(u.file, diags)
		for _, kv := range pairs {
			if k, ok := literalString(kv.Key); ok {
				d.mockOutputs[k] = true
			}
		}
	}
	if a, ok := b.Body.Attributes["mock_outputs_allowed_terraform_commands"]; ok {
		d.hasCommands = true
		d.commands = c.stringList(u.file, a.Expr)
	}
	u.deps[d.name] = d
}

func (c *checker) stringList(file string, expr hcl.Expression) []string {
	items, diags := hcl.ExprList(expr)
	c.addDiags(file, diags)
	var out []string
	for _, it := range items {
		if s, ok := literalString(it); ok {
			out = append(out, s)
		}
	}
	return out
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
	if _, err := os.Stat(file); err != nil {
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
	case u.moduleName == "":
		c.add(KindSource, u.file, "terraform.source does not name a module as .../modules/<name>")
	case mod == nil:
		c.add(KindSource, u.file, "terraform.source names module %q, but modules/%s does not exist", u.moduleName, u.moduleName)
	}

	for _, name := range sortedKeys(u.deps) {
		d := u.deps[name]
		if d.dir == "" {
			continue
		}
		if c.unitAt(d.dir) == nil {
			c.add(KindDependencyPath, u.file, "dependency %q: config_path %q has no terragrunt.hcl", name, d.configPath)
		}
		if d.hasMocks {
			if !d.hasCommands {
				c.add(KindMockCommandMissing, u.file, "dependency %q has mock_outputs but no mock_outputs_allowed_terraform_commands, so mocks could reach apply; allow only %v", name, mockCommands)
			}
			for _, cmd := range d.commands {
				if !slices.Contains(mockCommands, cmd) {
					c.add(KindMockForApply, u.file, "dependency %q allows mock outputs for %q; only %v may use mocks", name, cmd, mockCommands)
				}
			}
		}
	}
	for _, p := range u.extraDeps {
		if c.unitAt(p) == nil {
			rel, _ := filepath.Rel(u.dir, p)
			c.add(KindDependencyPath, u.file, "dependencies.paths entry %q has no terragrunt.hcl", rel)
		}
	}

	if mod != nil && u.hasInputs {
		for _, k := range sortedKeys(u.inputs) {
			if _, ok := mod.variables[k]; !ok {
				c.add(KindUndeclaredInput, u.file, "input %q is not a variable of module %q (Terragrunt would drop it silently)", k, u.moduleName)
			}
		}
	}
	if mod != nil {
		for _, v := range sortedKeys(mod.variables) {
			if _, given := u.inputs[v]; mod.variables[v] && !given {
				c.add(KindMissingInput, u.file, "required variable %q of module %q is not given in inputs", v, u.moduleName)
			}
		}
	}

	seen := map[string]bool{}
	for _, r := range u.refs {
		key := r.dep + "." + r.output
		if seen[key] {
			continue
		}
		seen[key] = true
		d, ok := u.deps[r.dep]
		if !ok {
			c.add(KindUnknownDependency, u.file, "dependency.%s is used, but there is no dependency %q block", r.dep, r.dep)
			continue
		}
		if r.output == "" {
			continue
		}
		if depMod := c.moduleOf(c.unitAt(d.dir)); depMod != nil && !depMod.outputs[r.output] {
			c.add(KindUnknownOutput, u.file, "dependency.%s.outputs.%s: module %q has no output %q", r.dep, r.output, c.unitAt(d.dir).moduleName, r.output)
		}
		if !d.mockOutputs[r.output] {
			c.add(KindMockMissingOutput, u.file, "dependency.%s.outputs.%s is used but missing from mock_outputs, so plan fails before %s is applied", r.dep, r.output, r.dep)
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
						rel, _ := filepath.Rel(c.root, d)
						names[j] = filepath.ToSlash(rel)
					}
					c.add(KindCycle, filepath.Join(next, "terragrunt.hcl"), "dependency cycle: %s", strings.Join(names, " -> "))
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
		if c.units[p] != nil {
			out = append(out, p)
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
