package gregor.compat;

import static gregor.compat.Clients.assertFails;
import static gregor.compat.Clients.consumerConfig;
import static gregor.compat.Clients.createTopic;
import static gregor.compat.Clients.get;
import static gregor.compat.Clients.producerConfig;
import static gregor.compat.Clients.readFromBeginning;
import static gregor.compat.Clients.unique;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TransactionalIdNotFoundException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Transactions: committed and aborted ones read with read_committed and
 * read_uncommitted, an open one holding read_committed back at the last
 * stable offset, and the Admin's listTransactions, describeTransactions and
 * describeProducers around one.
 */
class TransactionsTest {
    @RegisterExtension
    static final GregorBroker broker = new GregorBroker();

    /** Sends VALUES to partition 0 in one transaction; returns their offsets. */
    private static List<Long> transaction(KafkaProducer<String, String> producer, String topic,
            boolean commit, String... values) throws Exception {
        producer.beginTransaction();
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        for (String value : values) {
            sent.add(producer.send(new ProducerRecord<>(topic, 0, null, value)));
        }
        producer.flush();
        List<Long> offsets = new ArrayList<>();
        for (Future<RecordMetadata> result : sent) {
            offsets.add(result.get().offset());
        }
        if (commit) {
            producer.commitTransaction();
        } else {
            producer.abortTransaction();
        }
        return offsets;
    }

    private static List<String> read(String topic, String isolation) {
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(
                consumerConfig(broker, "isolation.level", isolation))) {
            return readFromBeginning(consumer, List.of(new TopicPartition(topic, 0))).stream()
                    .map(r -> r.offset() + ":" + r.value()).toList();
        }
    }

    /**
     * commit (a, b), abort (x, y), commit (c): each transaction's control
     * marker takes an offset; read_committed sees a, b and c, read_uncommitted
     * every record but the markers.
     */
    @Test
    void readCommittedSeesOnlyCommittedRecordsAndReadUncommittedSeesAborted() throws Exception {
        String topic = unique("txn");
        createTopic(broker, topic, 1);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(
                producerConfig(broker, "transactional.id", unique("txn-id")))) {
            producer.initTransactions();
            assertEquals(List.of(0L, 1L), transaction(producer, topic, true, "a", "b"));
            assertEquals(List.of(3L, 4L), transaction(producer, topic, false, "x", "y"));
            assertEquals(List.of(6L), transaction(producer, topic, true, "c"));
        }
        try (Admin admin = broker.admin()) {
            TopicPartition partition = new TopicPartition(topic, 0);
            assertEquals(8, get(admin.listOffsets(Map.of(partition,
                    org.apache.kafka.clients.admin.OffsetSpec.latest())).partitionResult(partition))
                    .offset());
        }
        assertEquals(List.of("0:a", "1:b", "6:c"), read(topic, "read_committed"));
        assertEquals(List.of("0:a", "1:b", "3:x", "4:y", "6:c"), read(topic, "read_uncommitted"));
    }

    /**
     * While a transaction is open, a read_committed consumer's end offset is
     * the last stable offset (before the open transaction's first record)
     * and it reads nothing beyond; read_uncommitted reads the open records.
     * Once aborted, read_committed moves past them without seeing them.
     */
    @Test
    void anOpenTransactionHoldsReadCommittedBackAtTheLastStableOffset() throws Exception {
        String topic = unique("txn-open");
        createTopic(broker, topic, 1);
        TopicPartition partition = new TopicPartition(topic, 0);
        try (KafkaProducer<String, String> plain = new KafkaProducer<>(producerConfig(broker));
                KafkaProducer<String, String> producer = new KafkaProducer<>(
                        producerConfig(broker, "transactional.id", unique("txn-id")))) {
            plain.send(new ProducerRecord<>(topic, 0, null, "before")).get();
            producer.initTransactions();
            producer.beginTransaction();
            assertEquals(1, producer.send(new ProducerRecord<>(topic, 0, null, "open")).get().offset());
            // A record after the open one, outside the transaction: also held back.
            assertEquals(2, plain.send(new ProducerRecord<>(topic, 0, null, "after")).get().offset());

            try (KafkaConsumer<String, String> committed = new KafkaConsumer<>(
                    consumerConfig(broker, "isolation.level", "read_committed"));
                    KafkaConsumer<String, String> uncommitted = new KafkaConsumer<>(
                            consumerConfig(broker, "isolation.level", "read_uncommitted"))) {
                assertEquals(1, committed.endOffsets(List.of(partition)).get(partition));
                assertEquals(3, uncommitted.endOffsets(List.of(partition)).get(partition));
                assertEquals(List.of("before"), readFromBeginning(committed, List.of(partition))
                        .stream().map(ConsumerRecord::value).toList());
                assertEquals(List.of("before", "open", "after"),
                        readFromBeginning(uncommitted, List.of(partition)).stream()
                                .map(ConsumerRecord::value).toList());
            }
            producer.abortTransaction();
        }
        assertEquals(List.of("0:before", "2:after"), read(topic, "read_committed"));
    }

    /**
     * An idempotent producer writes three records, then a transactional one
     * initializes, writes two and commits. describeTransactions and
     * listTransactions (plain and filtered by state, producer id, id pattern,
     * duration) after init, while ongoing and once committed; describeProducers
     * before, during and after; describeTransactions of an unknown id.
     */
    @Test
    void adminDescribesAndListsTransactionsAndProducers() throws Exception {
        String topic = unique("txn-admin");
        String transactionalId = unique("txn-admin-id");
        createTopic(broker, topic, 1);
        TopicPartition partition = new TopicPartition(topic, 0);
        long base = System.currentTimeMillis() - 60_000;
        try (KafkaProducer<String, String> idempotent = new KafkaProducer<>(
                producerConfig(broker, "enable.idempotence", "true", "acks", "all"))) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                sent.add(idempotent.send(new ProducerRecord<>(topic, 0, base + i, null, "i" + i)));
            }
            for (int i = 0; i < 3; i++) {
                assertEquals(i, sent.get(i).get().offset());
            }
        }
        try (Admin admin = broker.admin()) {
            List<ProducerState> before = producers(admin, partition);
            assertEquals(1, before.size(), () -> "producers " + before);
            ProducerState idempotentState = before.get(0);
            long idempotentId = idempotentState.producerId();
            assertEquals(0, idempotentState.producerEpoch());
            assertEquals(2, idempotentState.lastSequence());
            assertEquals(base + 2, idempotentState.lastTimestamp());
            assertTrue(idempotentState.currentTransactionStartOffset().isEmpty());
            assertTrue(idempotentState.coordinatorEpoch().isEmpty());

            try (KafkaProducer<String, String> producer = new KafkaProducer<>(
                    producerConfig(broker, "transactional.id", transactionalId))) {
                producer.initTransactions();
                TransactionDescription initialized = get(admin.describeTransactions(
                        List.of(transactionalId)).description(transactionalId));
                long producerId = initialized.producerId();
                assertNotEquals(idempotentId, producerId);
                assertEquals(TransactionState.EMPTY, initialized.state());
                assertEquals(0, initialized.producerEpoch());
                assertEquals(60_000, initialized.transactionTimeoutMs());
                assertEquals(1, initialized.coordinatorId());
                assertTrue(initialized.transactionStartTimeMs().isEmpty());
                assertEquals(Set.of(), initialized.topicPartitions());
                assertListed(admin, transactionalId, producerId, TransactionState.EMPTY);

                producer.beginTransaction();
                List<Future<RecordMetadata>> sent = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    sent.add(producer.send(new ProducerRecord<>(topic, 0, base + 10 + i, null, "t" + i)));
                }
                producer.flush();
                assertEquals(3, sent.get(0).get().offset());
                assertEquals(4, sent.get(1).get().offset());
                TransactionDescription ongoing = get(admin.describeTransactions(
                        List.of(transactionalId)).description(transactionalId));
                assertEquals(TransactionState.ONGOING, ongoing.state());
                assertEquals(producerId, ongoing.producerId());
                assertEquals(0, ongoing.producerEpoch());
                assertTrue(ongoing.transactionStartTimeMs().isPresent());
                assertEquals(Set.of(partition), ongoing.topicPartitions());
                assertListed(admin, transactionalId, producerId, TransactionState.ONGOING);
                // Open for less than an hour: not among those open longer.
                assertEquals(List.of(), ours(get(admin.listTransactions(
                        new ListTransactionsOptions().filterOnDuration(3_600_000)).all()), transactionalId));
                ProducerState during = producers(admin, partition).stream()
                        .filter(p -> p.producerId() == producerId).findFirst().orElseThrow();
                assertEquals(0, during.producerEpoch());
                assertEquals(1, during.lastSequence());
                assertEquals(base + 11, during.lastTimestamp());
                assertEquals(3, during.currentTransactionStartOffset().orElse(-1));

                long beforeCommit = System.currentTimeMillis();
                producer.commitTransaction();
                long afterCommit = System.currentTimeMillis();
                TransactionDescription committed = get(admin.describeTransactions(
                        List.of(transactionalId)).description(transactionalId));
                // Transactions V2 (KIP-890): the commit bumps the epoch.
                assertEquals(TransactionState.COMPLETE_COMMIT, committed.state());
                assertEquals(producerId, committed.producerId());
                assertEquals(1, committed.producerEpoch());
                assertTrue(committed.transactionStartTimeMs().isPresent());
                assertEquals(Set.of(), committed.topicPartitions());
                assertListed(admin, transactionalId, producerId, TransactionState.COMPLETE_COMMIT);

                List<ProducerState> after = producers(admin, partition);
                assertEquals(List.of(idempotentId, producerId).stream().sorted().toList(),
                        after.stream().map(ProducerState::producerId).toList());
                ProducerState marker = after.stream().filter(p -> p.producerId() == producerId)
                        .findFirst().orElseThrow();
                // The marker, written with the bumped epoch, resets the sequence.
                assertEquals(1, marker.producerEpoch());
                assertEquals(-1, marker.lastSequence());
                assertTrue(marker.lastTimestamp() >= beforeCommit && marker.lastTimestamp() <= afterCommit,
                        () -> "marker timestamp " + marker.lastTimestamp());
                assertTrue(marker.currentTransactionStartOffset().isEmpty());
                assertEquals(0, marker.coordinatorEpoch().orElse(-1));
            }
            assertFails(TransactionalIdNotFoundException.class,
                    admin.describeTransactions(List.of(transactionalId + "-unknown")).all());
        }
        assertEquals(List.of("0:i0", "1:i1", "2:i2", "3:t0", "4:t1"), read(topic, "read_committed"));
    }

    private static List<ProducerState> producers(Admin admin, TopicPartition partition) throws Exception {
        List<ProducerState> active = new ArrayList<>(get(admin.describeProducers(List.of(partition))
                .partitionResult(partition)).activeProducers());
        active.sort(Comparator.comparingLong(ProducerState::producerId));
        return active;
    }

    private static List<String> ours(Collection<TransactionListing> listed, String transactionalId) {
        return listed.stream().filter(t -> t.transactionalId().equals(transactionalId))
                .map(t -> t.producerId() + " " + t.state()).toList();
    }

    /** Listed by every filter that matches it, and not by another state. */
    private static void assertListed(Admin admin, String transactionalId, long producerId,
            TransactionState state) throws Exception {
        List<String> expected = List.of(producerId + " " + state);
        assertEquals(expected, ours(get(admin.listTransactions().all()), transactionalId), "listed");
        assertEquals(expected, ours(get(admin.listTransactions(new ListTransactionsOptions()
                .filterStates(List.of(state))).all()), transactionalId), "listed by state");
        TransactionState other = state == TransactionState.PREPARE_ABORT
                ? TransactionState.ONGOING : TransactionState.PREPARE_ABORT;
        assertEquals(List.of(), ours(get(admin.listTransactions(new ListTransactionsOptions()
                .filterStates(List.of(other))).all()), transactionalId), "listed by another state");
        assertEquals(expected, ours(get(admin.listTransactions(new ListTransactionsOptions()
                .filterProducerIds(List.of(producerId))).all()), transactionalId), "listed by producer id");
        assertEquals(expected, ours(get(admin.listTransactions(new ListTransactionsOptions()
                .filterOnTransactionalIdPattern(transactionalId.substring(0, transactionalId.length() - 4)
                        + ".*")).all()), transactionalId), "listed by id pattern");
    }
}
