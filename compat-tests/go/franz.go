package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
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

// quotaName prints a quota entity's name: "<default>" for null (the default
// entity), as Kafka's tools do.
func quotaName(name *string) string {
	if name == nil {
		return "<default>"
	}
	return *name
}

// quotaEntity prints an entity as "TYPE=NAME ..." in the order user,
// client-id, ip (then any other type, alphabetically), whatever order the
// broker answered in.
func quotaEntity(parts map[string]*string) string {
	rank := map[string]int{"user": 0, "client-id": 1, "ip": 2}
	types := make([]string, 0, len(parts))
	for t := range parts {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool {
		ri, oki := rank[types[i]]
		rj, okj := rank[types[j]]
		switch {
		case oki && okj:
			return ri < rj
		case oki != okj:
			return oki
		default:
			return types[i] < types[j]
		}
	})
	words := make([]string, len(types))
	for i, t := range types {
		words[i] = t + "=" + quotaName(parts[t])
	}
	return strings.Join(words, " ")
}

// quotaValue prints a quota's value without exponent or trailing zeros
// (1024, 0.5, 10000000).
func quotaValue(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func quotaMessage(message *string) string {
	if message == nil {
		return "-"
	}
	return *message
}

// parseQuotaEntity reads "TYPE=NAME,TYPE=NAME": NAME "<default>" is the
// default entity (null), an empty NAME the empty string.
func parseQuotaEntity(spec string) ([]kmsg.AlterClientQuotasRequestEntryEntity, error) {
	var entity []kmsg.AlterClientQuotasRequestEntryEntity
	for _, part := range strings.Split(spec, ",") {
		t, name, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("entity part %q is not TYPE=NAME", part)
		}
		e := kmsg.NewAlterClientQuotasRequestEntryEntity()
		e.Type = t
		if name != "<default>" {
			e.Name = kmsg.StringPtr(name)
		}
		entity = append(entity, e)
	}
	return entity, nil
}

// quotasAlter sends one AlterClientQuotas. args: [validate-only] then, per
// entry, "entity SPEC" (see parseQuotaEntity) followed by its operations,
// "set KEY=VALUE" or "remove KEY". Prints, per result entry, "altered
// ENTITY" or "alter-error ENTITY ERROR_CODE MESSAGE" (MESSAGE "-" if null).
func (franz) quotasAlter(ctx context.Context, s *settings, args []string) error {
	req := kmsg.NewPtrAlterClientQuotasRequest()
	if len(args) > 0 && args[0] == "validate-only" {
		req.ValidateOnly = true
		args = args[1:]
	}
	for i := 0; i < len(args); i++ {
		word := args[i]
		if i+1 >= len(args) {
			return fmt.Errorf("quotas-alter: %q needs an argument", word)
		}
		arg := args[i+1]
		i++
		switch word {
		case "entity":
			entity, err := parseQuotaEntity(arg)
			if err != nil {
				return err
			}
			entry := kmsg.NewAlterClientQuotasRequestEntry()
			entry.Entity = entity
			req.Entries = append(req.Entries, entry)
		case "set", "remove":
			if len(req.Entries) == 0 {
				return fmt.Errorf("quotas-alter: %s before any entity", word)
			}
			op := kmsg.NewAlterClientQuotasRequestEntryOp()
			if word == "set" {
				key, value, ok := strings.Cut(arg, "=")
				if !ok {
					return fmt.Errorf("quotas-alter: set %q is not KEY=VALUE", arg)
				}
				v, err := strconv.ParseFloat(value, 64)
				if err != nil {
					return err
				}
				op.Key, op.Value = key, v
			} else {
				op.Key, op.Remove = arg, true
			}
			entry := &req.Entries[len(req.Entries)-1]
			entry.Ops = append(entry.Ops, op)
		default:
			return fmt.Errorf("quotas-alter: entity, set or remove, not %q", word)
		}
	}
	cl, err := franzClient(ctx, s)
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return franzError(err)
	}
	for _, entry := range resp.Entries {
		parts := map[string]*string{}
		for _, e := range entry.Entity {
			parts[e.Type] = e.Name
		}
		if entry.ErrorCode == 0 {
			say("altered %s", quotaEntity(parts))
		} else {
			say("alter-error %s %d %s", quotaEntity(parts), entry.ErrorCode,
				quotaMessage(entry.ErrorMessage))
		}
	}
	return nil
}

// quotasDescribe sends one DescribeClientQuotas. args: [strict] then its
// filter components: "TYPE=NAME" (match exact), "TYPE=<default>" (match
// default), "TYPE" (match any specified name), or "TYPE/MATCH_TYPE/MATCH"
// sent as given (MATCH "<null>" for null). Prints "quota ENTITY KEY=VALUE..."
// per entry (keys sorted), then "described N"; an error is
// "describe-error ERROR_CODE MESSAGE" (MESSAGE "-" if null) before that.
func (franz) quotasDescribe(ctx context.Context, s *settings, args []string) error {
	req := kmsg.NewPtrDescribeClientQuotasRequest()
	if len(args) > 0 && args[0] == "strict" {
		req.Strict = true
		args = args[1:]
	}
	req.Components = []kmsg.DescribeClientQuotasRequestComponent{}
	for _, arg := range args {
		c := kmsg.NewDescribeClientQuotasRequestComponent()
		if raw := strings.SplitN(arg, "/", 3); len(raw) == 3 {
			matchType, err := strconv.Atoi(raw[1])
			if err != nil {
				return err
			}
			c.EntityType, c.MatchType = raw[0], kmsg.QuotasMatchType(matchType)
			if raw[2] != "<null>" {
				c.Match = kmsg.StringPtr(raw[2])
			}
		} else if t, name, ok := strings.Cut(arg, "="); !ok {
			c.EntityType, c.MatchType = arg, 2
		} else if name == "<default>" {
			c.EntityType, c.MatchType = t, 1
		} else {
			c.EntityType, c.MatchType, c.Match = t, 0, kmsg.StringPtr(name)
		}
		req.Components = append(req.Components, c)
	}
	cl, err := franzClient(ctx, s)
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return franzError(err)
	}
	if resp.ErrorCode != 0 {
		say("describe-error %d %s", resp.ErrorCode, quotaMessage(resp.ErrorMessage))
	}
	for _, entry := range resp.Entries {
		parts := map[string]*string{}
		for _, e := range entry.Entity {
			parts[e.Type] = e.Name
		}
		values := make([]string, len(entry.Values))
		for i, v := range entry.Values {
			values[i] = v.Key + "=" + quotaValue(v.Value)
		}
		sort.Strings(values)
		say("quota %s %s", quotaEntity(parts), strings.Join(values, " "))
	}
	say("described %d", len(resp.Entries))
	return nil
}

// features prints the features an ApiVersions v3+ answer lists: what the
// broker supports and what the cluster finalized.
func (franz) features(ctx context.Context, s *settings) error {
	cl, err := franzClient(ctx, s)
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName = "gregor-go-client"
	req.ClientSoftwareVersion = "1.0"
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return franzError(err)
	}
	for _, f := range resp.SupportedFeatures {
		say("supported %s %d %d", f.Name, f.MinVersion, f.MaxVersion)
	}
	for _, f := range resp.FinalizedFeatures {
		say("finalized %s %d", f.Name, f.MaxVersionLevel)
	}
	say("epoch %d", resp.FinalizedFeaturesEpoch)
	return nil
}

// updateFeature sends one UpdateFeatures for one feature (at the newest
// version both sides know: v2 answers without per-feature results).
func (franz) updateFeature(ctx context.Context, s *settings, name string, level int16,
	upgradeType int8) error {
	cl, err := franzClient(ctx, s)
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrUpdateFeaturesRequest()
	req.TimeoutMillis = 30000
	update := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
	update.Feature = name
	update.MaxVersionLevel = level
	update.UpgradeType = upgradeType
	req.FeatureUpdates = append(req.FeatureUpdates, update)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return franzError(err)
	}
	if resp.ErrorMessage != nil && *resp.ErrorMessage != "" {
		say("updated %d %s", resp.ErrorCode, *resp.ErrorMessage)
	} else {
		say("updated %d", resp.ErrorCode)
	}
	for _, r := range resp.Results {
		say("result %s %d", r.Feature, r.ErrorCode)
	}
	return nil
}

// newest sends, at the newest versions both sides know (Kafka 4.4's), a
// DeleteGroups for a group that does not exist, ListOffsets of partition 0
// of topic at the special timestamps -1, -2, -6 (earliest pending upload)
// and -7 (no such thing), and a DescribeLogDirs, printing what came back.
func (franz) newest(ctx context.Context, s *settings, topic, group string) error {
	cl, err := franzClient(ctx, s)
	if err != nil {
		return err
	}
	defer cl.Close()
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{group}
	deleted, err := del.RequestWith(ctx, cl)
	if err != nil {
		return franzError(err)
	}
	for _, r := range deleted.Groups {
		message := "null"
		if r.ErrorMessage != nil {
			message = *r.ErrorMessage
		}
		say("deleted %s %d %s", r.Group, r.ErrorCode, message)
	}
	for _, timestamp := range []int64{-1, -2, -6, -7} {
		list := kmsg.NewPtrListOffsetsRequest()
		list.ReplicaID = -1
		t := kmsg.NewListOffsetsRequestTopic()
		t.Topic = topic
		p := kmsg.NewListOffsetsRequestTopicPartition()
		p.Partition = 0
		p.Timestamp = timestamp
		t.Partitions = append(t.Partitions, p)
		list.Topics = append(list.Topics, t)
		listed, err := list.RequestWith(ctx, cl)
		if err != nil {
			return franzError(err)
		}
		for _, rt := range listed.Topics {
			for _, rp := range rt.Partitions {
				say("offset %d %d %d %d", timestamp, rp.ErrorCode, rp.Offset, rp.LeaderEpoch)
			}
		}
	}
	dirs, err := kmsg.NewPtrDescribeLogDirsRequest().RequestWith(ctx, cl)
	if err != nil {
		return franzError(err)
	}
	for _, d := range dirs.Dirs {
		say("dir %d cordoned=%t topics=%d", d.ErrorCode, d.IsCordoned, len(d.Topics))
	}
	return nil
}
