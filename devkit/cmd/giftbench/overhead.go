package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// fakeAgent stands in for the Datadog Agent sidecar: an HTTP trace intake that reads and drops
// what the tracer sends (so the API pays the real encoding and sending), and a DogStatsD UDP
// socket that reads and drops metrics.
type fakeAgent struct {
	srv         *http.Server
	udp         net.PacketConn
	tracePort   int
	statsdPort  int
	traces      atomic.Int64
	metricLines atomic.Int64
}

func startFakeAgent() (*fakeAgent, error) {
	a := &fakeAgent{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a.tracePort = ln.Addr().(*net.TCPAddr).Port
	mux := http.NewServeMux()
	mux.HandleFunc("/info", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"endpoints":["/v0.4/traces"]}`)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if n, err := strconv.Atoi(r.Header.Get("X-Datadog-Trace-Count")); err == nil {
			a.traces.Add(int64(n))
		}
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"rate_by_service":{}}`)
	})
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = a.srv.Serve(ln) }()
	if a.udp, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
		_ = a.srv.Close()
		return nil, err
	}
	a.statsdPort = a.udp.LocalAddr().(*net.UDPAddr).Port
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := a.udp.ReadFrom(buf)
			if err != nil {
				return
			}
			a.metricLines.Add(int64(strings.Count(strings.TrimSpace(string(buf[:n])), "\n") + 1))
		}
	}()
	return a, nil
}

func (a *fakeAgent) stop() {
	_ = a.srv.Close()
	_ = a.udp.Close()
}

// overhead measures POST /gifts with tracing and metrics off and on (sending to the fake agent)
// in pairs, one right after the other, so that a drift of the shared machine hits both runs of a
// pair alike; each pair is judged by its own ratio, and the median pair is the figure. Each run
// measures the saturated rate, then the latency at half of the pair's "off" rate: the same offered
// load for both modes.
func (b *bench) overhead(ctx context.Context, conns, pairs int) error {
	agent, err := startFakeAgent()
	if err != nil {
		return err
	}
	defer agent.stop()
	modes := map[string][]string{
		"off": {"DD_TRACE_ENABLED=false", "DD_AGENT_HOST="},
		"on": {"DD_TRACE_ENABLED=true", "DD_AGENT_HOST=127.0.0.1", "DD_TRACE_AGENT_PORT=" + strconv.Itoa(agent.tracePort),
			"DD_DOGSTATSD_PORT=" + strconv.Itoa(agent.statsdPort), "DD_SERVICE=gift-api", "DD_ENV=bench"},
	}
	fmt.Printf("\nObservability overhead: POST /gifts, %d connections, tracing + metrics off vs on (spans and metrics sent to a local fake agent), %d pairs\n", conns, pairs)
	fmt.Printf("%-4s %-4s %10s %9s %9s %11s | %-32s %8s\n", "pair", "mode", "req/s", "p50 ms", "p99 ms", "API CPU µs", "half of off's rate: p50/p95/p99 ms", "RSS MiB")
	var ratios, p99Off, p99On, cpuOff, cpuOn []float64
	for pair := 1; pair <= pairs; pair++ {
		var offRate float64
		results := map[string][2]result{}
		for _, mode := range []string{"off", "on"} {
			sat, half, rss, cpu, err := b.overheadRun(ctx, conns, modes[mode], offRate)
			if err != nil {
				return err
			}
			if mode == "off" {
				offRate = sat.rate
			}
			results[mode] = [2]result{sat, half}
			if mode == "off" {
				cpuOff = append(cpuOff, cpu)
			} else {
				cpuOn = append(cpuOn, cpu)
			}
			fmt.Printf("%-4d %-4s %10.0f %9.2f %9.2f %11.0f | %10.2f/%9.2f/%9.2f %8.1f\n", pair, mode, sat.rate, sat.p50, sat.p99, cpu, half.p50, half.p95, half.p99, rss)
		}
		ratios = append(ratios, results["on"][0].rate/results["off"][0].rate)
		p99Off = append(p99Off, results["off"][1].p99)
		p99On = append(p99On, results["on"][1].p99)
	}
	med := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
	fmt.Printf("throughput cost (median pair): %.1f %% (pairs: %s; target <= 10 %%)\n", 100*(1-med(ratios)), pct(ratios))
	fmt.Printf("p99 at half rate, median: off %.2f ms, on %.2f ms (target: no measurable difference)\n", med(p99Off), med(p99On))
	fmt.Printf("API CPU per request, median: off %.0f µs, on %.0f µs (+%.0f %%): the cost itself, steadier than req/s on a shared machine\n",
		med(cpuOff), med(cpuOn), 100*(med(cpuOn)/med(cpuOff)-1))
	fmt.Printf("the fake agent received %d traces and %d metric lines from the \"on\" runs\n", agent.traces.Load(), agent.metricLines.Load())
	return nil
}

func pct(ratios []float64) string {
	parts := make([]string, len(ratios))
	for i, r := range ratios {
		parts[i] = fmt.Sprintf("%.1f %%", 100*(1-r))
	}
	return strings.Join(parts, ", ")
}

// overheadRun starts the api with env, saturates it, then offers half of halfOf (its own rate
// when halfOf is 0) and returns both measurements and the peak RSS.
func (b *bench) overheadRun(ctx context.Context, conns int, env []string, halfOf float64) (sat, half result, rss, cpuPerReq float64, err error) {
	api, base, err := b.startAPIWith(ctx, conns, env)
	if err != nil {
		return result{}, result{}, 0, 0, err
	}
	defer api.stop()
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4 * conns}, Timeout: 10 * time.Second}
	create := func(ctx context.Context, _ int) error {
		return post(ctx, httpc, base+"/gifts", `{"amount":1000,"message":"bench"}`, nil, http.StatusCreated)
	}
	cpu0 := cpuTime(api.cmd.Process.Pid)
	if sat, err = b.saturate(ctx, conns, base, nil, create); err != nil {
		return result{}, result{}, 0, 0, err
	}
	if n := sat.rate * b.duration.Seconds(); n > 0 {
		cpuPerReq = float64(cpuTime(api.cmd.Process.Pid)-cpu0) / n
	}
	if halfOf == 0 {
		halfOf = sat.rate
	}
	half = openLoop(ctx, halfOf/2, b.duration, 4*conns, create)
	api.sampleRSS()
	return sat, half, api.peakRSS(), cpuPerReq, nil
}

// cpuTime is the CPU time (user + system) process pid has used, in microseconds.
func cpuTime(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start after the last ')'.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return (utime + stime) * 1_000_000 / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on Linux.
const clockTicks = 100
