package imagecheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Artifact is a file the final stage copies out of the build stage.
type Artifact struct {
	Local string // where the replay left it
	Image string // where the image has it (COPY --from destination)
}

// Build is the outcome of replaying a Dockerfile's build stage.
type Build struct {
	GoVersion string // from FROM golang:<version>-...
	Artifacts []Artifact
}

var golangBase = regexp.MustCompile(`^golang:(\d+\.\d+(?:\.\d+)?)(?:-|$)`)

// absPath matches an absolute path at the start of a shell word (or after `=`): in a RUN command
// it names a file of the build container, which the replay keeps under its own root directory.
var absPath = regexp.MustCompile(`(^|[\s=])/`)

// GoVersion returns the Go version of the stage that builds the binaries (FROM golang:X-...).
func GoVersion(d *Dockerfile, stage *Stage) (string, error) {
	m := golangBase.FindStringSubmatch(stage.Base)
	if m == nil {
		return "", fmt.Errorf("%s:%d: the build stage is FROM %q, not an official golang:<version> image", d.Path, stage.Line, stage.Base)
	}
	return m[1], nil
}

// ReplayBuild builds the binaries of the Dockerfile at dockerfile (build context: context) the way
// `docker build` would, without Docker: it executes the build stage's WORKDIR, ENV, COPY and RUN
// instructions in order, with the stage's Go version (GOTOOLCHAIN) and nothing of the caller's
// Go configuration but where modules and the build cache live, under root, which stands for the
// container's /. It returns the files the final stage copies from the build stage.
func ReplayBuild(ctx context.Context, dockerfile, context, root string, log io.Writer) (*Build, error) {
	d, err := ParseDockerfile(dockerfile)
	if err != nil {
		return nil, err
	}
	final := &d.Stages[len(d.Stages)-1]
	var copies []Instruction
	for _, in := range final.Instructions {
		if in.Cmd == "COPY" && in.Flag("from") != "" {
			copies = append(copies, in)
		}
	}
	if len(copies) == 0 {
		return nil, fmt.Errorf("%s: the final stage copies nothing from a build stage", dockerfile)
	}
	stage := d.Stage(copies[0].Flag("from"))
	if stage == nil {
		return nil, fmt.Errorf("%s:%d: COPY --from=%s names no stage", dockerfile, copies[0].Line, copies[0].Flag("from"))
	}
	goVersion, err := GoVersion(d, stage)
	if err != nil {
		return nil, err
	}
	env, err := hostGoEnv(ctx)
	if err != nil {
		return nil, err
	}
	env = append(env, "GOTOOLCHAIN=go"+goVersion, "GOFLAGS=", "GOENV=off")

	workdir := "/"
	for _, in := range stage.Instructions {
		switch in.Cmd {
		case "WORKDIR":
			workdir = containerPath(workdir, in.Args)
			if err := os.MkdirAll(filepath.Join(root, workdir), 0o750); err != nil {
				return nil, err
			}
		case "ENV":
			pairs, err := envPairs(in.Args)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", dockerfile, in.Line, err)
			}
			for _, kv := range pairs {
				env = append(env, kv[0]+"="+kv[1])
			}
		case "COPY":
			if len(in.Flags) > 0 {
				return nil, fmt.Errorf("%s:%d: COPY %v in the build stage: not replayed by imagecheck", dockerfile, in.Line, in.Flags)
			}
			if err := replayCopy(context, root, workdir, in); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", dockerfile, in.Line, err)
			}
		case "RUN":
			if len(in.Flags) > 0 {
				return nil, fmt.Errorf("%s:%d: RUN %v: not replayed by imagecheck", dockerfile, in.Line, in.Flags)
			}
			script := absPath.ReplaceAllString(in.Args, "${1}"+root+"/")
			fmt.Fprintf(log, "imagecheck: %s:%d: RUN %s\n", filepath.Base(filepath.Dir(dockerfile)), in.Line, in.Args)
			cmd := exec.CommandContext(ctx, "sh", "-c", script)
			cmd.Dir = filepath.Join(root, workdir)
			cmd.Env = env
			cmd.Stdout, cmd.Stderr = log, log
			if err := cmd.Run(); err != nil {
				return nil, fmt.Errorf("%s:%d: RUN %s: %w", dockerfile, in.Line, in.Args, err)
			}
		default:
			return nil, fmt.Errorf("%s:%d: %s in the build stage: not replayed by imagecheck (extend build.go)", dockerfile, in.Line, in.Cmd)
		}
	}

	b := &Build{GoVersion: goVersion}
	for _, in := range copies {
		f := strings.Fields(in.Args)
		if len(f) != 2 {
			return nil, fmt.Errorf("%s:%d: COPY --from with %d arguments: want SOURCE DEST", dockerfile, in.Line, len(f))
		}
		b.Artifacts = append(b.Artifacts, Artifact{Local: filepath.Join(root, f[0]), Image: f[1]})
	}
	return b, nil
}

// hostGoEnv is the environment of the replayed RUN commands: PATH and HOME, and from the caller's
// Go only where modules and the build cache are and how to reach the module proxy (what a
// `docker build` would download afresh); no GOFLAGS, no go env file.
func hostGoEnv(ctx context.Context) ([]string, error) {
	names := []string{"GOMODCACHE", "GOCACHE", "GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE"}
	out, err := exec.CommandContext(ctx, "go", append([]string{"env"}, names...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for i, v := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if i < len(names) {
			env = append(env, names[i]+"="+v)
		}
	}
	return env, nil
}

func containerPath(workdir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(workdir, p)
}

// replayCopy copies COPY SRC... DEST from the build context into root: a directory's contents go
// into DEST; files go into DEST/ when DEST ends with / or there are several sources.
func replayCopy(context, root, workdir string, in Instruction) error {
	f := strings.Fields(in.Args)
	if len(f) < 2 {
		return fmt.Errorf("COPY needs a source and a destination")
	}
	srcs, dest := f[:len(f)-1], f[len(f)-1]
	destIsDir := strings.HasSuffix(dest, "/") || len(srcs) > 1
	target := filepath.Join(root, containerPath(workdir, dest))
	for _, s := range srcs {
		matches, err := filepath.Glob(filepath.Join(context, s))
		if err != nil || len(matches) == 0 {
			return fmt.Errorf("COPY source %s does not exist in the build context", s)
		}
		for _, src := range matches {
			info, err := os.Stat(src)
			if err != nil {
				return err
			}
			switch {
			case info.IsDir():
				if err := copyTree(src, target); err != nil {
					return err
				}
			case destIsDir:
				if err := copyFile(src, filepath.Join(target, filepath.Base(src))); err != nil {
					return err
				}
			default:
				if err := copyFile(src, target); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		return copyFile(p, filepath.Join(dst, rel))
	})
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return err
	}
	in, err := os.Open(src) //nolint:gosec // a file of the build context the Dockerfile copies
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm()) //nolint:gosec // under the replay's own root
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		return errors.Join(err, out.Close())
	}
	return out.Close()
}
