// Command gregor-go-client drives the Go Kafka clients -- franz-go, Sarama
// and segmentio/kafka-go -- against a broker, for gregor's compatibility
// tests (compat-tests/python/go_client.py and test_go_clients.py). Each
// command prints one line per fact, which the tests assert; a failure ends
// the process with a non-zero status and its message on stderr.
//
//	gregor-go-client [FLAGS] LIBRARY COMMAND ARGS...
//
//	LIBRARY is franz, sarama or kafka-go.
//
//	nodes                                   -- "node ID HOST PORT", the brokers Metadata names
//	produce TOPIC VALUE...                  -- acks=all, to -partition, with the library's codec
//	                                           (franz-go zstd, Sarama snappy, kafka-go lz4):
//	                                           "offset PARTITION OFFSET" per value, in order
//	consume TOPIC GROUP COUNT               -- from the start, in a consumer group, until COUNT
//	                                           records: "record PARTITION OFFSET VALUE" each,
//	                                           then commits and prints "committed COUNT"
//	transaction TOPIC TXN_ID commit|abort VALUE...
//	                                        -- franz-go and Sarama: one transaction,
//	                                           "offset PARTITION OFFSET" per value, then
//	                                           "committed" or "aborted"
//
//	eos IN OUT GROUP TXN_ID COUNT           -- franz-go: consume-transform-produce exactly once
//	                                           (GroupTransactSession), see franz.eos
//
//	reassign TOPIC PARTITION BROKERS|cancel -- franz-go: AlterPartitionAssignments (BROKERS
//	                                           comma-separated), "reassign PARTITION ERROR_CODE"
//	reassignments                           -- franz-go: ListPartitionReassignments, see
//	                                           franz.reassignments
//
//	quotas-alter [validate-only] entity SPEC (set KEY=VALUE | remove KEY)... [entity SPEC ...]
//	                                        -- franz-go: one AlterClientQuotas, SPEC is
//	                                           TYPE=NAME[,TYPE=NAME] (NAME <default>: the
//	                                           default entity); "altered ENTITY" or
//	                                           "alter-error ENTITY ERROR_CODE MESSAGE" per
//	                                           result, see franz.quotasAlter
//	quotas-describe [strict] COMPONENT...   -- franz-go: one DescribeClientQuotas (TYPE=NAME
//	                                           exact, TYPE=<default>, TYPE any), "quota
//	                                           ENTITY KEY=VALUE..." per entry, then
//	                                           "described N", see franz.quotasDescribe
//
//	features                                -- franz-go: ApiVersions v3's features, "supported
//	                                           NAME MIN MAX" and "finalized NAME LEVEL" each,
//	                                           then "epoch EPOCH"
//	update-feature NAME LEVEL TYPE          -- franz-go: one UpdateFeatures (TYPE 1 upgrade,
//	                                           2 safe downgrade, 3 unsafe), "updated ERROR_CODE"
//	                                           and the message if any
//
//	streams STEP...                         -- franz-go (kmsg): KIP-1071 StreamsGroupHeartbeat /
//	                                           StreamsGroupDescribe requests, each STEP the JSON
//	                                           of kmsg's request, "heartbeat JSON" or "describe
//	                                           JSON" of each answer, see franz.streams
//
// A refused SASL authentication prints "error SASL_AUTHENTICATION_FAILED" on
// stdout and exits with status 3.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// settings are the client settings the flags give, as Kafka's clients name
// them.
type settings struct {
	bootstrap     string
	protocol      string // PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
	mechanism     string // SCRAM-SHA-256 or SCRAM-SHA-512
	user          string
	password      string
	caFile        string
	isolation     string // read_uncommitted or read_committed
	groupProtocol string // classic or consumer (KIP-848; franz-go only)
	partition     int
	timeout       time.Duration
}

func (s *settings) useTLS() bool {
	return s.protocol == "SSL" || s.protocol == "SASL_SSL"
}

func (s *settings) useSASL() bool {
	return s.protocol == "SASL_PLAINTEXT" || s.protocol == "SASL_SSL"
}

func (s *settings) readCommitted() bool {
	return s.isolation == "read_committed"
}

func (s *settings) brokers() []string {
	return strings.Split(s.bootstrap, ",")
}

// tlsConfig trusts the CA of -ca (or the system's roots without it).
func (s *settings) tlsConfig() (*tls.Config, error) {
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.caFile != "" {
		pem, err := os.ReadFile(s.caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", s.caFile)
		}
		config.RootCAs = pool
	}
	return config, nil
}

// Lines go to stdout whole, whichever goroutine prints them.
var out sync.Mutex

func say(format string, args ...any) {
	out.Lock()
	defer out.Unlock()
	fmt.Printf(format+"\n", args...)
}

// errAuthentication marks a refused SASL authentication, whichever library
// reported it.
var errAuthentication = errors.New("SASL_AUTHENTICATION_FAILED")

type library interface {
	nodes(ctx context.Context, s *settings) error
	produce(ctx context.Context, s *settings, topic string, values []string) error
	consume(ctx context.Context, s *settings, topic, group string, count int) error
	transaction(ctx context.Context, s *settings, topic, id string, commit bool,
		values []string) error
}

func main() {
	s := &settings{}
	flag.StringVar(&s.bootstrap, "bootstrap", "127.0.0.1:9092", "bootstrap servers, comma-separated")
	flag.StringVar(&s.protocol, "security-protocol", "PLAINTEXT",
		"PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
	flag.StringVar(&s.mechanism, "sasl-mechanism", "SCRAM-SHA-256", "SCRAM-SHA-256 or SCRAM-SHA-512")
	flag.StringVar(&s.user, "sasl-username", "", "SASL user")
	flag.StringVar(&s.password, "sasl-password", "", "SASL password")
	flag.StringVar(&s.caFile, "ssl-ca", "", "PEM file of the CA to trust")
	flag.StringVar(&s.isolation, "isolation-level", "read_uncommitted",
		"read_uncommitted or read_committed (consume)")
	flag.StringVar(&s.groupProtocol, "group-protocol", "classic",
		"classic or consumer (KIP-848; franz-go only)")
	flag.IntVar(&s.partition, "partition", 0, "the partition produce and transaction write to")
	flag.DurationVar(&s.timeout, "deadline", 30*time.Second, "the whole command's deadline")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: gregor-go-client [FLAGS] franz|sarama|kafka-go COMMAND ARGS...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(s, flag.Args()); err != nil {
		if errors.Is(err, errAuthentication) {
			say("error SASL_AUTHENTICATION_FAILED")
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(3)
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(s *settings, args []string) error {
	if len(args) < 2 {
		flag.Usage()
		return errors.New("a library and a command are needed")
	}
	var lib library
	switch args[0] {
	case "franz":
		lib = franz{}
	case "sarama":
		lib = saramaLib{}
	case "kafka-go":
		lib = kafkaGo{}
	default:
		return fmt.Errorf("unknown library %q", args[0])
	}
	if s.useSASL() && s.mechanism != "SCRAM-SHA-256" && s.mechanism != "SCRAM-SHA-512" {
		return fmt.Errorf("unsupported SASL mechanism %q", s.mechanism)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	command, rest := args[1], args[2:]
	need := func(n int) error {
		if len(rest) < n {
			return fmt.Errorf("%s needs at least %d arguments", command, n)
		}
		return nil
	}
	switch command {
	case "nodes":
		return lib.nodes(ctx, s)
	case "produce":
		if err := need(2); err != nil {
			return err
		}
		return lib.produce(ctx, s, rest[0], rest[1:])
	case "consume":
		if err := need(3); err != nil {
			return err
		}
		count, err := strconv.Atoi(rest[2])
		if err != nil {
			return err
		}
		return lib.consume(ctx, s, rest[0], rest[1], count)
	case "transaction":
		if err := need(4); err != nil {
			return err
		}
		if rest[2] != "commit" && rest[2] != "abort" {
			return fmt.Errorf("transaction: commit or abort, not %q", rest[2])
		}
		return lib.transaction(ctx, s, rest[0], rest[1], rest[2] == "commit", rest[3:])
	case "eos":
		f, ok := lib.(franz)
		if !ok {
			return errors.New("eos is franz-go's GroupTransactSession only")
		}
		if err := need(5); err != nil {
			return err
		}
		count, err := strconv.Atoi(rest[4])
		if err != nil {
			return err
		}
		return f.eos(ctx, s, rest[0], rest[1], rest[2], rest[3], count)
	case "reassign", "reassignments":
		f, ok := lib.(franz)
		if !ok {
			return fmt.Errorf("%s is franz-go's only", command)
		}
		if command == "reassignments" {
			return f.reassignments(ctx, s)
		}
		if err := need(3); err != nil {
			return err
		}
		partition, err := strconv.Atoi(rest[1])
		if err != nil {
			return err
		}
		var replicas []int32
		if rest[2] != "cancel" {
			for _, id := range strings.Split(rest[2], ",") {
				broker, err := strconv.Atoi(id)
				if err != nil {
					return err
				}
				replicas = append(replicas, int32(broker))
			}
		}
		return f.reassign(ctx, s, rest[0], int32(partition), replicas)
	case "features", "update-feature":
		f, ok := lib.(franz)
		if !ok {
			return fmt.Errorf("%s is franz-go's only", command)
		}
		if command == "features" {
			return f.features(ctx, s)
		}
		if err := need(3); err != nil {
			return err
		}
		level, err := strconv.Atoi(rest[1])
		if err != nil {
			return err
		}
		upgradeType, err := strconv.Atoi(rest[2])
		if err != nil {
			return err
		}
		return f.updateFeature(ctx, s, rest[0], int16(level), int8(upgradeType))
	case "newest":
		f, ok := lib.(franz)
		if !ok {
			return errors.New("newest is franz-go's only")
		}
		if err := need(2); err != nil {
			return err
		}
		return f.newest(ctx, s, rest[0], rest[1])
	case "streams":
		f, ok := lib.(franz)
		if !ok {
			return errors.New("streams is franz-go's only")
		}
		if err := need(1); err != nil {
			return err
		}
		return f.streams(ctx, s, rest)
	case "quotas-alter", "quotas-describe":
		f, ok := lib.(franz)
		if !ok {
			return fmt.Errorf("%s is franz-go's only", command)
		}
		if command == "quotas-alter" {
			return f.quotasAlter(ctx, s, rest)
		}
		return f.quotasDescribe(ctx, s, rest)
	default:
		return fmt.Errorf("unknown command %q", command)
	}
}

// authFailed says whether an error's text is a refused SASL authentication,
// for the libraries whose errors do not unwrap to their error code.
func authFailed(err error) bool {
	if err == nil {
		return false
	}
	text := strings.ToLower(err.Error())
	return strings.Contains(text, "sasl authentication failed") ||
		strings.Contains(text, "sasl_authentication_failed") ||
		strings.Contains(text, "authentication failed")
}

// classify marks a refused authentication with errAuthentication.
func classify(err error) error {
	if err != nil && !errors.Is(err, errAuthentication) && authFailed(err) {
		return fmt.Errorf("%w: %v", errAuthentication, err)
	}
	return err
}

// timedOut is the error of a consume that saw fewer records than asked.
func timedOut(seen, count int) error {
	return fmt.Errorf("timed out having seen %d of %d records", seen, count)
}

// logf writes a diagnostic line to stderr (the tests show it on failure).
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
