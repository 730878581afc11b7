package dev.gregor.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * What an application's tests can do with one gregor broker: plain
 * produce and consume, a producer retrying through injected errors, a
 * transaction aborted by time travel, and a linter finding. Each test uses
 * its own topic, so their order does not matter.
 */
@GregorTest
class ExampleTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @Test
    void recordsProducedAreConsumedByAGroup(Gregor gregor) throws Exception {
        String topic = unique("orders");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(gregor))) {
            for (int i = 0; i < 10; i++) {
                producer.send(new ProducerRecord<>(topic, "order-" + i, "amount-" + i)).get();
            }
        }

        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(
                consumerConfig(gregor, ConsumerConfig.GROUP_ID_CONFIG, unique("billing")))) {
            consumer.subscribe(List.of(topic));
            List<String> values = new ArrayList<>();
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (values.size() < 10 && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(record -> values.add(record.value()));
            }
            assertEquals(List.of("amount-0", "amount-1", "amount-2", "amount-3", "amount-4", "amount-5",
                    "amount-6", "amount-7", "amount-8", "amount-9"), values);
        }
    }

    /**
     * The next two Produce requests from the service are answered
     * NOT_LEADER_OR_FOLLOWER without being written; the producer refreshes
     * its metadata and retries, and the record is written once.
     */
    @Test
    void producerRetriesThroughInjectedNotLeaderErrors(Gregor gregor) throws Exception {
        String topic = unique("payments");
        String clientId = unique("payments-service");
        short notLeader = Errors.NOT_LEADER_OR_FOLLOWER.code();
        // Kafka 4's Produce (v13) names the topic by id; the topic filter matches it.
        ArmedFault fault = gregor.faults().arm(
                Fault.on("Produce").topic(topic).clientId(clientId).error(notLeader).count(2));
        assertEquals(2, fault.count());
        assertEquals("{\"error\":6}", fault.action());

        RecordMetadata written;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(
                producerConfig(gregor, ProducerConfig.CLIENT_ID_CONFIG, clientId))) {
            written = producer.send(new ProducerRecord<>(topic, "p-1", "42.00 EUR")).get();
        }

        assertEquals(0, written.offset(), "the faulted attempts wrote nothing");
        assertTrue(gregor.faults().armed().stream().noneMatch(armed -> armed.id() == fault.id()),
                "the fault's count ran out: " + gregor.faults().list());
        List<JournalEntry> produces = gregor.journalEntries().stream()
                .filter(entry -> entry.api().equals("Produce") && clientId.equals(entry.clientId()))
                .toList();
        assertEquals(List.of(6, 6, 0), produces.stream().map(JournalEntry::errorCode).toList(),
                "two faulted answers, then the retry written: " + produces);
        assertTrue(produces.get(0).faulted() && produces.get(1).faulted() && !produces.get(2).faulted());
        assertEquals(List.of("42.00 EUR"), readAll(gregor, topic, "read_uncommitted"));
    }

    /**
     * A transaction left open past transaction.timeout.ms is aborted by the
     * broker: moving its clock a minute on does it at once, so a
     * read_committed consumer never sees the record and the producer cannot
     * commit.
     */
    @Test
    void timeTravelAbortsAnOpenTransaction(Gregor gregor) throws Exception {
        String topic = unique("ledger");
        String clientId = unique("ledger-writer");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(gregor,
                ProducerConfig.CLIENT_ID_CONFIG, clientId,
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, unique("ledger-tx"),
                ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "10000"))) {
            producer.initTransactions();
            producer.beginTransaction();
            long offset = producer.send(new ProducerRecord<>(topic, 0, "entry-1", "debit 10")).get().offset();

            gregor.advanceClock(Duration.ofMinutes(1));

            awaitTransactionResolved(gregor, new TopicPartition(topic, 0), offset);
            assertEquals(List.of(), readAll(gregor, topic, "read_committed"), "the aborted record is hidden");
            assertEquals(List.of("debit 10"), readAll(gregor, topic, "read_uncommitted"), "it was written");
            assertThrows(KafkaException.class, producer::commitTransaction,
                    "the broker aborted the transaction and bumped the producer's epoch");
        }
        assertTrue(gregor.lintFindings().stream().anyMatch(finding ->
                        finding.rule().equals("transaction-timed-out") && finding.clientId().equals(clientId)),
                gregor.lint());
    }

    /**
     * A consumer committing an offset past the high watermark would skip
     * records never read after a restart; Kafka accepts it silently, gregor's
     * linter says so.
     */
    @Test
    void linterFlagsACommitPastTheHighWatermark(Gregor gregor) throws Exception {
        String topic = unique("reports");
        String clientId = unique("reports-job");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(gregor))) {
            producer.send(new ProducerRecord<>(topic, 0, "r-1", "row")).get();
        }
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig(gregor,
                ConsumerConfig.CLIENT_ID_CONFIG, clientId,
                ConsumerConfig.GROUP_ID_CONFIG, unique("reports-group")))) {
            consumer.commitSync(Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(100)));
        }

        LintFinding finding = gregor.lintFindings().stream()
                .filter(candidate -> candidate.clientId().equals(clientId))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no finding for " + clientId + ": " + gregor.lint()));
        assertEquals("commit-beyond-high-watermark", finding.rule());
        assertTrue(finding.evidence().contains(topic), finding.evidence());
    }

    // --- clients -----------------------------------------------------------------------

    static Properties producerConfig(Gregor gregor, String... settings) {
        Properties config = gregor.clientProperties();
        config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        return with(config, settings);
    }

    static Properties consumerConfig(Gregor gregor, String... settings) {
        Properties config = gregor.clientProperties();
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        return with(config, settings);
    }

    private static Properties with(Properties config, String... settings) {
        for (int i = 0; i < settings.length; i += 2) {
            config.put(settings[i], settings[i + 1]);
        }
        return config;
    }

    static String unique(String name) {
        return name + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Every value in partition 0 up to its end (the last stable offset under read_committed). */
    static List<String> readAll(Gregor gregor, String topic, String isolation) {
        TopicPartition partition = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(
                consumerConfig(gregor, ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation))) {
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            List<String> values = new ArrayList<>();
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (consumer.position(partition) < end) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("did not read " + partition + " to " + end + " within " + TIMEOUT);
                }
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(200))) {
                    values.add(record.value());
                }
            }
            return values;
        }
    }

    /** Until the last stable offset has passed OFFSET: its transaction was committed or aborted. */
    private static void awaitTransactionResolved(Gregor gregor, TopicPartition partition, long offset)
            throws InterruptedException {
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(
                consumerConfig(gregor, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"))) {
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (consumer.endOffsets(List.of(partition)).get(partition) <= offset) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the transaction at " + partition + "@" + offset
                            + " is still open " + TIMEOUT + " after the clock moved");
                }
                Thread.sleep(100);
            }
        }
    }
}
