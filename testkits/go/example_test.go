package gregortest_test

// These tests are the README's examples, run against a real gregor with
// franz-go (kgo): each asserts what an application would rely on.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	gregortest "github.com/gregor-broker/gregor/testkits/go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The JSON the fault plane receives for a fault: no broker needed.
func ExampleFault() {
	fault := gregortest.Fault{
		API:    "Produce",
		Topic:  "orders",
		Action: gregortest.ErrorCode(6), // NOT_LEADER_OR_FOLLOWER
		Count:  2,
	}
	data, _ := json.Marshal(fault)
	fmt.Println(string(data))
	// Output: {"api":"Produce","topic":"orders","action":{"error":6},"count":2}
}

func TestProducedRecordsAreConsumed(t *testing.T) {
	broker := gregortest.Start(t)
	ctx := testContext(t)

	producer := newClient(t, broker.Brokers(), kgo.DefaultProduceTopic("orders"))
	var records []*kgo.Record
	for i := range 10 {
		records = append(records, &kgo.Record{Key: []byte("order-" + strconv.Itoa(i)), Value: []byte("placed")})
	}
	if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	consumer := newClient(t, broker.Brokers(), kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var keys []string
	for _, record := range consume(t, ctx, consumer, 10) {
		keys = append(keys, string(record.Key))
	}
	want := []string{"order-0", "order-1", "order-2", "order-3", "order-4",
		"order-5", "order-6", "order-7", "order-8", "order-9"}
	if !slices.Equal(keys, want) {
		t.Fatalf("consumed %v, want %v", keys, want)
	}
}

func TestProducerRetriesThroughInjectedNotLeaderErrors(t *testing.T) {
	broker := gregortest.Start(t)
	ctx := testContext(t)

	// kgo sends Produce v13, which names the topic by id: the fault's
	// Topic filter matches it all the same.
	err := broker.ArmFault(gregortest.Fault{
		API: "Produce", Topic: "payments", ClientID: "billing", Action: gregortest.ErrorCode(6),
		Count: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	armed, err := broker.Faults()
	if err != nil {
		t.Fatal(err)
	}
	if len(armed) != 1 || armed[0].API != "Produce" || armed[0].ClientID != "billing" || armed[0].Count != 2 {
		t.Fatalf("armed faults: %+v", armed)
	}

	// kgo refreshes metadata before each retry, at most every 5 s unless
	// told otherwise: without MetadataMinAge two retries take 10 s.
	producer := newClient(t, broker.Brokers(), kgo.ClientID("billing"),
		kgo.DefaultProduceTopic("payments"), kgo.MetadataMinAge(100*time.Millisecond))
	record, err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte("paid")}).First()
	if err != nil {
		t.Fatalf("kgo did not retry through NOT_LEADER_OR_FOLLOWER: %v", err)
	}
	if record.Offset != 0 {
		t.Fatalf("the record is at offset %d: a refused request was written", record.Offset)
	}

	if armed, err = broker.Faults(); err != nil || len(armed) != 0 {
		t.Fatalf("faults left after both were used: %+v (%v)", armed, err)
	}
	journal, err := broker.Journal()
	if err != nil {
		t.Fatal(err)
	}
	var answered []string
	for _, entry := range journal {
		if entry.API == "Produce" && entry.ClientID == "billing" {
			answered = append(answered, fmt.Sprintf("%d %s", entry.ErrorCode, entry.Fault))
		}
	}
	if want := []string{`6 {"error":6}`, `6 {"error":6}`, "0 null"}; !slices.Equal(answered, want) {
		t.Fatalf("Produce requests answered %q, want %q", answered, want)
	}
}

func TestAdvancingTheClockAbortsAnOpenTransaction(t *testing.T) {
	broker := gregortest.Start(t)
	ctx := testContext(t)

	forgetful := newClient(t, broker.Brokers(), kgo.ClientID("forgetful"),
		kgo.TransactionalID("ledger-writer"), kgo.TransactionTimeout(time.Minute),
		kgo.DefaultProduceTopic("ledger"))
	if err := forgetful.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := forgetful.ProduceSync(ctx, &kgo.Record{Value: []byte("never committed")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// A minute of transaction timeout passes at once.
	if err := broker.AdvanceClock(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	finding := waitForFinding(t, broker, "forgetful", "transaction-timed-out")
	var evidence struct {
		Transactions []struct {
			TransactionalID string `json:"transactional_id"`
			TimeoutMs       int64  `json:"timeout_ms"`
		} `json:"transactions"`
	}
	if err := json.Unmarshal(finding.Evidence, &evidence); err != nil {
		t.Fatal(err)
	}
	if len(evidence.Transactions) != 1 || evidence.Transactions[0].TransactionalID != "ledger-writer" ||
		evidence.Transactions[0].TimeoutMs != 60000 {
		t.Fatalf("evidence: %s", finding.Evidence)
	}
	if err := forgetful.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("committed a transaction the broker had aborted")
	}

	plain := newClient(t, broker.Brokers(), kgo.DefaultProduceTopic("ledger"))
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("committed")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	reader := newClient(t, broker.Brokers(), kgo.ConsumeTopics("ledger"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if record := consume(t, ctx, reader, 1)[0]; string(record.Value) != "committed" {
		t.Fatalf("a read_committed consumer read %q at offset %d", record.Value, record.Offset)
	}
}

func TestLinterFlagsACommitPastTheHighWatermark(t *testing.T) {
	// kgo commits with OffsetCommit v10, which names topics by id.
	broker := gregortest.Start(t)
	ctx := testContext(t)

	client := newClient(t, broker.Brokers(), kgo.ClientID("reports"), kgo.DefaultProduceTopic("reports"))
	records := []*kgo.Record{{Value: []byte("a")}, {Value: []byte("b")}, {Value: []byte("c")}}
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// An application that commits the offset it means to read next plus
	// 100, as an off-by-a-batch bug would.
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group = "daily-report"
	commit.Generation = -1 // a commit from outside the group's members
	// OffsetCommit v10 (Kafka 4.2+) names the topic by id: look it up.
	metadata := kmsg.NewPtrMetadataRequest()
	wanted := kmsg.NewMetadataRequestTopic()
	wanted.Topic = kmsg.StringPtr("reports")
	metadata.Topics = append(metadata.Topics, wanted)
	described, err := metadata.RequestWith(ctx, client)
	if err != nil || len(described.Topics) != 1 {
		t.Fatalf("metadata of reports: %v", err)
	}
	topic := kmsg.NewOffsetCommitRequestTopic()
	topic.Topic = "reports"
	topic.TopicID = described.Topics[0].TopicID
	partition := kmsg.NewOffsetCommitRequestTopicPartition()
	partition.Partition, partition.Offset = 0, 103
	topic.Partitions = append(topic.Partitions, partition)
	commit.Topics = append(commit.Topics, topic)
	response, err := commit.RequestWith(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(response.Topics[0].Partitions[0].ErrorCode); err != nil {
		t.Fatalf("the commit was refused: %v", err)
	}

	finding := waitForFinding(t, broker, "reports", "commit-beyond-high-watermark")
	var evidence struct {
		Examples []struct {
			Group         string `json:"group"`
			Offset        int64  `json:"offset"`
			HighWatermark int64  `json:"high_watermark"`
		} `json:"examples"`
	}
	if err := json.Unmarshal(finding.Evidence, &evidence); err != nil {
		t.Fatal(err)
	}
	if len(evidence.Examples) != 1 || evidence.Examples[0].Group != "daily-report" ||
		evidence.Examples[0].Offset != 103 || evidence.Examples[0].HighWatermark != 3 {
		t.Fatalf("evidence: %s", finding.Evidence)
	}
	if finding.Fix == "" || finding.Message == "" {
		t.Fatalf("a finding without a message or a fix: %+v", finding)
	}
}

func TestAPausedPartitionHoldsProducersUntilResumed(t *testing.T) {
	broker := gregortest.Start(t)
	ctx := testContext(t)

	producer := newClient(t, broker.Brokers(), kgo.DefaultProduceTopic("inventory"))
	if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte("first")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := broker.PausePartition("inventory", 0); err != nil {
		t.Fatal(err)
	}
	acked := make(chan error, 1)
	producer.Produce(ctx, &kgo.Record{Value: []byte("held")}, func(_ *kgo.Record, err error) { acked <- err })
	select {
	case err := <-acked:
		t.Fatalf("acknowledged while paused (%v)", err)
	case <-time.After(time.Second):
	}
	if err := broker.ResumePartition("inventory", 0); err != nil {
		t.Fatal(err)
	}
	if err := <-acked; err != nil {
		t.Fatal(err)
	}
}

func TestBlackHoledRequestsAreAnsweredOnceHealed(t *testing.T) {
	broker := gregortest.Start(t)
	ctx := testContext(t)

	producer := newClient(t, broker.Brokers(), kgo.DefaultProduceTopic("audit"))
	if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte("before")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := broker.CutClients(gregortest.BlackHole); err != nil {
		t.Fatal(err)
	}
	acked := make(chan error, 1)
	producer.Produce(ctx, &kgo.Record{Value: []byte("during")}, func(_ *kgo.Record, err error) { acked <- err })
	select {
	case err := <-acked:
		t.Fatalf("answered through a black hole (%v)", err)
	case <-time.After(time.Second):
	}
	if err := broker.HealClients(); err != nil {
		t.Fatal(err)
	}
	if err := <-acked; err != nil {
		t.Fatal(err)
	}
}

func TestFaultPlaneRefusalsCarryTheStatusAndReason(t *testing.T) {
	broker := gregortest.Start(t)

	err := broker.ArmFault(gregortest.Fault{API: "NoSuchApi", Action: gregortest.Disconnect, Count: 1})
	var refused *gregortest.HTTPError
	if !errors.As(err, &refused) || refused.StatusCode != http.StatusBadRequest ||
		refused.Body != `unknown api "NoSuchApi"` {
		t.Fatalf("got %v", err)
	}
}

func TestClusterElectsANewLeaderAndKeepsAcknowledgedRecords(t *testing.T) {
	cluster := gregortest.StartCluster(t, 3)
	ctx := testContext(t)

	admin := newClient(t, cluster.Brokers())
	createTopic(t, ctx, admin, "replicated", 1, 3)
	if err := cluster.WaitForISR("replicated", 0, 3, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	producer := newClient(t, cluster.Brokers(), kgo.DefaultProduceTopic("replicated"),
		kgo.RequiredAcks(kgo.AllISRAcks()))
	acked := map[int64]string{}
	produce := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			value := "record-" + strconv.Itoa(i)
			record, err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte(value)}).First()
			if err != nil {
				t.Fatalf("%s: %v", value, err)
			}
			acked[record.Offset] = value
		}
	}
	produce(0, 20)

	leader, err := cluster.LeaderOf("replicated", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.Kill(leader); err != nil {
		t.Fatal(err)
	}
	next, err := cluster.WaitForLeader("replicated", 0, 30*time.Second, leader)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed leader %d; %d leads now", leader, next)
	produce(20, 40)

	consumer := newClient(t, cluster.Brokers(), kgo.ConsumeTopics("replicated"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	read := map[int64]string{}
	for _, record := range consume(t, ctx, consumer, len(acked)) {
		read[record.Offset] = string(record.Value)
	}
	if len(read) != len(acked) {
		t.Fatalf("read %d records, %d were acknowledged", len(read), len(acked))
	}
	for offset, value := range acked {
		if read[offset] != value {
			t.Fatalf("offset %d: read %q, acknowledged %q", offset, read[offset], value)
		}
	}

	// The old leader comes back on its port and data and catches up.
	if err := cluster.Restart(leader); err != nil {
		t.Fatal(err)
	}
	if err := cluster.WaitForISR("replicated", 0, 3, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := cluster.MoveLeader("replicated", 0, leader); err != nil {
		t.Fatal(err)
	}
	if now, err := cluster.LeaderOf("replicated", 0); err != nil || now != leader {
		t.Fatalf("leader %d after moving it to %d (%v)", now, leader, err)
	}
}

func TestClusterIsolationAndHealing(t *testing.T) {
	cluster := gregortest.StartCluster(t, 3)
	ctx := testContext(t)

	admin := newClient(t, cluster.Brokers())
	createTopic(t, ctx, admin, "isolated", 1, 3)
	if err := cluster.WaitForISR("isolated", 0, 3, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	leader, err := cluster.LeaderOf("isolated", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.Isolate(leader); err != nil {
		t.Fatal(err)
	}
	if err := cluster.CutClients(leader%3+1, gregortest.BlackHole); err != nil {
		t.Fatal(err)
	}
	status, err := cluster.Status()
	if err != nil {
		t.Fatal(err)
	}
	if !status[leader-1].Isolated || status[leader%3].ClientsCut != gregortest.BlackHole {
		t.Fatalf("status: %+v", status)
	}
	next, err := cluster.WaitForLeader("isolated", 0, 30*time.Second, leader)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("isolated leader %d; %d leads now", leader, next)

	if err := cluster.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := cluster.WaitForISR("isolated", 0, 3, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	status, err = cluster.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, broker := range status {
		if !broker.Running || broker.Isolated || broker.ClientsCut != "" {
			t.Fatalf("after Heal: %+v", status)
		}
	}
}

// testContext bounds a test's Kafka calls.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newClient is a kgo client of the brokers. kgo, unlike most clients, does
// not ask for the topics it uses to be created: AllowAutoTopicCreation
// makes dev mode's auto-creation work for it.
func newClient(t *testing.T, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation()}, opts...)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return client
}

// consume polls until n records have come, or fails the test.
func consume(t *testing.T, ctx context.Context, client *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	var records []*kgo.Record
	for len(records) < n {
		fetches := client.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", len(records), n, err)
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			t.Logf("fetching %s-%d: %v", topic, partition, err)
		})
		records = append(records, fetches.Records()...)
	}
	return records
}

// waitForFinding waits for the linter to flag a client id under a rule.
func waitForFinding(t *testing.T, broker *gregortest.Broker, clientID, rule string) gregortest.Finding {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		findings, err := broker.Lint()
		if err != nil {
			t.Fatal(err)
		}
		for _, finding := range findings {
			if finding.ClientID == clientID && finding.Rule == rule {
				return finding
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s finding for %s: %+v", rule, clientID, findings)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func createTopic(t *testing.T, ctx context.Context, client *kgo.Client, name string, partitions int32, replicationFactor int16) {
	t.Helper()
	request := kmsg.NewPtrCreateTopicsRequest()
	topic := kmsg.NewCreateTopicsRequestTopic()
	topic.Topic, topic.NumPartitions, topic.ReplicationFactor = name, partitions, replicationFactor
	request.Topics = append(request.Topics, topic)
	request.TimeoutMillis = 30000
	response, err := request.RequestWith(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(response.Topics[0].ErrorCode); err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
}
