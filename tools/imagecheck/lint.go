package imagecheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// What the lint reads, relative to the repository root. The build context of every image is the
// root (each Dockerfile says so; deploy.yml and compose.yaml build with it).
const (
	deployWorkflow = ".github/workflows/deploy.yml"
	composeFile    = "compose.yaml"
	envcommonGlob  = "live/_envcommon/*.hcl"
)

var (
	dockerBuildRE = regexp.MustCompile(`(?m)^\s*docker build (.*)$`)
	healthCmdRE   = regexp.MustCompile(`health_check_command\s*=\s*\[([^\]]*)\]`)
	quotedRE      = regexp.MustCompile(`"([^"]*)"`)
)

// image is what the lint knows of one Dockerfile.
type image struct {
	rel       string          // Dockerfile path relative to the root
	args      map[string]bool // ARG name -> has a default
	artifacts []string        // image paths the final stage copies from the build stage
}

// builder is one place that builds an image: a `docker build` in deploy.yml or a compose service.
type builder struct {
	where      string
	dockerfile string // relative to the root
	context    string // relative to the root
	args       []string
}

// Lint checks the Dockerfiles (*/Dockerfile) and compose.yaml of the repository at root and returns
// one line per problem, sorted.
func Lint(root string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(root, "*", "Dockerfile"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no */Dockerfile under %s", root)
	}
	var problems []string
	add := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	images := map[string]*image{}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		d, err := ParseDockerfile(f)
		if err != nil {
			add("%v", err)
			continue
		}
		images[rel] = lintDockerfile(root, rel, d, add)
	}

	builders, err := deployBuilders(root)
	if err != nil {
		return nil, err
	}
	cb, err := lintCompose(root, images, add)
	if err != nil {
		return nil, err
	}
	builders = append(builders, cb...)
	for _, b := range builders {
		img := images[b.dockerfile]
		if img == nil {
			add("%s: builds %s, which is not a Dockerfile of the repository", b.where, b.dockerfile)
			continue
		}
		if b.context != "." {
			add("%s: builds %s with context %q; its COPY instructions expect the repository root (.)", b.where, b.dockerfile, b.context)
		}
		passed := map[string]bool{}
		for _, a := range b.args {
			name, _, _ := strings.Cut(a, "=")
			passed[name] = true
			if _, declared := img.args[name]; !declared {
				add("%s: passes build arg %s, which %s does not declare (ARG)", b.where, name, b.dockerfile)
			}
		}
		for _, name := range sortedKeys(img.args) {
			if !img.args[name] && !passed[name] {
				add("%s: does not pass build arg %s, which %s declares without a default", b.where, name, b.dockerfile)
			}
		}
	}
	for rel := range images {
		if !slices.ContainsFunc(builders, func(b builder) bool { return b.dockerfile == rel && strings.HasPrefix(b.where, deployWorkflow) }) {
			add("%s: %s never builds it, so it never ships", rel, deployWorkflow)
		}
	}

	// The ECS task definitions run the binary of the image as their health check.
	hcls, err := filepath.Glob(filepath.Join(root, envcommonGlob))
	if err != nil {
		return nil, err
	}
	for _, f := range hcls {
		src, err := os.ReadFile(f) //nolint:gosec // a file of the repository being checked
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(root, f)
		for _, m := range healthCmdRE.FindAllStringSubmatch(string(src), -1) {
			words := quotedRE.FindAllStringSubmatch(m[1], -1)
			if len(words) < 2 || words[0][1] != "CMD" {
				continue
			}
			if !shipped(images, words[1][1]) {
				add("%s: health_check_command runs %s, which no image ships (COPY --from ... in a Dockerfile)", rel, words[1][1])
			}
		}
	}
	sort.Strings(problems)
	return slices.Compact(problems), nil
}

func shipped(images map[string]*image, path string) bool {
	for _, img := range images {
		if slices.Contains(img.artifacts, path) {
			return true
		}
	}
	return false
}

func lintDockerfile(root, rel string, d *Dockerfile, add func(string, ...any)) *image {
	img := &image{rel: rel, args: map[string]bool{}}
	declare := func(in Instruction) {
		name, _, hasDefault := strings.Cut(strings.TrimSpace(in.Args), "=")
		img.args[name] = hasDefault
	}
	for _, in := range d.Args {
		declare(in)
	}
	for i, st := range d.Stages {
		for _, in := range st.Instructions {
			switch in.Cmd {
			case "ARG":
				declare(in)
			case "COPY", "ADD":
				f := strings.Fields(in.Args)
				if len(f) < 2 {
					add("%s:%d: %s needs a source and a destination", rel, in.Line, in.Cmd)
					continue
				}
				if from := in.Flag("from"); from != "" {
					if !slices.ContainsFunc(d.Stages[:i], func(s Stage) bool { return strings.EqualFold(s.Name, from) }) {
						add("%s:%d: COPY --from=%s names no earlier stage", rel, in.Line, from)
					}
					if i == len(d.Stages)-1 {
						img.artifacts = append(img.artifacts, f[len(f)-1])
					}
					continue
				}
				for _, src := range f[:len(f)-1] {
					if m, _ := filepath.Glob(filepath.Join(root, src)); len(m) == 0 {
						add("%s:%d: COPY source %s does not exist (the build context is the repository root)", rel, in.Line, src)
					}
				}
			}
		}
	}
	final := d.Stages[len(d.Stages)-1]
	for _, in := range final.Instructions {
		var argv []string
		switch in.Cmd {
		case "ENTRYPOINT":
			argv, _ = execForm(in.Args)
		case "HEALTHCHECK":
			if rest, ok := strings.CutPrefix(in.Args, "CMD "); ok {
				argv, _ = execForm(rest)
			}
		default:
			continue
		}
		if len(argv) == 0 {
			add("%s:%d: %s is not in exec form (the runtime image has no shell)", rel, in.Line, in.Cmd)
			continue
		}
		if !slices.Contains(img.artifacts, argv[0]) {
			add("%s:%d: %s runs %s, which the image does not contain (COPY --from ... %v)", rel, in.Line, in.Cmd, argv[0], img.artifacts)
		}
	}
	return img
}

// deployBuilders reads the `docker build ... -f DOCKERFILE ... CONTEXT` lines of deploy.yml.
func deployBuilders(root string) ([]builder, error) {
	src, err := os.ReadFile(filepath.Join(root, deployWorkflow)) //nolint:gosec // a file of the repository being checked
	if err != nil {
		return nil, err
	}
	var out []builder
	for _, m := range dockerBuildRE.FindAllStringSubmatch(string(src), -1) {
		words := strings.Fields(m[1])
		b := builder{where: deployWorkflow + ": docker build " + m[1]}
		for i := 0; i < len(words); i++ {
			switch {
			case words[i] == "-f" && i+1 < len(words):
				b.dockerfile = filepath.Clean(words[i+1])
				i++
			case words[i] == "--build-arg" && i+1 < len(words):
				b.args = append(b.args, words[i+1])
				i++
			case words[i] == "-t" && i+1 < len(words):
				i++
			case !strings.HasPrefix(words[i], "-"):
				b.context = words[i]
			}
		}
		out = append(out, b)
	}
	return out, nil
}

type composeDoc struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string            `yaml:"context"`
		Dockerfile string            `yaml:"dockerfile"`
		Args       map[string]string `yaml:"args"`
	} `yaml:"build"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	DependsOn map[string]any `yaml:"depends_on"`
	Volumes   []string       `yaml:"volumes"`
}

// lintCompose checks compose.yaml: every service has an image or a build whose Dockerfile exists,
// its health check runs a binary the image ships, depends_on names services, bind-mounted files
// exist. It returns the compose builds for the build-arg check.
func lintCompose(root string, images map[string]*image, add func(string, ...any)) ([]builder, error) {
	src, err := os.ReadFile(filepath.Join(root, composeFile)) //nolint:gosec // a file of the repository being checked
	if err != nil {
		return nil, err
	}
	var doc composeDoc
	if err := yaml.Unmarshal(src, &doc); err != nil {
		add("%s: %v", composeFile, err)
		return nil, nil
	}
	if len(doc.Services) == 0 {
		add("%s: no services", composeFile)
	}
	var builders []builder
	for _, name := range sortedKeys(doc.Services) {
		s := doc.Services[name]
		where := fmt.Sprintf("%s: service %s", composeFile, name)
		switch {
		case s.Build != nil:
			ctx := s.Build.Context
			if ctx == "" {
				ctx = "."
			}
			df := s.Build.Dockerfile
			if df == "" {
				df = "Dockerfile"
			}
			rel := filepath.Clean(filepath.Join(ctx, df))
			b := builder{where: where, dockerfile: rel, context: filepath.Clean(ctx)}
			for _, k := range sortedKeys(s.Build.Args) {
				b.args = append(b.args, k+"="+s.Build.Args[k])
			}
			builders = append(builders, b)
			if s.Healthcheck != nil && len(s.Healthcheck.Test) >= 2 && s.Healthcheck.Test[0] == "CMD" {
				if img := images[rel]; img != nil && !slices.Contains(img.artifacts, s.Healthcheck.Test[1]) {
					add("%s: healthcheck runs %s, which %s does not ship", where, s.Healthcheck.Test[1], rel)
				}
			}
		case s.Image == "":
			add("%s: neither image nor build", where)
		}
		for dep := range s.DependsOn {
			if _, ok := doc.Services[dep]; !ok {
				add("%s: depends_on %s, which is not a service", where, dep)
			}
		}
		for _, v := range s.Volumes {
			host, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(host, ".") {
				if _, err := os.Stat(filepath.Join(root, host)); err != nil {
					add("%s: volume source %s does not exist", where, host)
				}
			}
		}
	}
	return builders, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
