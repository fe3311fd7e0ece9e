package imagecheck

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const repoRoot = "../.."

// maxBinaryBytes bounds each service binary: the runtime image is distroless static plus this file.
const maxBinaryBytes = 30 << 20

// The binaries of both images, built by replaying each Dockerfile's build stage: static, with the
// Dockerfile's flags and Go version, small, and running the subcommands ECS and operators use.
func TestDockerfileBinaries(t *testing.T) {
	tests := []struct {
		dockerfile string
		binary     string // image path
		// --help: what the binary prints and its exit status (the worker has no help: usage, 2)
		helpExit   int
		helpOutput string
		// the environment of the health check against a local /healthz on addr
		healthEnv func(addr string) []string
	}{
		{
			dockerfile: "api-svc/Dockerfile",
			binary:     "/usr/local/bin/api",
			helpExit:   0,
			helpOutput: "usage: api [serve|migrate|healthcheck|outbox-status]",
			healthEnv: func(addr string) []string {
				_, port, _ := net.SplitHostPort(addr)
				return []string{"API_PORT=" + port, "DATABASE_URL=postgres://unused@127.0.0.1:1/gift", "SQS_QUEUE_URL=http://127.0.0.1:1/000000000000/unused", "AWS_REGION=ap-northeast-1"}
			},
		},
		{
			dockerfile: "worker-svc/Dockerfile",
			binary:     "/usr/local/bin/worker",
			helpExit:   2,
			helpOutput: "usage: worker [run|healthcheck]",
			healthEnv: func(addr string) []string {
				return []string{"WORKER_HEALTH_ADDR=" + addr}
			},
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Dir(tt.dockerfile), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
			defer cancel()
			var log bytes.Buffer
			b, err := ReplayBuild(ctx, filepath.Join(repoRoot, tt.dockerfile), repoRoot, t.TempDir(), &log)
			if err != nil {
				t.Fatalf("%v\n%s", err, log.String())
			}
			if len(b.Artifacts) != 1 || b.Artifacts[0].Image != tt.binary {
				t.Fatalf("the image copies %+v from the build stage, want %s only", b.Artifacts, tt.binary)
			}
			bin := b.Artifacts[0].Local

			st, err := os.Stat(bin)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() >= maxBinaryBytes {
				t.Errorf("%s is %d bytes, want < %d", tt.binary, st.Size(), maxBinaryBytes)
			}
			t.Logf("%s: %.1f MiB, Go %s", tt.binary, float64(st.Size())/(1<<20), b.GoVersion)
			checkStatic(t, bin)
			checkBuildInfo(t, bin, b.GoVersion)
			checkStripped(t, bin)

			// --help
			var stdout, stderr bytes.Buffer
			code := run(t, ctx, bin, nil, &stdout, &stderr, "--help")
			if code != tt.helpExit || !strings.Contains(stdout.String()+stderr.String(), tt.helpOutput) {
				t.Errorf("%s --help: exit %d, output %q; want exit %d and %q", tt.binary, code, stdout.String()+stderr.String(), tt.helpExit, tt.helpOutput)
			}

			// healthcheck: 0 while /healthz answers 200, 1 when it answers 503 or nothing listens.
			status := http.StatusOK
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/healthz" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(status)
			}))
			addr := srv.Listener.Addr().String()
			for _, c := range []struct {
				name   string
				status int
				want   int
			}{{"healthy", http.StatusOK, 0}, {"unhealthy", http.StatusServiceUnavailable, 1}} {
				status = c.status
				stdout.Reset()
				stderr.Reset()
				if got := run(t, ctx, bin, tt.healthEnv(addr), &stdout, &stderr, "healthcheck"); got != c.want {
					t.Errorf("%s healthcheck (%s /healthz): exit %d, want %d; stderr %s", tt.binary, c.name, got, c.want, stderr.String())
				}
			}
			srv.Close()
			stderr.Reset()
			if got := run(t, ctx, bin, tt.healthEnv(addr), &stdout, &stderr, "healthcheck"); got != 1 {
				t.Errorf("%s healthcheck with nothing listening: exit %d, want 1; stderr %s", tt.binary, got, stderr.String())
			}
		})
	}
}

// run starts bin with only env (no inherited environment) and returns its exit status.
func run(t *testing.T, ctx context.Context, bin string, env []string, stdout, stderr *bytes.Buffer, args ...string) int {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=/nonexistent"}, env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return 0
}

// checkStatic fails unless bin is an ELF executable with no program interpreter and no shared
// library: what runs on distroless/static, which has no libc.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("%s is not an ELF file: %v", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is dynamically linked (program header %v)", bin, p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", bin, libs)
	}
}

// checkBuildInfo fails unless the binary was built the way the Dockerfiles build: the Dockerfile's
// Go version, CGO off, -trimpath, for linux.
func checkBuildInfo(t *testing.T, bin, goVersion string) {
	t.Helper()
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	if info.GoVersion != "go"+goVersion {
		t.Errorf("%s built with %s, the Dockerfile says go%s", bin, info.GoVersion, goVersion)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	// -ldflags is not recorded with -trimpath; "-s -w" shows in the file itself (checkStripped).
	for key, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": "linux"} {
		if settings[key] != want {
			t.Errorf("%s: build setting %s = %q, want %q (all: %v)", bin, key, settings[key], want, settings)
		}
	}
}

// checkStripped fails unless the binary has neither a symbol table (-ldflags -s) nor DWARF (-w).
func checkStripped(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, s := range f.Sections {
		if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			t.Errorf("%s has section %s: not built with -ldflags \"-s -w\"", bin, s.Name)
		}
	}
}

// The Dockerfiles and compose.yaml of this repository.
func TestLintAcceptsTheRepository(t *testing.T) {
	problems, err := Lint(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// A minimal repository the lint accepts; each case below changes one file and must produce the
// problem it is named after, and nothing else.
var validRepo = map[string]string{
	"app/main.go": "package main\n",
	"app/Dockerfile": `# syntax=docker/dockerfile:1
FROM golang:1.26.11-bookworm AS build
WORKDIR /src
COPY app/ app/
RUN cd app && go build -trimpath \
    -o /out/app .
FROM scratch
COPY --from=build /out/app /usr/local/bin/app
HEALTHCHECK --interval=10s CMD ["/usr/local/bin/app", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/app"]
`,
	deployWorkflow: `jobs:
  build:
    steps:
      - name: docker build (app)
        run: |
          docker build --pull -f app/Dockerfile -t "app:$GITHUB_SHA" .
`,
	composeFile: `services:
  db:
    image: postgres:15
  app:
    build: { context: ., dockerfile: app/Dockerfile }
    volumes:
      - ./app/main.go:/src/main.go:ro
    healthcheck:
      test: ["CMD", "/usr/local/bin/app", "healthcheck"]
    depends_on:
      db: { condition: service_healthy }
`,
	"live/_envcommon/app.hcl": `inputs = {
  health_check_command = ["CMD", "/usr/local/bin/app", "healthcheck"]
}
`,
}

func TestLintFindsEachMistake(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		old     string
		new     string
		want    string
		wantNum int // how many problems (one per builder for a build-arg mistake)
	}{
		{"copy source missing", "app/Dockerfile", "COPY app/ app/", "COPY app/ app/\nCOPY lib/ lib/", "app/Dockerfile:5: COPY source lib/ does not exist", 1},
		{"copy from unknown stage", "app/Dockerfile", "--from=build", "--from=builder", "COPY --from=builder names no earlier stage", 1},
		{"entrypoint not shipped", "app/Dockerfile", `ENTRYPOINT ["/usr/local/bin/app"]`, `ENTRYPOINT ["/bin/app"]`, "ENTRYPOINT runs /bin/app, which the image does not contain", 1},
		{"entrypoint in shell form", "app/Dockerfile", `ENTRYPOINT ["/usr/local/bin/app"]`, `ENTRYPOINT /usr/local/bin/app`, "ENTRYPOINT is not in exec form", 1},
		{"build arg not passed", "app/Dockerfile", "WORKDIR /src", "ARG VERSION\nWORKDIR /src", "does not pass build arg VERSION", 2},
		{"build arg not declared", deployWorkflow, "--pull", "--pull --build-arg GOFLAGS=-race", "passes build arg GOFLAGS, which app/Dockerfile does not declare", 1},
		{"deploy context not the root", deployWorkflow, `"app:$GITHUB_SHA" .`, `"app:$GITHUB_SHA" app`, `with context "app"`, 1},
		{"image never built by deploy", deployWorkflow, "docker build --pull -f app/Dockerfile", "docker pull", "never builds it, so it never ships", 1},
		{"compose builds a missing Dockerfile", composeFile, "dockerfile: app/Dockerfile", "dockerfile: app/Dockerfile.dev", "builds app/Dockerfile.dev, which is not a Dockerfile of the repository", 1},
		{"compose health check not shipped", composeFile, `test: ["CMD", "/usr/local/bin/app"`, `test: ["CMD", "/usr/local/bin/ap"`, "healthcheck runs /usr/local/bin/ap, which app/Dockerfile does not ship", 1},
		{"compose depends on a missing service", composeFile, "db: { condition", "cache: { condition", "depends_on cache, which is not a service", 1},
		{"compose volume missing", composeFile, "./app/main.go", "./app/config.yaml", "volume source ./app/config.yaml does not exist", 1},
		{"ecs health check not shipped", "live/_envcommon/app.hcl", `"/usr/local/bin/app"`, `"/usr/local/bin/api"`, "health_check_command runs /usr/local/bin/api, which no image ships", 1},
	}
	write := func(t *testing.T, files map[string]string) string {
		t.Helper()
		root := t.TempDir()
		for rel, content := range files {
			p := filepath.Join(root, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	t.Run("valid", func(t *testing.T) {
		problems, err := Lint(write(t, validRepo))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Error(p)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range validRepo {
				files[k] = v
			}
			if !strings.Contains(files[tt.file], tt.old) {
				t.Fatalf("fixture %s lacks %q", tt.file, tt.old)
			}
			files[tt.file] = strings.Replace(files[tt.file], tt.old, tt.new, 1)
			problems, err := Lint(write(t, files))
			if err != nil {
				t.Fatal(err)
			}
			matching := 0
			for _, p := range problems {
				if strings.Contains(p, tt.want) {
					matching++
				}
			}
			if matching != tt.wantNum || len(problems) != tt.wantNum {
				t.Errorf("want %d problem(s) containing %q and nothing else, got %q", tt.wantNum, tt.want, problems)
			}
		})
	}
}
