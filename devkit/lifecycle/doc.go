// Package lifecycle is the lifecycle model test (issue 14): seeded, randomized schedules that
// interleave every actor of the system against the real binaries, PostgreSQL and the SQS emulator,
// and the invariants checked after them. The package itself holds only the invariants (Check), so
// they are tested without a stack (TestCheck); the run is TestLifecycle.
//
// # Design
//
// One shared stack per test binary: the API, one worker and giftctl built from the working tree
// (devstack.Build), on a database and a queue pair of their own (testkit/testenv: the binary's
// PostgreSQL and emulator), with production's redrive (maxReceiveCount 5). Each service reaches
// PostgreSQL and SQS through a fault proxy of its own (testkit/faultproxy); the test, its audit and
// giftctl go straight.
//
// Schedules run in waves (LIFECYCLE_WAVE, 200), all schedules of a wave at once, each on its own
// gift, starting at a drawn moment within 20 s. A schedule is drawn from (LIFECYCLE_SEED, its
// index): create; send, with X-Force-Failure or not; a replay with the same key; a send with
// another key; a duplicate publish (a copy of the gift's queue message sent straight to the main
// queue); an operator `giftctl retry --yes` once the gift is FAILED, and a second one if it fails
// again; a stale message of the earlier series put back on the main queue after the retry. A
// duplicate of a forced message that is then retried keeps going round while the new series
// starts: the stale message of issue 14's first defect, at a late receive.
//
// Global events hit every schedule running at the time. Each wave has every kind once, in an order
// and with lengths drawn from the seed, one after another with gaps of 2.5-3.5 s: worker SIGKILL and
// SIGTERM (then a new worker), a database outage, a database outage with a worker SIGTERM inside
// it (twice), an SQS outage, an SQS outage of the API alone (retries wait in the
// outbox while stale messages keep going round), a slow SQS for the API (1.5 s, shorter than OUTBOX_PUBLISH_TIMEOUT: no call fails,
// yet the dispatcher is still publishing when a build with the relay's old fixed delay would let
// the relay take the row), `giftctl dlq redrive` and `giftctl reconcile --apply --older-than 20s`.
// Operator commands run one at a time, as giftctl's wait for messages in other hands assumes.
//
// After a wave the test polls (never sleeps-then-checks) until every accepted send of the wave is
// SENT or FAILED, the outbox is empty and the main queue holds nothing, then reads the gifts, their
// history, the worker's log lines about them and the DLQ (all of it, once no one else holds a
// message), checks the invariants, and deletes the wave's DLQ messages so the DLQ stays small.
// The run stops after the first wave with a violation and prints, for each schedule concerned,
// the seed, the schedule index, its plan, what it did (with times), the wave's global events, the
// gift's history and the worker's lines about it; the services' logs stay in
// .local/lifecycle/<time>/.
//
// # Settings
//
// OUTBOX_POLL_INTERVAL=200ms (and OUTBOX_RELAY_DELAY=1s for a build that still has that setting,
// from before the dispatcher's lease: it is how the test catches defect 2 with its fix reverted); WORKER_RETRY_BASE_DELAY and
// WORKER_RETRY_MAX_DELAY 1s (a forced failure reaches the DLQ in about 5 s),
// WORKER_VISIBILITY_TIMEOUT=2s, WORKER_RECEIVE_WAIT=1s, WORKER_SHUTDOWN_TIMEOUT=2s,
// WORKER_DLQ_RECONCILE_INTERVAL=10s, WORKER_SEND_LATENCY=100ms (two deliveries in hand at once
// overlap), the default failure rate (20 %). The binaries run without the race detector: they are
// separate processes, and their races are the services' own tests' business; the test binary
// itself runs under `make test`'s -race like every other.
//
// # Invariants
//
// (a) Every accepted send ends SENT or FAILED.
// (b) FAILED only after the configured attempts (maxReceiveCount) of its current series ran:
// send_requests.attempts where the build has that column; else the worker's log (lines written
// once an attempt ran, plus receives missing from the log, which a worker killed mid-attempt
// leaves: counting them keeps the witness from accusing a crash).
// (c) At most one successful pseudo-send per series: "gift sent", plus "another delivery finished
// the gift first" before the last attempt (a send that succeeded while another delivery stored
// SENT).
// (d) The history (gift_events) is a path of the state machine: CREATED -> QUEUED -> SENT |
// FAILED, FAILED -> QUEUED (operator retry), QUEUED -> QUEUED (re-enqueue), ending in the gift's
// status.
// (e) The DLQ holds exactly the FAILED gifts not retried since: a gift has a DLQ message of its
// current series if and only if it is FAILED. Settled messages stay in the DLQ (docs/architecture.md,
// "DLQ reconciler"), so "holds" means present, visible or in someone's hands; messages of an
// earlier series may stay (a retry removes those it reaches; a redrive drops the rest).
// (f) One publish per outbox row: the messages the worker saw for a gift, less those the schedule
// injected, are at most its moves into QUEUED (each writes one outbox row) plus its redrives,
// unless a database or SQS outage came within 1 s of the time it was queued (a publish SQS
// accepted whose answer or delete was lost is published again, by design). A slow SQS is not an
// excuse.
// (g) A message of an earlier series changes nothing: no stored SENT or FAILED comes from an
// injected message whose series is behind the gift's.
package lifecycle
