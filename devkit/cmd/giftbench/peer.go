package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/gift-platform/ecs-sre-gift-worker/testkit/servers"
)

// peerMode is one server of the comparison with the hand-written peer (devkit/cmd/giftpeer).
type peerMode struct {
	name, about string
	bin         string   // "api" or "giftpeer"
	args        []string // the server's arguments
	env         []string // added to the bench's environment
}

// peerSlices is how many slices each mode's measurement of a round is cut into (see
// peerComparison).
const peerSlices = 5

// peerComparison measures POST /gifts on the API and on the hand-written peer doing the same
// authentication and database work, on the same PostgreSQL with the same connection count; each
// round is judged by its own ratios, and the median round is the figure. The API runs with
// tracing and metrics off, on as deployed (to the local fake Agent, its default sampling), and on
// with no Agent listening (as under `make run`).
//
// Every server runs for the whole comparison, started and warmed up once (warmUp). A round gives
// each mode b.duration of load cut into peerSlices slices, taken in turn (mode 1, 2, ... 5, 1, 2,
// ...; the order rotates from one slice and round to the next), so that whatever slows this
// shared machine for a few seconds (the host, a checkpoint, autovacuum) falls on every mode
// alike rather than on whichever ran then. An idle server costs next to nothing meanwhile.
//
// The API cannot run without authentication, so what authentication costs is measured on the
// peer: with its key check (as the API: parse the Bearer key, the cached stored key, the hash
// compared) against the same peer without it (-auth=false), in the same rounds.
func (b *bench) peerComparison(ctx context.Context, conns, rounds int) error {
	const service, env = "gift-api", "bench"
	agent, err := startFakeAgent(service, env)
	if err != nil {
		return err
	}
	defer agent.stop()
	noAgent, err := servers.FreePort() // nothing listens there
	if err != nil {
		return err
	}
	traced := []string{"DD_TRACE_ENABLED=true", "DD_AGENT_HOST=127.0.0.1", "DD_SERVICE=" + service, "DD_ENV=" + env}
	serve := []string{"serve"}
	modes := []peerMode{
		{"peer", "hand-written net/http + pgx handler, same key check and statement (devkit/cmd/giftpeer)", "giftpeer", nil, nil},
		{"anon", "the same peer without the key check (-auth=false): the baseline of the auth cost", "giftpeer", []string{"-auth=false"}, nil},
		{"off", "the API, tracing and metrics off", "api", serve, []string{"DD_TRACE_ENABLED=false", "DD_AGENT_HOST="}},
		{"on", "the API, tracing and metrics on as deployed (fake Agent, its default sampling)", "api", serve,
			append(slices.Clone(traced), "DD_TRACE_AGENT_PORT="+strconv.Itoa(agent.tracePort), "DD_DOGSTATSD_PORT="+strconv.Itoa(agent.statsdPort))},
		{"none", "the API, tracing on but no Agent listening (make run)", "api", serve,
			append(slices.Clone(traced), "DD_TRACE_AGENT_PORT="+strconv.Itoa(noAgent), "DD_DOGSTATSD_PORT="+strconv.Itoa(noAgent))},
	}
	running := make([]*peerServer, len(modes))
	for i, m := range modes {
		if running[i], err = b.startPeerServer(ctx, conns, m); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		defer running[i].stop()
	}
	slice := b.duration / peerSlices
	fmt.Printf("\nAPI vs hand-written peer: POST /gifts, %d connections, %d rounds of %s per mode in %d slices taken in turn, one PostgreSQL\n",
		conns, rounds, b.duration, peerSlices)
	for _, m := range modes {
		fmt.Printf("  %-4s %s\n", m.name, m.about)
	}
	fmt.Printf("%-5s %-4s %10s %9s %9s %11s\n", "round", "mode", "req/s", "p50 ms", "p99 ms", "CPU µs/req")
	rate, cpu := map[string][]float64{}, map[string][]float64{}
	for round := range rounds {
		got := make([]peerRound, len(modes))
		for k := range peerSlices {
			for j := range modes {
				i := (j + k + round) % len(modes)
				if err := got[i].add(b.measureSlice(ctx, conns, slice, running[i])); err != nil {
					return fmt.Errorf("%s: %w", modes[i].name, err)
				}
			}
		}
		for i, m := range modes {
			r := got[i]
			rate[m.name] = append(rate[m.name], r.rate())
			cpu[m.name] = append(cpu[m.name], r.cpuPerRequest())
			fmt.Printf("%-5d %-4s %10.0f %9.2f %9.2f %11.0f\n", round+1, m.name, r.rate(), median(r.p50), median(r.p99), r.cpuPerRequest())
		}
	}
	for _, m := range modes {
		if m.bin != "api" {
			continue
		}
		ratios, cpuRatios := make([]float64, rounds), make([]float64, rounds)
		for i := range ratios {
			ratios[i] = rate[m.name][i] / rate["peer"][i]
			cpuRatios[i] = cpu["peer"][i] / cpu[m.name][i]
		}
		target := ""
		if m.name == "on" {
			target = "; target >= 0.90"
		}
		fmt.Printf("api %-4s / peer: %.2f (median round; rounds %s%s)\n", m.name, median(ratios), fmtRatios(ratios), target)
		fmt.Printf("          CPU per request %.0f vs %.0f µs: peer/api %.2f (median round; rounds %s)\n",
			median(cpu[m.name]), median(cpu["peer"]), median(cpuRatios), fmtRatios(cpuRatios))
	}
	cost, cpuCost := authCost(rate["peer"], rate["anon"], cpu["peer"], cpu["anon"])
	fmt.Printf("auth cost %.1f %% (target < 3 %%): the peer's throughput with the key check vs without it (median round; rounds %s)\n",
		median(cost), pcts(cost))
	fmt.Printf("          CPU per request %.0f vs %.0f µs: %+.1f %% (median round; rounds %s)\n",
		median(cpu["peer"]), median(cpu["anon"]), median(cpuCost), pcts(cpuCost))
	fmt.Println("(p50 and p99 are the median slice's; throughput ratios move with the load of the shared machine; the CPU ratio is the steadier figure)")
	return nil
}

// authCost is, per round, what the key check costs in per cent: the throughput lost (rate with
// the check vs without) and the CPU per request added.
func authCost(rateWith, rateWithout, cpuWith, cpuWithout []float64) (throughput, cpu []float64) {
	throughput, cpu = make([]float64, len(rateWith)), make([]float64, len(cpuWith))
	for i := range throughput {
		throughput[i] = 100 * (1 - rateWith[i]/rateWithout[i])
	}
	for i := range cpu {
		cpu[i] = 100 * (cpuWith[i]/cpuWithout[i] - 1)
	}
	return throughput, cpu
}

// peerServer is one mode's server, running for the whole comparison.
type peerServer struct {
	p      *process
	base   string
	create func(context.Context, int) error
}

func (s *peerServer) stop() { s.p.stop() }

// startPeerServer starts one mode's server and warms it up.
func (b *bench) startPeerServer(ctx context.Context, conns int, m peerMode) (*peerServer, error) {
	p, base, err := b.startServer(ctx, m.bin, conns, m.env, m.args...)
	if err != nil {
		return nil, err
	}
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4 * conns}, Timeout: 10 * time.Second}
	s := &peerServer{p: p, base: base, create: b.createGifts(httpc, base)}
	b.warmUp(ctx, conns, s.create)
	return s, nil
}

// peerSlice is one slice of load on one server: what it served and the CPU it used meanwhile.
type peerSlice struct {
	result
	seconds   float64
	cpuMicros int64
	err       error
}

// measureSlice saturates s for d.
func (b *bench) measureSlice(ctx context.Context, conns int, d time.Duration, s *peerServer) peerSlice {
	cpu0 := cpuTime(s.p.cmd.Process.Pid)
	res, err := b.saturateFor(ctx, conns, d, s.base, nil, s.create)
	return peerSlice{result: res, seconds: d.Seconds(), cpuMicros: cpuTime(s.p.cmd.Process.Pid) - cpu0, err: err}
}

// peerRound adds up one mode's slices of a round.
type peerRound struct {
	served, seconds float64
	cpuMicros       int64
	p50, p99        []float64
}

func (r *peerRound) add(s peerSlice) error {
	if s.err != nil {
		return s.err
	}
	r.served += s.rate * s.seconds
	r.seconds += s.seconds
	r.cpuMicros += s.cpuMicros
	r.p50, r.p99 = append(r.p50, s.p50), append(r.p99, s.p99)
	return nil
}

func (r peerRound) rate() float64 { return r.served / r.seconds }

func (r peerRound) cpuPerRequest() float64 {
	if r.served == 0 {
		return 0
	}
	return float64(r.cpuMicros) / r.served
}

func fmtRatios(v []float64) string {
	s := ""
	for i, x := range v {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.2f", x)
	}
	return s
}

// profileAPI writes a CPU profile of the API (tracing as deployed, to a fake Agent) serving POST
// /gifts at saturation with conns connections. The api binary was built with the pprof tag
// (api-svc/cmd/api/pprof.go), which serves net/http/pprof on API_PPROF_ADDR.
func (b *bench) profileAPI(ctx context.Context, conns int, path string) error {
	const service, env = "gift-api", "bench"
	agent, err := startFakeAgent(service, env)
	if err != nil {
		return err
	}
	defer agent.stop()
	pprofPort, err := servers.FreePort()
	if err != nil {
		return err
	}
	p, base, err := b.startServer(ctx, "api", conns, []string{"DD_TRACE_ENABLED=true", "DD_AGENT_HOST=127.0.0.1",
		"DD_TRACE_AGENT_PORT=" + strconv.Itoa(agent.tracePort), "DD_DOGSTATSD_PORT=" + strconv.Itoa(agent.statsdPort),
		"DD_SERVICE=" + service, "DD_ENV=" + env, "API_PPROF_ADDR=127.0.0.1:" + strconv.Itoa(pprofPort)}, "serve")
	if err != nil {
		return err
	}
	defer p.stop()
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4 * conns}, Timeout: 10 * time.Second}
	create := b.createGifts(httpc, base)
	b.warmUp(ctx, conns, create)
	seconds := max(1, int(b.duration.Seconds())-1)
	profile := make(chan error, 1)
	go func() {
		profile <- fetchTo(ctx, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", pprofPort, seconds), path)
	}()
	sat, err := b.saturate(ctx, conns, base, nil, create)
	if err != nil {
		return err
	}
	if err := <-profile; err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	fmt.Printf("\nCPU profile of the API (tracing as deployed, %d connections, %.0f req/s) written to %s: go tool pprof -top %s\n",
		conns, sat.rate, path, path)
	return nil
}

// fetchTo writes the body of a GET of url (200 only) to the file path.
func fetchTo(ctx context.Context, url, path string) error {
	body, err := getOK(ctx, url)
	if err != nil {
		return err
	}
	defer body.Close()
	f, err := os.Create(filepath.Clean(path)) // the -cpuprofile flag: the user names it
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
