package gregortest

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A Cluster is a dev-mode cluster in one process (`gregor broker --dev
// --brokers n`): every broker a voter of the metadata quorum, with real
// replication, ISR and coordinators between them, node ids 1 to n. Brokers
// are fenced after 3 s of silence and followers leave the ISR after 5 s, so
// failover tests do not wait Kafka's production timeouts.
//
// The cluster's plane has no request faults, journal or linter (a single
// Broker has them).
type Cluster struct {
	process *process
}

// StartCluster starts a cluster of n brokers for the test and stops it when
// the test ends. It fails the test if the cluster cannot start.
func StartCluster(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	return &Cluster{process: launch(t, []string{"--brokers", strconv.Itoa(n)}, opts)}
}

// Bootstrap is every broker's address, comma-separated, for
// bootstrap.servers.
func (c *Cluster) Bootstrap() string { return strings.Join(c.process.brokers, ",") }

// Brokers is every broker's address, by node id from 1: Brokers()[0] is
// node 1's. A broker keeps its address across Restart.
func (c *Cluster) Brokers() []string { return append([]string(nil), c.process.brokers...) }

// AdminURL is the base URL of the cluster's HTTP fault plane.
func (c *Cluster) AdminURL() string { return c.process.admin.url }

// A BrokerStatus is one broker of a cluster as the fault plane sees it.
type BrokerStatus struct {
	NodeID   int32  `json:"node_id"`
	Address  string `json:"address"`
	Running  bool   `json:"running"`
	Isolated bool   `json:"isolated"`
	// ClientsCut is the CutMode in force, or empty.
	ClientsCut CutMode `json:"clients_cut"`
}

// Status is every broker's state, by node id.
func (c *Cluster) Status() ([]BrokerStatus, error) {
	var brokers []BrokerStatus
	err := c.process.admin.call(http.MethodGet, "/brokers", nil, &brokers)
	return brokers, err
}

// Kill stops a broker as kill -9 would: no clean shutdown, its leaderships
// move once the controller fences it (3 s).
func (c *Cluster) Kill(node int32) error { return c.brokerAction(node, "kill") }

// Stop stops a broker cleanly: its leaderships are handed over first.
func (c *Cluster) Stop(node int32) error { return c.brokerAction(node, "stop") }

// Restart starts a killed or stopped broker again on the same port and data.
func (c *Cluster) Restart(node int32) error { return c.brokerAction(node, "restart") }

// Isolate cuts a broker off from the other brokers (replica fetching and
// the metadata quorum, both ways) while clients still reach it, as a
// network partition would: the others fence it and move its leaderships,
// while it still believes it leads. Heal ends it.
func (c *Cluster) Isolate(node int32) error { return c.brokerAction(node, "isolate") }

// Pause freezes a broker as SIGSTOP would, seen from outside: isolated and
// its clients black-holed until Heal (its own timers keep running).
func (c *Cluster) Pause(node int32) error { return c.brokerAction(node, "pause") }

// CutClients cuts a broker off from its clients, not from the other
// brokers, until Heal.
func (c *Cluster) CutClients(node int32, mode CutMode) error {
	return c.process.admin.call(http.MethodPost, fmt.Sprintf("/brokers/%d/clients", node),
		clientCut{Mode: mode}, nil)
}

// Heal ends every isolation, pause and client cut; an isolated broker
// drops what only it had and catches up.
func (c *Cluster) Heal() error {
	return c.process.admin.call(http.MethodPost, "/heal", nil, nil)
}

func (c *Cluster) brokerAction(node int32, action string) error {
	return c.process.admin.call(http.MethodPost, fmt.Sprintf("/brokers/%d/%s", node, action), nil, nil)
}

// NoLeader is what LeaderOf answers for a partition without a leader, as
// Kafka's metadata does.
const NoLeader int32 = -1

type partitionState struct {
	Leader *int32  `json:"leader"`
	ISR    []int32 `json:"isr"`
}

// partition is the partition's leader and ISR; none (and no error) while
// no broker knows the partition (404).
func (c *Cluster) partition(topic string, partition int32) (partitionState, error) {
	var state partitionState
	err := c.process.admin.call(http.MethodGet, partitionPath(topic, partition), nil, &state)
	var refused *HTTPError
	if errors.As(err, &refused) && refused.StatusCode == http.StatusNotFound {
		return partitionState{}, nil
	}
	return state, err
}

// LeaderOf is the partition's leader as the brokers that are not isolated
// agree, or NoLeader. A killed leader stays the leader until it is fenced.
func (c *Cluster) LeaderOf(topic string, partition int32) (int32, error) {
	state, err := c.partition(topic, partition)
	if err != nil || state.Leader == nil {
		return NoLeader, err
	}
	return *state.Leader, nil
}

// ISR is the partition's in-sync replicas as the brokers that are not
// isolated agree.
func (c *Cluster) ISR(topic string, partition int32) ([]int32, error) {
	state, err := c.partition(topic, partition)
	return state.ISR, err
}

// MoveLeader moves the partition's leadership to an in-sync replica, as a
// reassignment that completes at once and a preferred-leader election would.
func (c *Cluster) MoveLeader(topic string, partition int32, to int32) error {
	return c.process.admin.call(http.MethodPost, partitionPath(topic, partition)+"/leader",
		map[string]int32{"to": to}, nil)
}

// WaitForLeader waits up to timeout for the partition to have a leader
// other than the nodes in not (e.g. the one just killed), and returns it.
func (c *Cluster) WaitForLeader(topic string, partition int32, timeout time.Duration, not ...int32) (int32, error) {
	leader := NoLeader
	err := waitUntil(timeout, func() (bool, error) {
		var err error
		leader, err = c.LeaderOf(topic, partition)
		return leader != NoLeader && !slices.Contains(not, leader), err
	})
	if err != nil {
		return NoLeader, fmt.Errorf("gregortest: %s-%d: no leader other than %v within %v (last: %d): %w",
			topic, partition, not, timeout, leader, err)
	}
	return leader, nil
}

// WaitForISR waits up to timeout for the partition to have size in-sync
// replicas.
func (c *Cluster) WaitForISR(topic string, partition int32, size int, timeout time.Duration) error {
	var isr []int32
	err := waitUntil(timeout, func() (bool, error) {
		var err error
		isr, err = c.ISR(topic, partition)
		return len(isr) == size, err
	})
	if err != nil {
		return fmt.Errorf("gregortest: %s-%d: not %d in-sync replicas within %v (last: %v): %w",
			topic, partition, size, timeout, isr, err)
	}
	return nil
}

// AdvanceClock moves the clock of every broker forward; see
// Broker.AdvanceClock.
func (c *Cluster) AdvanceClock(by time.Duration) error {
	return c.process.admin.advanceClock(by)
}

var errTimedOut = errors.New("timed out")

// waitUntil polls done every 100 ms until it is true, fails, or timeout
// passes.
func waitUntil(timeout time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return errTimedOut
		}
		time.Sleep(100 * time.Millisecond)
	}
}
