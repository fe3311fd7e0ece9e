package servers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/testkit/repo"
)

// SQSEmulator is a running SQS emulator (npm fauxqs, pinned in package-lock.json) on loopback.
type SQSEmulator struct {
	Endpoint string // http://127.0.0.1:PORT
	Port     int
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	exitErr  error
}

// StartSQSEmulator starts scripts/sqs-emulator.mjs from the repository root on port (a free one
// when zero) and waits until it listens. The emulator dies with this process.
func StartSQSEmulator(ctx context.Context, port int, log io.Writer) (*SQSEmulator, error) {
	root, err := repo.Root()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", "fauxqs")); err != nil {
		return nil, fmt.Errorf("the SQS emulator is not installed (%w): run `make deps` (npm ci) first", err)
	}
	if port == 0 {
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	e := &SQSEmulator{Port: port, Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port)}
	e.cmd = exec.Command("node", filepath.Join(root, "scripts", "sqs-emulator.mjs"), strconv.Itoa(port))
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if log == nil {
		log = io.Discard
	}
	e.cmd.Stderr = log
	stdout, err := e.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("sqs emulator stdout: %w", err)
	}
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sqs emulator (node): %w", err)
	}
	e.done = make(chan struct{})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			_, _ = fmt.Fprintln(log, line)
			if !signalled && strings.Contains(line, "listening on") {
				close(ready)
				signalled = true
			}
		}
		e.exitErr = e.cmd.Wait()
		close(e.done)
	}()
	select {
	case <-ready:
		return e, nil
	case <-e.done:
		return nil, fmt.Errorf("sqs emulator exited before listening: %w", e.exitErr)
	case <-time.After(30 * time.Second):
		e.Stop()
		return nil, errors.New("sqs emulator did not start listening within 30s")
	case <-ctx.Done():
		e.Stop()
		return nil, ctx.Err()
	}
}

// Stop terminates the emulator.
func (e *SQSEmulator) Stop() {
	if e.cmd == nil || e.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		<-e.done
	}
	e.cmd = nil
}
