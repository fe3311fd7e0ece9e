// Package drainbench measures how fast the worker drains the send queue, beside how fast the SQS
// emulator alone can receive and delete the same number of messages with the same concurrency, in
// the same run on the same machine. It is a benchmark (BenchmarkDrain, in its _test.go files), not
// a test: it reports figures and fails only when it cannot run. It has no code of its own outside
// tests, so nothing of it reaches the worker's binary.
//
// "Same concurrency" means the worker's access pattern and bound: at most -concurrency messages in
// hand, receives of up to 10 for the free slots, one DeleteMessage per message. The worker does the
// same plus, per message, a state read and the conditional UPDATE in PostgreSQL, which share the
// machine's CPUs with the emulator. The emulator's unbounded ceiling (independent consumers with up
// to 10 messages each in hand) is reported for context.
//
//	go test -run '^$' -bench Drain -benchtime 5x ./worker-svc/internal/drainbench/ [-args -gifts 2000 -concurrency 10]
//
// Each benchmark iteration is one round of the three measurements, after one warm-up round that is
// not reported; the medians of the rounds are reported (-benchtime 5x: five rounds). It starts its
// own throwaway PostgreSQL and emulator (testkit/servers). The worker runs with failure rate 0 and
// no simulated latency, so what is measured is the worker's own overhead: a receive per batch, per
// message a state read, the conditional UPDATE and a delete. Target: the worker drains at least 0.7
// of the raw rate. The mean latency of each kind of call is reported too: with at most
// -concurrency messages in hand, the rate is set by how long each message holds its slot, i.e. by
// the round trips it makes (raw: one delete; worker: two to PostgreSQL, then the delete), so the
// ratio depends on how fast PostgreSQL answers relative to SQS.
package drainbench
