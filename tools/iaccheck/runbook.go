package iaccheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// The runbook check: every link into docs/runbook.md names a heading that exists there, and every
// Datadog monitor's message links one. A monitor that pages at 3 a.m. must land the reader on the
// section for its failure, and a renamed heading must not silently break that link.
//
// Links are found in the Terraform source of every module (`${var.runbook_url}#anchor`, or a
// literal `runbook.md#anchor`), in docs/*.md (`runbook.md#anchor`) and inside docs/runbook.md
// itself (`](#anchor)`). Anchors follow GitHub's rules (see Anchor).

const runbookPath = "docs/runbook.md"

var (
	// ${var.runbook_url}#anchor in HCL, or runbook.md#anchor anywhere.
	runbookLinkRE = regexp.MustCompile(`(?:\$\{var\.runbook_url\}|runbook\.md)#([^\s"'()\[\]<>{}` + "`" + `,;]+)`)
	// ](#anchor) inside the runbook itself.
	selfLinkRE  = regexp.MustCompile(`\]\(#([^\s)]+)\)`)
	headingRE   = regexp.MustCompile(`^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$`)
	mdLinkRE    = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTagRE   = regexp.MustCompile(`<[^>]+>`)
	fenceOpenRE = regexp.MustCompile("^ {0,3}(```+|~~~+)")
)

// Anchor is the id GitHub gives a Markdown heading: the rendered text (inline links reduced to
// their text, HTML tags dropped), lower-cased, every character that is not a letter, a digit, a
// space, '-' or '_' removed, and each space turned into '-'. "ECS running < desired" becomes
// "ecs-running--desired". A repeated heading gets "-1", "-2"... (see Anchors).
func Anchor(heading string) string {
	text := mdLinkRE.ReplaceAllString(heading, "$1")
	text = htmlTagRE.ReplaceAllString(text, "")
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Anchors lists the anchors of a Markdown document's headings, in order, skipping fenced code
// blocks (a "# comment" in a bash block is not a heading).
func Anchors(md []byte) []string {
	var (
		out   []string
		seen  = map[string]int{}
		fence string
	)
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if fence != "" { // inside a fenced block until the same fence closes it
			if t := strings.TrimSpace(line); strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]) == "" {
				fence = ""
			}
			continue
		}
		if m := fenceOpenRE.FindStringSubmatch(line); m != nil {
			fence = m[1]
			continue
		}
		m := headingRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		a := Anchor(m[2])
		if n, dup := seen[a]; dup {
			seen[a] = n + 1
			a = fmt.Sprintf("%s-%d", a, n+1)
		} else {
			seen[a] = 0
		}
		out = append(out, a)
	}
	return out
}

// checkRunbook reports links to missing runbook headings and monitors whose message links none.
// A repository without docs/runbook.md and without such links has nothing to check.
func (c *checker) checkRunbook() error {
	type link struct{ file, anchor string }
	var links []link

	tfFiles, err := filepath.Glob(filepath.Join(c.root, "modules", "*", "*.tf"))
	if err != nil {
		return err
	}
	sort.Strings(tfFiles)
	for _, f := range tfFiles {
		pf := c.parse(f)
		if pf == nil {
			continue
		}
		for _, m := range runbookLinkRE.FindAllSubmatch(pf.src, -1) {
			links = append(links, link{f, string(m[1])})
		}
		for _, b := range pf.body.Blocks {
			if b.Type != "resource" || len(b.Labels) != 2 || b.Labels[0] != "datadog_monitor" {
				continue
			}
			msg, ok := b.Body.Attributes["message"]
			if !ok {
				c.add(KindRunbookLinkMissing, f, "datadog_monitor.%s has no message linking its runbook section", b.Labels[1])
				continue
			}
			rng := msg.Expr.Range()
			if !runbookLinkRE.Match(pf.src[rng.Start.Byte:rng.End.Byte]) {
				c.add(KindRunbookLinkMissing, f, "datadog_monitor.%s: the message links no runbook section (${var.runbook_url}#<heading>)", b.Labels[1])
			}
		}
	}

	docs, err := filepath.Glob(filepath.Join(c.root, "docs", "*.md"))
	if err != nil {
		return err
	}
	runbookFile := filepath.Join(c.root, filepath.FromSlash(runbookPath))
	for _, f := range docs {
		src, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		re := runbookLinkRE
		if f == runbookFile {
			re = selfLinkRE
		}
		for _, m := range re.FindAllSubmatch(src, -1) {
			links = append(links, link{f, string(m[1])})
		}
	}
	if len(links) == 0 {
		return nil
	}

	src, err := os.ReadFile(runbookFile)
	if err != nil {
		c.add(KindRunbookAnchor, links[0].file, "links to %s#%s, but %s cannot be read: %v", runbookPath, links[0].anchor, runbookPath, err)
		return nil
	}
	have := map[string]bool{}
	for _, a := range Anchors(src) {
		have[a] = true
	}
	for _, l := range links {
		if !have[l.anchor] {
			c.add(KindRunbookAnchor, l.file, "links to %s#%s, but no heading of %s has that anchor", runbookPath, l.anchor, runbookPath)
		}
	}
	return nil
}
