package main

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"
)

// saramaLib drives github.com/IBM/sarama: snappy, its transactional
// producer, and a classic consumer group (range) with manual commits.
type saramaLib struct{}

// xdgSCRAMClient is Sarama's SCRAMClient over github.com/xdg-go/scram, as
// Sarama's own example has it.
type xdgSCRAMClient struct {
	*scram.Client
	*scram.ClientConversation
	hash func() hash.Hash
}

func (x *xdgSCRAMClient) Begin(user, password, authzID string) error {
	client, err := scram.HashGeneratorFcn(x.hash).NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	x.Client = client
	x.ClientConversation = client.NewConversation()
	return nil
}

func (x *xdgSCRAMClient) Step(challenge string) (string, error) {
	return x.ClientConversation.Step(challenge)
}

func (x *xdgSCRAMClient) Done() bool {
	return x.ClientConversation.Done()
}

func saramaConfig(s *settings) (*sarama.Config, error) {
	config := sarama.NewConfig()
	config.Version = sarama.V4_0_0_0
	config.ClientID = "gregor-go-client-sarama"
	config.Net.DialTimeout = 10 * time.Second
	config.Metadata.Retry.Max = 3
	config.Metadata.Retry.Backoff = 250 * time.Millisecond
	if s.useTLS() {
		tlsConfig, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		config.Net.TLS.Enable = true
		config.Net.TLS.Config = tlsConfig
	}
	if s.useSASL() {
		config.Net.SASL.Enable = true
		config.Net.SASL.Handshake = true
		config.Net.SASL.Version = sarama.SASLHandshakeV1
		config.Net.SASL.User = s.user
		config.Net.SASL.Password = s.password
		if s.mechanism == "SCRAM-SHA-512" {
			config.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
			config.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient {
				return &xdgSCRAMClient{hash: sha512.New}
			}
		} else {
			config.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
			config.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient {
				return &xdgSCRAMClient{hash: sha256.New}
			}
		}
	}
	return config, nil
}

func saramaError(err error) error {
	if errors.Is(err, sarama.ErrSASLAuthenticationFailed) {
		return fmt.Errorf("%w: %v", errAuthentication, err)
	}
	return classify(err)
}

func (saramaLib) nodes(ctx context.Context, s *settings) error {
	config, err := saramaConfig(s)
	if err != nil {
		return err
	}
	client, err := sarama.NewClient(s.brokers(), config)
	if err != nil {
		return saramaError(err)
	}
	defer client.Close()
	for _, b := range client.Brokers() {
		say("node %d %s", b.ID(), hostPort(b.Addr()))
	}
	return nil
}

// hostPort turns "host:port" into "host port".
func hostPort(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i] + " " + addr[i+1:]
		}
	}
	return addr
}

func saramaProducerConfig(s *settings) (*sarama.Config, error) {
	config, err := saramaConfig(s)
	if err != nil {
		return nil, err
	}
	config.Producer.RequiredAcks = sarama.WaitForAll
	config.Producer.Compression = sarama.CompressionSnappy
	config.Producer.Partitioner = sarama.NewManualPartitioner
	config.Producer.Return.Successes = true
	config.Producer.Return.Errors = true
	config.Producer.Flush.Messages = 0
	return config, nil
}

// saramaSend sends the values as one SendMessages call and prints their
// offsets in order.
func saramaSend(producer sarama.SyncProducer, s *settings, topic string, values []string) error {
	messages := make([]*sarama.ProducerMessage, len(values))
	for i, v := range values {
		messages[i] = &sarama.ProducerMessage{Topic: topic, Partition: int32(s.partition),
			Value: sarama.StringEncoder(v)}
	}
	if err := producer.SendMessages(messages); err != nil {
		var errs sarama.ProducerErrors
		if errors.As(err, &errs) && len(errs) > 0 {
			return saramaError(errs[0].Err)
		}
		return saramaError(err)
	}
	for _, m := range messages {
		say("offset %d %d", m.Partition, m.Offset)
	}
	return nil
}

func (saramaLib) produce(ctx context.Context, s *settings, topic string, values []string) error {
	config, err := saramaProducerConfig(s)
	if err != nil {
		return err
	}
	producer, err := sarama.NewSyncProducer(s.brokers(), config)
	if err != nil {
		return saramaError(err)
	}
	defer producer.Close()
	return saramaSend(producer, s, topic, values)
}

func (saramaLib) transaction(ctx context.Context, s *settings, topic, id string, commit bool,
	values []string) error {
	config, err := saramaProducerConfig(s)
	if err != nil {
		return err
	}
	config.Producer.Idempotent = true
	config.Producer.Transaction.ID = id
	config.Net.MaxOpenRequests = 1
	producer, err := sarama.NewSyncProducer(s.brokers(), config)
	if err != nil {
		return saramaError(err)
	}
	defer producer.Close()
	if err := producer.BeginTxn(); err != nil {
		return saramaError(err)
	}
	if err := saramaSend(producer, s, topic, values); err != nil {
		return err
	}
	if commit {
		if err := producer.CommitTxn(); err != nil {
			return saramaError(err)
		}
		say("committed")
	} else {
		if err := producer.AbortTxn(); err != nil {
			return saramaError(err)
		}
		say("aborted")
	}
	return nil
}

// saramaHandler prints and marks each record; once it has seen `count`, it
// commits the marks synchronously and closes `done`.
type saramaHandler struct {
	mu    sync.Mutex
	seen  int
	count int
	done  chan struct{}
	err   error
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaHandler) ConsumeClaim(session sarama.ConsumerGroupSession,
	claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			h.mu.Lock()
			if h.seen < h.count {
				say("record %d %d %s", m.Partition, m.Offset, m.Value)
				session.MarkMessage(m, "")
				h.seen++
				if h.seen == h.count {
					session.Commit()
					close(h.done)
				}
			}
			h.mu.Unlock()
		case <-session.Context().Done():
			return nil
		}
	}
}

func (saramaLib) consume(ctx context.Context, s *settings, topic, group string, count int) error {
	config, err := saramaConfig(s)
	if err != nil {
		return err
	}
	config.Consumer.Offsets.Initial = sarama.OffsetOldest
	config.Consumer.Offsets.AutoCommit.Enable = false
	config.Consumer.Return.Errors = true
	config.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{
		sarama.NewBalanceStrategyRange()}
	if s.readCommitted() {
		config.Consumer.IsolationLevel = sarama.ReadCommitted
	}
	consumer, err := sarama.NewConsumerGroup(s.brokers(), group, config)
	if err != nil {
		return saramaError(err)
	}
	defer consumer.Close()
	handler := &saramaHandler{count: count, done: make(chan struct{})}
	run, stop := context.WithCancel(ctx)
	defer stop()
	failed := make(chan error, 1)
	go func() {
		for run.Err() == nil {
			if err := consumer.Consume(run, []string{topic}, handler); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) {
					return
				}
				if authFailed(err) || errors.Is(err, sarama.ErrSASLAuthenticationFailed) {
					failed <- err
					return
				}
				logf("consume: %v", err)
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()
	go func() {
		for err := range consumer.Errors() {
			logf("consumer group error: %v", err)
			if authFailed(err) || errors.Is(err, sarama.ErrSASLAuthenticationFailed) {
				select {
				case failed <- err:
				default:
				}
			}
		}
	}()
	select {
	case <-handler.done:
	case err := <-failed:
		return saramaError(err)
	case <-ctx.Done():
		handler.mu.Lock()
		defer handler.mu.Unlock()
		return timedOut(handler.seen, count)
	}
	stop()
	say("committed %d", count)
	return nil
}
