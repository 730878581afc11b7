package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// franz drives github.com/twmb/franz-go's kgo client: zstd, idempotent
// (its default with acks=all), transactions, and the classic or the KIP-848
// consumer group protocol.
type franz struct{}

func franzOpts(s *settings, extra ...kgo.Opt) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.brokers()...),
		kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelWarn, nil)),
	}
	if s.useTLS() {
		config, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(config))
	}
	if s.useSASL() {
		auth := scram.Auth{User: s.user, Pass: s.password}
		if s.mechanism == "SCRAM-SHA-512" {
			opts = append(opts, kgo.SASL(auth.AsSha512Mechanism()))
		} else {
			opts = append(opts, kgo.SASL(auth.AsSha256Mechanism()))
		}
	}
	return append(opts, extra...), nil
}

// franzClient makes a client and pings a broker with it: kgo retries a
// refused authentication in the background until a produce or poll gives
// up, so a Metadata request up front is what surfaces the refusal (as
// Kafka's Java client fails at once on one).
func franzClient(ctx context.Context, s *settings, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := franzOpts(s, extra...)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, franzError(err)
	}
	return cl, nil
}

func franzError(err error) error {
	if errors.Is(err, kerr.SaslAuthenticationFailed) {
		return fmt.Errorf("%w: %v", errAuthentication, err)
	}
	return classify(err)
}

func (franz) nodes(ctx context.Context, s *settings) error {
	cl, err := franzClient(ctx, s)
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // no topics: just the brokers
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return franzError(err)
	}
	for _, b := range resp.Brokers {
		say("node %d %s %d", b.NodeID, b.Host, b.Port)
	}
	return nil
}

func franzRecords(s *settings, topic string, values []string) []*kgo.Record {
	records := make([]*kgo.Record, len(values))
	for i, v := range values {
		records[i] = &kgo.Record{Topic: topic, Partition: int32(s.partition), Value: []byte(v)}
	}
	return records
}

// franzProduceSync produces the values and prints their offsets in order.
func franzProduceSync(ctx context.Context, cl *kgo.Client, s *settings, topic string,
	values []string) error {
	results := cl.ProduceSync(ctx, franzRecords(s, topic, values)...)
	if err := results.FirstErr(); err != nil {
		return franzError(err)
	}
	for _, r := range results {
		say("offset %d %d", r.Record.Partition, r.Record.Offset)
	}
	return nil
}

func (franz) produce(ctx context.Context, s *settings, topic string, values []string) error {
	cl, err := franzClient(ctx, s,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	return franzProduceSync(ctx, cl, s, topic, values)
}

func (franz) transaction(ctx context.Context, s *settings, topic, id string, commit bool,
	values []string) error {
	cl, err := franzClient(ctx, s,
		kgo.TransactionalID(id),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		return franzError(err)
	}
	if err := franzProduceSync(ctx, cl, s, topic, values); err != nil {
		return err
	}
	end := kgo.TryAbort
	if commit {
		end = kgo.TryCommit
	}
	if err := cl.EndTransaction(ctx, end); err != nil {
		return franzError(err)
	}
	if commit {
		say("committed")
	} else {
		say("aborted")
	}
	return nil
}

func (franz) consume(ctx context.Context, s *settings, topic, group string, count int) error {
	opts := []kgo.Opt{
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	}
	if s.readCommitted() {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	switch s.groupProtocol {
	case "classic":
	case "consumer":
		// KIP-848: the coordinator assigns; kgo needs a range or sticky
		// balancer first to opt in, and Kafka 4's ConsumerGroupHeartbeat v1.
		opts = append(opts, kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()))
	default:
		return fmt.Errorf("unknown group protocol %q", s.groupProtocol)
	}
	cl, err := franzClient(ctx, s, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	seen := 0
	for seen < count {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return timedOut(seen, count)
		}
		for _, e := range fetches.Errors() {
			if errors.Is(e.Err, kerr.SaslAuthenticationFailed) || authFailed(e.Err) {
				return franzError(e.Err)
			}
			fmt.Fprintf(os.Stderr, "fetch error %s[%d]: %v\n", e.Topic, e.Partition, e.Err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			say("record %d %d %s", r.Partition, r.Offset, r.Value)
			seen++
		})
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		return franzError(err)
	}
	say("committed %d", seen)
	return nil
}

// eos is consume-transform-produce exactly once with a GroupTransactSession:
// each poll's records are copied (value prefixed "eos-", same partition) to
// `out` in a transaction that also commits the group's offsets
// (TxnOffsetCommit). Prints "record PARTITION OFFSET VALUE" per input
// record, "offset PARTITION OFFSET" per output record, "transaction
// committed" per transaction, and "committed COUNT" at the end.
func (franz) eos(ctx context.Context, s *settings, in, out, group, id string, count int) error {
	opts, err := franzOpts(s,
		kgo.TransactionalID(id),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return err
	}
	session, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return err
	}
	defer session.Close()
	if err := session.Client().Ping(ctx); err != nil {
		return franzError(err)
	}
	seen := 0
	for seen < count {
		fetches := session.PollFetches(ctx)
		if ctx.Err() != nil {
			return timedOut(seen, count)
		}
		for _, e := range fetches.Errors() {
			logf("fetch error %s[%d]: %v", e.Topic, e.Partition, e.Err)
		}
		var copies []*kgo.Record
		fetches.EachRecord(func(r *kgo.Record) {
			say("record %d %d %s", r.Partition, r.Offset, r.Value)
			copies = append(copies, &kgo.Record{Topic: out, Partition: r.Partition,
				Value: append([]byte("eos-"), r.Value...)})
		})
		if len(copies) == 0 {
			continue
		}
		if err := session.Begin(); err != nil {
			return franzError(err)
		}
		results := session.ProduceSync(ctx, copies...)
		if err := results.FirstErr(); err != nil {
			session.End(ctx, kgo.TryAbort)
			return franzError(err)
		}
		for _, r := range results {
			say("offset %d %d", r.Record.Partition, r.Record.Offset)
		}
		committed, err := session.End(ctx, kgo.TryCommit)
		if err != nil {
			return franzError(err)
		}
		if !committed {
			return fmt.Errorf("the transaction of %d records was aborted", len(copies))
		}
		say("transaction committed")
		seen += len(copies)
	}
	say("committed %d", seen)
	return nil
}

// reassign asks for one partition's reassignment to replicas (nil: cancel
// the one in progress) with AlterPartitionAssignments, and prints
// "reassign PARTITION ERROR_CODE" (or "error CODE" for a top-level error).
func (franz) reassign(ctx context.Context, s *settings, topic string, partition int32,
	replicas []int32) error {
	cl, err := franzClient(ctx, s)
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.TimeoutMillis = 30000
	t := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	t.Topic = topic
	p := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	p.Partition = partition
	p.Replicas = replicas // nil is sent as null: a cancellation
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return franzError(err)
	}
	if resp.ErrorCode != 0 {
		say("error %d", resp.ErrorCode)
		return nil
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			say("reassign %d %d", p.Partition, p.ErrorCode)
		}
	}
	return nil
}

// reassignments lists the reassignments in progress with
// ListPartitionReassignments: "reassigning TOPIC PARTITION REPLICAS ADDING
// REMOVING", each list comma-separated ("-" when empty), then "listed".
func (franz) reassignments(ctx context.Context, s *settings) error {
	cl, err := franzClient(ctx, s)
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.TimeoutMillis = 30000 // every topic: Topics stays nil
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return franzError(err)
	}
	if resp.ErrorCode != 0 {
		say("error %d", resp.ErrorCode)
		return nil
	}
	ids := func(list []int32) string {
		if len(list) == 0 {
			return "-"
		}
		parts := make([]string, len(list))
		for i, id := range list {
			parts[i] = strconv.Itoa(int(id))
		}
		return strings.Join(parts, ",")
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			say("reassigning %s %d %s %s %s", t.Topic, p.Partition, ids(p.Replicas),
				ids(p.AddingReplicas), ids(p.RemovingReplicas))
		}
	}
	say("listed")
	return nil
}
