package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// kafkaGo drives github.com/segmentio/kafka-go: its Writer (lz4), its
// Reader in a consumer group with synchronous commits, and its Client. It
// has no transactional producer.
type kafkaGo struct{}

func kafkaGoSASL(s *settings) (sasl.Mechanism, error) {
	if !s.useSASL() {
		return nil, nil
	}
	algorithm := scram.SHA256
	if s.mechanism == "SCRAM-SHA-512" {
		algorithm = scram.SHA512
	}
	return scram.Mechanism(algorithm, s.user, s.password)
}

func kafkaGoTransport(s *settings) (*kafka.Transport, error) {
	transport := &kafka.Transport{DialTimeout: 10 * time.Second, ClientID: "gregor-go-client-kafka-go"}
	if s.useTLS() {
		config, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		transport.TLS = config
	}
	mechanism, err := kafkaGoSASL(s)
	if err != nil {
		return nil, err
	}
	transport.SASL = mechanism
	return transport, nil
}

func kafkaGoError(err error) error {
	if errors.Is(err, kafka.SASLAuthenticationFailed) {
		return fmt.Errorf("%w: %v", errAuthentication, err)
	}
	return classify(err)
}

func (kafkaGo) nodes(ctx context.Context, s *settings) error {
	transport, err := kafkaGoTransport(s)
	if err != nil {
		return err
	}
	defer transport.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(s.brokers()...), Transport: transport,
		Timeout: s.timeout}
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err != nil {
		return kafkaGoError(err)
	}
	brokers := resp.Brokers
	sort.Slice(brokers, func(i, j int) bool { return brokers[i].ID < brokers[j].ID })
	for _, b := range brokers {
		say("node %d %s %d", b.ID, b.Host, b.Port)
	}
	return nil
}

func (kafkaGo) produce(ctx context.Context, s *settings, topic string, values []string) error {
	transport, err := kafkaGoTransport(s)
	if err != nil {
		return err
	}
	defer transport.CloseIdleConnections()
	// The Writer sets each message's offset before its Completion; WriterData
	// carries the message's index to put them back in order.
	var mu sync.Mutex
	offsets := make([]*kafka.Message, len(values))
	writer := &kafka.Writer{
		Addr:      kafka.TCP(s.brokers()...),
		Topic:     topic,
		Transport: transport,
		Balancer: kafka.BalancerFunc(func(kafka.Message, ...int) int {
			return s.partition
		}),
		RequiredAcks: kafka.RequireAll,
		Compression:  kafka.Lz4,
		BatchSize:    len(values),
		BatchTimeout: 10 * time.Millisecond,
		MaxAttempts:  3,
		ErrorLogger:  log.New(os.Stderr, "kafka-go writer: ", 0),
		Completion: func(messages []kafka.Message, err error) {
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for i := range messages {
				m := messages[i]
				offsets[m.WriterData.(int)] = &m
			}
		},
	}
	messages := make([]kafka.Message, len(values))
	for i, v := range values {
		messages[i] = kafka.Message{Value: []byte(v), WriterData: i}
	}
	err = writer.WriteMessages(ctx, messages...)
	if closeErr := writer.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		var batch kafka.WriteErrors
		if errors.As(err, &batch) {
			for _, e := range batch {
				if e != nil {
					return kafkaGoError(e)
				}
			}
		}
		return kafkaGoError(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, m := range offsets {
		if m == nil {
			return fmt.Errorf("no completion for value %d", i)
		}
		say("offset %d %d", m.Partition, m.Offset)
	}
	return nil
}

func (kafkaGo) transaction(context.Context, *settings, string, string, bool, []string) error {
	return errors.New("kafka-go has no transactional producer")
}

func (kafkaGo) consume(ctx context.Context, s *settings, topic, group string, count int) error {
	mechanism, err := kafkaGoSASL(s)
	if err != nil {
		return err
	}
	dialer := &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true,
		ClientID: "gregor-go-client-kafka-go", SASLMechanism: mechanism}
	if s.useTLS() {
		if dialer.TLS, err = s.tlsConfig(); err != nil {
			return err
		}
	}
	isolation := kafka.ReadUncommitted
	if s.readCommitted() {
		isolation = kafka.ReadCommitted
	}
	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers:          s.brokers(),
		GroupID:          group,
		Topic:            topic,
		Dialer:           dialer,
		StartOffset:      kafka.FirstOffset,
		CommitInterval:   0, // CommitMessages commits at once
		MaxWait:          500 * time.Millisecond,
		JoinGroupBackoff: 500 * time.Millisecond,
		IsolationLevel:   isolation,
		ErrorLogger:      log.New(os.Stderr, "kafka-go reader: ", 0),
	})
	defer reader.Close()
	seen := 0
	for seen < count {
		m, err := reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return timedOut(seen, count)
			}
			return kafkaGoError(err)
		}
		say("record %d %d %s", m.Partition, m.Offset, m.Value)
		seen++
		if err := reader.CommitMessages(ctx, m); err != nil {
			return kafkaGoError(err)
		}
	}
	say("committed %d", seen)
	return nil
}
