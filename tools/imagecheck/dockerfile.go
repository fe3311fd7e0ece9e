// Package imagecheck checks the container images without Docker: it reads the Dockerfiles, builds
// their binaries by replaying the build stage's own instructions (so the check cannot drift from
// the Dockerfile), and lints the Dockerfiles and compose.yaml against the repository: COPY sources
// exist, build arguments are passed by every builder, the binary the image ships is the one its
// ENTRYPOINT, HEALTHCHECK and the ECS task definition run.
package imagecheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Instruction is one Dockerfile instruction, continuation lines joined.
type Instruction struct {
	Line  int      // first line, 1-based
	Cmd   string   // upper case: FROM, RUN, COPY, ...
	Flags []string // leading --flag=value arguments (COPY --from=build)
	Args  string   // the rest, as written
}

// Flag returns the value of --name=value, or "".
func (in Instruction) Flag(name string) string {
	for _, f := range in.Flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// Stage is one FROM ... [AS name] and the instructions after it.
type Stage struct {
	Base         string
	Name         string
	Line         int
	Instructions []Instruction
}

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	Path   string
	Args   []Instruction // ARG before the first FROM
	Stages []Stage
}

// Stage returns the stage named name, or nil.
func (d *Dockerfile) Stage(name string) *Stage {
	for i := range d.Stages {
		if strings.EqualFold(d.Stages[i].Name, name) {
			return &d.Stages[i]
		}
	}
	return nil
}

// ParseDockerfile reads the subset of the Dockerfile syntax our Dockerfiles use: comments, parser
// directives, backslash continuations, flags before the arguments. Heredocs are refused (the
// build replay could not model them).
func ParseDockerfile(path string) (*Dockerfile, error) {
	src, err := os.ReadFile(path) //nolint:gosec // the Dockerfile the caller names
	if err != nil {
		return nil, err
	}
	d := &Dockerfile{Path: path}
	sc := bufio.NewScanner(bytes.NewReader(src))
	lineNo, start := 0, 0
	var cur strings.Builder
	flush := func() error {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return nil
		}
		if strings.Contains(text, "<<") {
			return fmt.Errorf("%s:%d: heredocs are not supported by imagecheck", path, start)
		}
		cmd, rest, _ := strings.Cut(text, " ")
		in := Instruction{Line: start, Cmd: strings.ToUpper(cmd)}
		rest = strings.TrimSpace(rest)
		for strings.HasPrefix(rest, "--") {
			var flag string
			flag, rest, _ = strings.Cut(rest, " ")
			in.Flags = append(in.Flags, flag)
			rest = strings.TrimSpace(rest)
		}
		in.Args = rest
		switch {
		case in.Cmd == "FROM":
			f := strings.Fields(in.Args)
			st := Stage{Line: start}
			if len(f) > 0 {
				st.Base = f[0]
			}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			d.Stages = append(d.Stages, st)
		case len(d.Stages) == 0:
			if in.Cmd != "ARG" {
				return fmt.Errorf("%s:%d: %s before the first FROM", path, start, in.Cmd)
			}
			d.Args = append(d.Args, in)
		default:
			s := &d.Stages[len(d.Stages)-1]
			s.Instructions = append(s.Instructions, in)
		}
		return nil
	}
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue // comments (and parser directives) and blank lines between instructions
		}
		if cur.Len() == 0 {
			start = lineNo
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			cur.WriteString(body)
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(line)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(d.Stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM", path)
	}
	return d, nil
}

// execForm parses an exec-form argument list (["a", "b"]); ok is false for the shell form.
func execForm(args string) ([]string, bool) {
	args = strings.TrimSpace(args)
	if !strings.HasPrefix(args, "[") || !strings.HasSuffix(args, "]") {
		return nil, false
	}
	var out []string
	for _, part := range strings.Split(strings.Trim(args, "[]"), ",") {
		part = strings.TrimSpace(part)
		if len(part) < 2 || part[0] != '"' || part[len(part)-1] != '"' {
			return nil, false
		}
		out = append(out, part[1:len(part)-1])
	}
	return out, true
}

// envPairs parses ENV k=v [k=v...] (also the legacy ENV k v form), unquoting double quotes.
func envPairs(args string) ([][2]string, error) {
	fields := strings.Fields(args)
	if len(fields) == 2 && !strings.Contains(fields[0], "=") {
		return [][2]string{{fields[0], fields[1]}}, nil
	}
	var out [][2]string
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("ENV %q: want KEY=VALUE pairs", args)
		}
		out = append(out, [2]string{k, strings.Trim(v, `"`)})
	}
	return out, nil
}
