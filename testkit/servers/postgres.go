// Package servers starts the throwaway servers tests, benchmarks and local runs depend on: a
// PostgreSQL cluster from the installed server binaries and the SQS emulator from the pinned npm
// package, each on a free loopback port (FreePort, FreePorts) and dying with the process that
// started it. Nothing here is used in production.
package servers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a running throwaway PostgreSQL cluster.
type Postgres struct {
	// URL connects to the "postgres" database as the superuser "postgres".
	URL     string
	Port    int
	DataDir string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the server process has exited
	exitErr error
	owned   bool // DataDir was created here and is removed on Stop
	bin     string
	args    []string
	cred    *syscall.Credential
	log     *os.File
}

// PostgresOptions tune StartPostgres. The zero value is a fresh cluster in a temporary directory
// on a free loopback port.
type PostgresOptions struct {
	// DataDir is where the cluster lives; created (and removed on Stop) when empty.
	DataDir string
	// Port to listen on (127.0.0.1 only); a free one when zero.
	Port int
	// Durable keeps fsync on. Without it the server never fsyncs, which survives a killed server
	// (Kill: the data is in the OS cache) but not a machine crash: fine for throwaway data.
	Durable bool
	// Log receives the server's log; discarded when nil.
	Log *os.File
	// Password, when set, makes TCP connections authenticate with scram-sha-256 (as RDS does)
	// instead of trust, gives the superuser this password and puts it in URL. Local socket
	// connections stay trusted. Only for a new cluster (ignored for an existing DataDir).
	Password string
}

// StartPostgres initialises and starts a cluster, waiting until it accepts connections. It runs
// as the current user, or as the "postgres" user when the current user is root (PostgreSQL refuses
// to run as root). The server dies with this process (parent-death signal), so an interrupted test
// run leaves nothing behind.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	bin, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	cred, owner, err := serverCredential()
	if err != nil {
		return nil, err
	}
	pg := &Postgres{DataDir: opts.DataDir, Port: opts.Port}
	if pg.DataDir == "" {
		dir, err := os.MkdirTemp("", "gift-pg-")
		if err != nil {
			return nil, fmt.Errorf("create postgres data dir: %w", err)
		}
		pg.DataDir, pg.owned = dir, true
	}
	if err := prepareDataDir(pg.DataDir, owner); err != nil {
		return nil, err
	}
	if pg.Port == 0 {
		if pg.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}

	if _, err := os.Stat(filepath.Join(pg.DataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := initCluster(ctx, bin, pg.DataDir, opts.Password, cred, owner); err != nil {
			pg.cleanup()
			return nil, err
		}
	}

	args := []string{"-D", pg.DataDir, "-p", strconv.Itoa(pg.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + pg.DataDir,
		"-c", "max_connections=200", "-c", "shared_buffers=128MB"}
	if !opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "full_page_writes=off")
	}
	pg.bin, pg.args, pg.cred, pg.log = bin, args, cred, opts.Log
	pg.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.Port)
	if opts.Password != "" {
		pg.URL = (&url.URL{Scheme: "postgres", User: url.UserPassword("postgres", opts.Password), Host: fmt.Sprintf("127.0.0.1:%d", pg.Port),
			Path: "/postgres", RawQuery: "sslmode=disable"}).String()
	}
	if err := pg.start(ctx); err != nil {
		pg.cleanup()
		return nil, err
	}
	return pg, nil
}

// initCluster runs initdb: everything trusted, or with a password, TCP connections authenticated
// by scram-sha-256 and the superuser's password read from a file the server's user can read.
func initCluster(ctx context.Context, bin, dataDir, password string, cred *syscall.Credential, owner *user.User) error {
	args := []string{"-D", dataDir, "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"}
	if password == "" {
		args = append(args, "-A", "trust")
	} else {
		dir, err := os.MkdirTemp("", "gift-pgpw-")
		if err != nil {
			return fmt.Errorf("create password file dir: %w", err)
		}
		defer os.RemoveAll(dir)
		pwfile := filepath.Join(dir, "pw")
		if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
			return fmt.Errorf("write password file: %w", err)
		}
		if err := chown(owner, dir, pwfile); err != nil {
			return err
		}
		args = append(args, "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile="+pwfile)
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), args...)
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w: %s", err, out)
	}
	return nil
}

// chown hands paths to owner (the server's user when running as root); nothing when owner is nil.
func chown(owner *user.User, paths ...string) error {
	if owner == nil {
		return nil
	}
	uid, _ := strconv.Atoi(owner.Uid)
	gid, _ := strconv.Atoi(owner.Gid)
	for _, p := range paths {
		if err := os.Chown(p, uid, gid); err != nil {
			return fmt.Errorf("hand %s to the postgres user: %w", p, err)
		}
	}
	return nil
}

// start runs the server on the prepared data dir and waits until it accepts connections.
func (pg *Postgres) start(ctx context.Context) error {
	pg.cmd = exec.Command(filepath.Join(pg.bin, "postgres"), pg.args...)
	pg.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred, Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if pg.log != nil {
		pg.cmd.Stdout, pg.cmd.Stderr = pg.log, pg.log
	}
	if err := pg.cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	pg.done = done
	go func(cmd *exec.Cmd) { pg.exitErr = cmd.Wait(); close(done) }(pg.cmd)
	if err := pg.waitReady(ctx, 30*time.Second); err != nil {
		pg.Kill()
		return err
	}
	return nil
}

// Restart starts a server stopped by Kill or Halt again, on the same port and data.
func (pg *Postgres) Restart(ctx context.Context) error {
	if pg.cmd != nil {
		return errors.New("postgres is still running")
	}
	return pg.start(ctx)
}

func (pg *Postgres) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-pg.done:
			return fmt.Errorf("postgres exited before accepting connections: %w", pg.exitErr)
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(cctx, pg.URL)
		cancel()
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("postgres on port %d not ready after %s: %w", pg.Port, limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down (fast shutdown) and removes a data dir it created.
func (pg *Postgres) Stop() error {
	if pg.cmd == nil || pg.cmd.Process == nil {
		pg.cleanup()
		return nil
	}
	pg.shutdown(syscall.SIGINT) // fast shutdown
	pg.cmd = nil
	pg.cleanup()
	return nil
}

// Kill stops the server abruptly, as a crash or an outage would: an immediate shutdown (SIGQUIT),
// which drops every connection without a checkpoint and needs crash recovery on restart. SIGKILL
// to the postmaster is not enough: each PostgreSQL child process leads its own process group, so
// backends would outlive it for a moment, still answering queries on open connections and holding
// the shared memory that Restart needs. The postmaster exits only once all its children are gone.
// Restart brings it back on the same port and data.
func (pg *Postgres) Kill() {
	if pg.cmd != nil && pg.cmd.Process != nil {
		pg.shutdown(syscall.SIGQUIT)
		pg.cmd = nil
	}
}

// Halt stops the server with a fast shutdown (SIGINT: sessions are ended, a checkpoint is
// written), as a planned restart or a failover does, and keeps its data; Restart brings it back.
func (pg *Postgres) Halt() {
	if pg.cmd != nil && pg.cmd.Process != nil {
		pg.shutdown(syscall.SIGINT)
		pg.cmd = nil
	}
}

// shutdown sends the postmaster sig and waits for it to exit (it exits once its children are
// gone), killing the whole process group if it takes longer than 15 seconds.
func (pg *Postgres) shutdown(sig syscall.Signal) {
	_ = pg.cmd.Process.Signal(sig)
	select {
	case <-pg.done: // a requested shutdown: the exit status says nothing new
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-pg.cmd.Process.Pid, syscall.SIGKILL)
		<-pg.done
	}
}

func (pg *Postgres) cleanup() {
	if pg.owned {
		_ = os.RemoveAll(pg.DataDir)
	}
}

// PostgresBinDir finds the server binaries: $POSTGRES_BIN, else the newest
// /usr/lib/postgresql/*/bin (Debian's layout, where PATH has only wrappers), else the directory of
// postgres on PATH.
func PostgresBinDir() (string, error) {
	if dir := os.Getenv("POSTGRES_BIN"); dir != "" {
		return dir, nil
	}
	if matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres"); len(matches) > 0 {
		newest := matches[0]
		for _, m := range matches[1:] {
			if versionOf(m) > versionOf(newest) {
				newest = m
			}
		}
		return filepath.Dir(newest), nil
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries not found: install PostgreSQL or set POSTGRES_BIN (or set DATABASE_URL to use a running server)")
}

func versionOf(path string) int {
	v, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(path, "/usr/lib/postgresql/"), "/")[0])
	return v
}

// serverCredential returns the credential to run the server with: none (the current user) unless
// we are root, then the "postgres" user.
func serverCredential() (*syscall.Credential, *user.User, error) {
	if os.Geteuid() != 0 {
		return nil, nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, nil, fmt.Errorf("running as root, PostgreSQL must run as the postgres user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, u, nil
}

func prepareDataDir(dir string, owner *user.User) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create postgres data dir: %w", err)
	}
	if owner == nil {
		return nil
	}
	uid, _ := strconv.Atoi(owner.Uid)
	gid, _ := strconv.Atoi(owner.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("hand postgres data dir to the postgres user: %w", err)
	}
	return os.Chmod(dir, 0o700) //nolint:gosec // a directory: the owner needs x to enter it; PostgreSQL requires 0700
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FreePorts returns n distinct loopback TCP ports that were free a moment ago. All n are held
// open together while they are chosen: ports taken one at a time, each released before the next
// is asked for, can come back twice.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
