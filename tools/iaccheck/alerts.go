package iaccheck

import (
	"path/filepath"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The alerting checks of a module (docs/observability.md, "Alerts"):
//
//   - needs-emitted-metric: a resource Datadog refuses for a metric it has never received
//     (datadog_metric_tag_configuration: 400 "Cannot configure tags on a metric that does not
//     exist") must be created through count or for_each over var.metrics_emitted, a variable whose
//     default is empty. An environment's first apply runs before any service has sent a metric; the
//     names are listed only after the first deploy.
//   - notifying-monitors: at most maxNotifyingMonitors datadog_monitor resources of a module notify
//     (their message uses var.notify, directly or through a local): docs/requirements.md §8.2 limits what may
//     wake someone up; the other monitors are dashboard state.

// maxNotifyingMonitors is docs/requirements.md §8.2's "6-8 alerts".
const maxNotifyingMonitors = 8

// needsEmittedMetric lists the resource types Datadog refuses for a metric that does not exist yet.
var needsEmittedMetric = map[string]bool{
	"datadog_metric_tag_configuration": true,
	"datadog_metric_metadata":          true,
}

const emittedVar = "metrics_emitted"

// checkAlerts runs the alerting checks over the parsed .tf files of one module.
func (c *checker) checkAlerts(files []*parsedFile) {
	type located struct {
		file string
		line int
		name string
	}
	var (
		gated      []located // resources that need an emitted metric
		notifying  []located
		variable   *hclsyntax.Block
		varFile    string
		notifyLocs = map[string]hcl.Expression{} // every local of the module
	)
	for _, pf := range files {
		for _, b := range pf.body.Blocks {
			switch {
			case b.Type == "locals":
				for name, a := range b.Body.Attributes {
					notifyLocs[name] = a.Expr
				}
			case b.Type == "variable" && len(b.Labels) == 1 && b.Labels[0] == emittedVar:
				variable, varFile = b, pf.path
			}
		}
	}
	notifies := notifyingLocals(notifyLocs)
	for _, pf := range files {
		for _, b := range pf.body.Blocks {
			if b.Type != "resource" || len(b.Labels) != 2 {
				continue
			}
			switch {
			case needsEmittedMetric[b.Labels[0]]:
				if !refersTo(b.Body.Attributes["for_each"], "var", emittedVar) && !refersTo(b.Body.Attributes["count"], "var", emittedVar) {
					c.add(KindNeedsEmittedMetric, pf.path, "line %d: %s.%s needs metrics Datadog has already received, but it is not created through count or for_each over var.%s: the first apply of an environment (nothing sent yet) fails with 400 \"Cannot configure tags on a metric that does not exist\"", b.TypeRange.Start.Line, b.Labels[0], b.Labels[1], emittedVar)
					continue
				}
				gated = append(gated, located{pf.path, b.TypeRange.Start.Line, b.Labels[0] + "." + b.Labels[1]})
			case b.Labels[0] == "datadog_monitor":
				msg, ok := b.Body.Attributes["message"]
				if !ok {
					continue
				}
				for _, tr := range msg.Expr.Variables() {
					root, name := tr.RootName(), ""
					if len(tr) > 1 {
						name, _ = stepName(tr[1])
					}
					if (root == "var" && name == "notify") || (root == "local" && notifies[name]) {
						notifying = append(notifying, located{pf.path, b.TypeRange.Start.Line, b.Labels[1]})
						break
					}
				}
			}
		}
	}
	if len(gated) > 0 {
		switch {
		case variable == nil:
			c.add(KindNeedsEmittedMetric, gated[0].file, "%s is gated by var.%s, but the module declares no such variable", gated[0].name, emittedVar)
		case !emptyDefault(variable):
			c.add(KindNeedsEmittedMetric, varFile, "line %d: variable %q must default to empty: an environment's first apply has emitted no metric", variable.TypeRange.Start.Line, emittedVar)
		}
	}
	if len(notifying) > maxNotifyingMonitors {
		names := make([]string, len(notifying))
		for i, n := range notifying {
			names[i] = n.name
		}
		sort.Strings(names)
		c.add(KindNotifyingMonitors, notifying[0].file, "%d monitors of module %s notify (%v); at most %d may (docs/requirements.md §8.2): make the others dashboard state (no var.notify) or a warning threshold of another monitor", len(notifying), filepath.Base(filepath.Dir(notifying[0].file)), names, maxNotifyingMonitors)
	}
}

// notifyingLocals reports which locals use var.notify, directly or through other locals.
func notifyingLocals(locals map[string]hcl.Expression) map[string]bool {
	out := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for name, expr := range locals {
			if out[name] {
				continue
			}
			for _, tr := range expr.Variables() {
				if len(tr) < 2 {
					continue
				}
				step, _ := stepName(tr[1])
				if (tr.RootName() == "var" && step == "notify") || (tr.RootName() == "local" && out[step]) {
					out[name], changed = true, true
					break
				}
			}
		}
	}
	return out
}

// refersTo reports whether the attribute's expression references root.name (var.x, local.x).
func refersTo(a *hclsyntax.Attribute, root, name string) bool {
	if a == nil {
		return false
	}
	for _, tr := range a.Expr.Variables() {
		if len(tr) < 2 || tr.RootName() != root {
			continue
		}
		if s, _ := stepName(tr[1]); s == name {
			return true
		}
	}
	return false
}

// emptyDefault reports whether a variable block's default is an empty list, set or tuple.
func emptyDefault(b *hclsyntax.Block) bool {
	a, ok := b.Body.Attributes["default"]
	if !ok {
		return false
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return false
	}
	return v.LengthInt() == 0
}
