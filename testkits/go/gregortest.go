// Package gregortest runs a gregor broker, or a cluster of them in one
// process, for the length of a Go test, so that an application can be tested
// against a real Kafka-protocol broker with any Go Kafka client.
//
// It starts the gregor binary in dev mode (`gregor broker --dev --port 0`):
// a fresh data directory, topics created on first use, consumer groups that
// rebalance without delay. Each broker comes with an admin listener whose
// HTTP fault plane this package drives: exact request faults, time travel,
// the client-behaviour linter, the request journal, and for a cluster
// killing, isolating and pausing brokers and moving leaders.
//
// The binary is GREGOR_BIN if set, else `gregor` on PATH. The package uses
// only the standard library; it is independent of the Kafka client.
package gregortest

import (
	"os"
	"os/exec"
	"testing"
)

// An Option changes how a broker or cluster is started.
type Option func(*settings)

type settings struct {
	overrides [][2]string
	args      []string
}

// WithOverride sets a broker setting by its Kafka name, as
// `--override key=value` does, on top of dev mode's own (for a cluster: on
// every broker). Setting admin.listener yourself replaces the free loopback
// port the package otherwise picks.
func WithOverride(key, value string) Option {
	return func(s *settings) { s.overrides = append(s.overrides, [2]string{key, value}) }
}

// WithEmulateKafka makes the broker advertise and accept only the API
// versions of a Kafka release ("3.0" to "4.3"), as `--emulate-kafka` does, to
// test an application against the Kafka its production runs.
func WithEmulateKafka(release string) Option {
	return func(s *settings) { s.args = append(s.args, "--emulate-kafka", release) }
}

// binary is the gregor executable to run: GREGOR_BIN, else gregor on PATH.
func binary(t testing.TB) string {
	t.Helper()
	if path := os.Getenv("GREGOR_BIN"); path != "" {
		return path
	}
	path, err := exec.LookPath("gregor")
	if err != nil {
		t.Fatalf("gregortest: no gregor binary: set GREGOR_BIN or put gregor on PATH (%v)", err)
	}
	return path
}
