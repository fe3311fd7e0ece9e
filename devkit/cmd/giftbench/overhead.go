package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// agentTargetTPS is the Datadog Agent's default ingestion target: it sets the services' sampling
// rates so that about 10 traces a second are kept per Agent (DD_APM_TARGET_TPS).
const agentTargetTPS = 10

// fakeAgent stands in for the Datadog Agent sidecar as the tracer sees it: it advertises what a
// current Agent does (client-computed stats on /v0.6/stats, and that the tracer may drop the
// traces it does not keep), answers each trace payload with the service's sampling rate the way
// the Agent's priority sampler does (agentTargetTPS over the traces per second it is told about,
// kept and dropped), and reads and drops everything, so the API pays the real encoding and
// sending. A DogStatsD UDP socket reads and drops metrics.
type fakeAgent struct {
	srv         *http.Server
	udp         net.PacketConn
	tracePort   int
	statsdPort  int
	traces      atomic.Int64 // traces received (kept by the tracer)
	dropped     atomic.Int64 // traces the tracer reported dropping
	metricLines atomic.Int64

	rateKey string // the service and env the sampling rate is for, as the tracer looks it up

	mu    sync.Mutex
	since time.Time
	seen  int64
	rates map[string]float64
}

// startFakeAgent starts an agent that rates the traces of service in env.
func startFakeAgent(service, env string) (*fakeAgent, error) {
	a := &fakeAgent{since: time.Now(), rates: map[string]float64{}, rateKey: "service:" + service + ",env:" + env}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a.tracePort = ln.Addr().(*net.TCPAddr).Port
	mux := http.NewServeMux()
	mux.HandleFunc("/info", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"endpoints":["/v0.4/traces","/v0.6/stats"],"client_drop_p0s":true}`)
	})
	mux.HandleFunc("/v0.6/stats", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		kept, _ := strconv.ParseInt(r.Header.Get("X-Datadog-Trace-Count"), 10, 64)
		dropped, _ := strconv.ParseInt(r.Header.Get("Datadog-Client-Dropped-P0-Traces"), 10, 64)
		a.traces.Add(kept)
		a.dropped.Add(dropped)
		_, _ = io.Copy(io.Discard, r.Body)
		_ = json.NewEncoder(w).Encode(map[string]any{"rate_by_service": a.sample(kept + dropped)})
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

// sample counts traces the tracer told about and, once a second, sets the service's rate to keep
// agentTargetTPS of them a second.
func (a *fakeAgent) sample(traces int64) map[string]float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen += traces
	if elapsed := time.Since(a.since).Seconds(); elapsed >= 1 {
		rate := 1.0
		if tps := float64(a.seen) / elapsed; tps > agentTargetTPS {
			rate = agentTargetTPS / tps
		}
		a.rates[a.rateKey] = rate
		a.since, a.seen = time.Now(), 0
	}
	return a.rates
}

func (a *fakeAgent) stop() {
	_ = a.srv.Close()
	_ = a.udp.Close()
}

// overheadMode is one configuration of the comparison.
type overheadMode struct {
	name, about string
	env         []string
}

// overhead measures POST /gifts with tracing and metrics off, on as deployed (the Agent's
// default sampling), and on tracing and keeping every request (the worst case), run
// one right after the other in rounds, so that a drift of the shared machine hits every mode of a
// round alike; each round is judged by its own ratios, and the median round is the figure. Each
// run measures the saturated rate, then the latency at half of the round's "off" rate: the same
// offered load for every mode.
func (b *bench) overhead(ctx context.Context, conns, rounds int) error {
	const service, env = "gift-api", "bench"
	agent, err := startFakeAgent(service, env)
	if err != nil {
		return err
	}
	defer agent.stop()
	on := []string{"DD_TRACE_ENABLED=true", "DD_AGENT_HOST=127.0.0.1", "DD_TRACE_AGENT_PORT=" + strconv.Itoa(agent.tracePort),
		"DD_DOGSTATSD_PORT=" + strconv.Itoa(agent.statsdPort), "DD_SERVICE=" + service, "DD_ENV=" + env}
	modes := []overheadMode{
		{"off", "DD_TRACE_ENABLED=false, no Agent", []string{"DD_TRACE_ENABLED=false", "DD_AGENT_HOST="}},
		{"on", fmt.Sprintf("as deployed: head sampling (about 100 spans/s started), then the Agent's default sampling (%d traces/s kept)", agentTargetTPS), on},
		{"all", "every request traced, every trace kept and sent (TRACE_REQUESTS_PER_SECOND=1000000, DD_TRACE_SAMPLE_RATE=1): the worst case",
			append(slices.Clone(on), "TRACE_REQUESTS_PER_SECOND=1000000", "DD_TRACE_SAMPLE_RATE=1")},
	}
	fmt.Printf("\nObservability overhead: POST /gifts, %d connections, %d rounds; spans and metrics go to a local fake Agent\n", conns, rounds)
	for _, m := range modes {
		fmt.Printf("  %-4s %s\n", m.name, m.about)
	}
	fmt.Printf("%-5s %-4s %10s %9s %9s %11s | %-32s %8s\n", "round", "mode", "req/s", "p50 ms", "p99 ms", "API CPU µs", "half of off's rate: p50/p95/p99 ms", "RSS MiB")
	rate, p50, p99 := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	cpu, rss := map[string][]float64{}, map[string][]float64{}
	for round := 1; round <= rounds; round++ {
		var offRate float64
		for _, m := range modes {
			sat, half, peak, perReq, err := b.overheadRun(ctx, conns, m.env, offRate)
			if err != nil {
				return err
			}
			if m.name == "off" {
				offRate = sat.rate
			}
			rate[m.name] = append(rate[m.name], sat.rate)
			p50[m.name] = append(p50[m.name], half.p50)
			p99[m.name] = append(p99[m.name], half.p99)
			cpu[m.name] = append(cpu[m.name], perReq)
			rss[m.name] = append(rss[m.name], peak)
			fmt.Printf("%-5d %-4s %10.0f %9.2f %9.2f %11.0f | %10.2f/%9.2f/%9.2f %8.1f\n", round, m.name, sat.rate, sat.p50, sat.p99, perReq, half.p50, half.p95, half.p99, peak)
		}
	}
	for _, m := range modes[1:] {
		costs := make([]float64, rounds)
		for i := range costs {
			costs[i] = 100 * (1 - rate[m.name][i]/rate["off"][i])
		}
		fmt.Printf("%s vs off:\n", m.name)
		fmt.Printf("  throughput cost %.1f %% (median round; rounds %s; target <= 10 %%)\n", median(costs), pcts(costs))
		fmt.Printf("  half rate p99 %.2f -> %.2f ms: %s (target: not measurable)\n",
			median(p99["off"]), median(p99[m.name]), latencyVerdict(p99["off"], p99[m.name]))
		fmt.Printf("  half rate p50 %.2f -> %.2f ms: %s\n", median(p50["off"]), median(p50[m.name]), latencyVerdict(p50["off"], p50[m.name]))
		fmt.Printf("  API CPU per request %.0f -> %.0f µs (%+.0f %%); peak RSS %.0f -> %.0f MiB\n",
			median(cpu["off"]), median(cpu[m.name]), 100*(median(cpu[m.name])/median(cpu["off"])-1), median(rss["off"]), median(rss[m.name]))
	}
	fmt.Printf("the fake Agent received %d traces, was told of %d dropped by the tracer, and read %d metric lines\n",
		agent.traces.Load(), agent.dropped.Load(), agent.metricLines.Load())
	return nil
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// latencyVerdict says whether a mode's latency (on) is measurably above off's, by a one-sided
// sign test over the rounds, paired as they ran: the chance that a mode no slower than off comes
// out higher in at least as many rounds. "Measurable" when that chance is at most 5 %: with 5
// rounds, higher in all 5. Fewer than 5 rounds cannot show it, and the verdict says so.
func latencyVerdict(off, on []float64) string {
	higher, diffs := 0, make([]float64, len(off))
	for i := range off {
		diffs[i] = on[i] - off[i]
		if diffs[i] > 0 {
			higher++
		}
	}
	p := signTestP(higher, len(off))
	verdict := "not measurable"
	switch {
	case len(off) < 5:
		verdict = "too few rounds to tell (5 needed)"
	case p <= 0.05:
		verdict = "MEASURABLE"
	}
	return fmt.Sprintf("higher in %d of %d rounds (median %+.2f ms, sign test p = %.2f): %s", higher, len(off), median(diffs), p, verdict)
}

// signTestP is the chance of at least k heads in n fair coin tosses.
func signTestP(k, n int) float64 {
	p := 0.0
	for i := k; i <= n; i++ {
		p += binomial(n, i)
	}
	return p / math.Pow(2, float64(n))
}

func binomial(n, k int) float64 {
	c := 1.0
	for i := 1; i <= k; i++ {
		c = c * float64(n-k+i) / float64(i)
	}
	return c
}

func pcts(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.1f %%", x)
	}
	return strings.Join(parts, ", ")
}

// overheadRun starts the api with env, saturates it, then offers half of halfOf (its own rate
// when halfOf is 0) and returns both measurements, the peak RSS and the API's CPU per request.
func (b *bench) overheadRun(ctx context.Context, conns int, env []string, halfOf float64) (sat, half result, rss, cpuPerReq float64, err error) {
	api, base, err := b.startAPIWith(ctx, conns, env)
	if err != nil {
		return result{}, result{}, 0, 0, err
	}
	defer api.stop()
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4 * conns}, Timeout: 10 * time.Second}
	create := b.createGifts(httpc, base)
	b.warmUp(ctx, conns, create)
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
