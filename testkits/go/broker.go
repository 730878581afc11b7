package gregortest

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// A Broker is one dev-mode gregor broker, stopped when the test ends.
type Broker struct {
	process *process
}

// Start starts a broker for the test (`gregor broker --dev --port 0` with an
// admin listener) and stops it when the test ends. It fails the test if the
// broker cannot start.
func Start(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	return &Broker{process: launch(t, nil, opts)}
}

// Bootstrap is the broker's address, for bootstrap.servers.
func (b *Broker) Bootstrap() string { return b.process.brokers[0] }

// Brokers is the broker's address as a list, for clients that take one
// (kgo.SeedBrokers).
func (b *Broker) Brokers() []string { return append([]string(nil), b.process.brokers...) }

// AdminURL is the base URL of the broker's HTTP fault plane, e.g.
// http://127.0.0.1:40123, for the endpoints this package does not wrap
// (/metrics, /health, /clock).
func (b *Broker) AdminURL() string { return b.process.admin.url }

// ArmFault arms a fault for the next f.Count matching requests.
func (b *Broker) ArmFault(f Fault) error {
	return b.process.admin.call(http.MethodPost, "/faults", f, nil)
}

// Faults lists the armed faults with the matches each has left; a fault
// that has used them all is gone.
func (b *Broker) Faults() ([]ArmedFault, error) {
	var faults []ArmedFault
	err := b.process.admin.call(http.MethodGet, "/faults", nil, &faults)
	return faults, err
}

// ClearFaults disarms every fault.
func (b *Broker) ClearFaults() error {
	return b.process.admin.call(http.MethodDelete, "/faults", nil, nil)
}

// AdvanceClock moves the broker's clock forward (in whole milliseconds):
// group sessions and rebalances, transaction timeouts, producer id expiry,
// retention and delegation tokens expire at once instead of after real
// time, and record timestamps the broker writes move with it.
func (b *Broker) AdvanceClock(by time.Duration) error {
	return b.process.admin.advanceClock(by)
}

// Lint is what the client-behaviour linter has found so far about each
// client id.
func (b *Broker) Lint() ([]Finding, error) {
	var findings []Finding
	err := b.process.admin.call(http.MethodGet, "/lint", nil, &findings)
	return findings, err
}

// Journal is the last 1000 requests the broker answered, oldest first.
func (b *Broker) Journal() ([]JournalEntry, error) {
	var entries []JournalEntry
	err := b.process.admin.call(http.MethodGet, "/journal", nil, &entries)
	return entries, err
}

// CutClients cuts the broker off from its clients until HealClients.
func (b *Broker) CutClients(mode CutMode) error {
	return b.process.admin.call(http.MethodPost, "/network/clients", clientCut{Mode: mode}, nil)
}

// HealClients ends a CutClients: black-holed requests are answered now.
func (b *Broker) HealClients() error {
	return b.process.admin.call(http.MethodDelete, "/network/clients", nil, nil)
}

// PausePartition holds the partition's appends (producers wait for their
// acknowledgement) until ResumePartition.
func (b *Broker) PausePartition(topic string, partition int32) error {
	return b.process.admin.call(http.MethodPost, partitionPath(topic, partition)+"/pause", nil, nil)
}

// ResumePartition releases the appends PausePartition held.
func (b *Broker) ResumePartition(topic string, partition int32) error {
	return b.process.admin.call(http.MethodPost, partitionPath(topic, partition)+"/resume", nil, nil)
}

func partitionPath(topic string, partition int32) string {
	return fmt.Sprintf("/partitions/%s/%d", url.PathEscape(topic), partition)
}
