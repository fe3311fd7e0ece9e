// Package lifecycle is the lifecycle model test (issue 14): seeded, randomized schedules that
// interleave every actor of the system against the real binaries, PostgreSQL and the SQS emulator,
// and the invariants checked after them. The package itself holds only the invariants (Check), so
// they can be tested without a stack; the run is TestLifecycle.
package lifecycle
