package gregor.compat;

import static gregor.compat.Clients.assertFails;
import static gregor.compat.Clients.consumerConfig;
import static gregor.compat.Clients.createTopic;
import static gregor.compat.Clients.get;
import static gregor.compat.Clients.poll;
import static gregor.compat.Clients.producerConfig;
import static gregor.compat.Clients.unique;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The request versions Kafka 4.4's Java client prefers and gregor serves
 * since the protocol crate was brought up to them: TxnOffsetCommit v6
 * (topics by id, KIP-1319), DeleteGroups v3 (error messages), DescribeLogDirs
 * v5 (IsCordoned) and ListOffsets v11 (earliest pending upload, KIP-1023).
 * Each is driven through the client's own API, and the broker's request
 * journal shows the version the client chose.
 */
class NewestVersionsTest {
    private static final int ADMIN_PORT = freePort();

    @RegisterExtension
    static final GregorBroker broker = new GregorBroker(
            "admin.listener", "127.0.0.1:" + ADMIN_PORT,
            "group.initial.rebalance.delay.ms", "0");

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The highest version of API the journal saw, -1 if none. */
    private static int journaledVersion(String api) throws Exception {
        HttpResponse<String> journal = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ADMIN_PORT + "/journal"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, journal.statusCode(), journal.body());
        Matcher found = Pattern.compile("\"api\":\"" + api + "\",\"version\":(\\d+)")
                .matcher(journal.body());
        int highest = -1;
        while (found.find()) {
            highest = Math.max(highest, Integer.parseInt(found.group(1)));
        }
        return highest;
    }

    /** Consume, transform and produce in one transaction: the group's offsets go by topic id. */
    @Test
    void offsetsSentToATransactionAreCommittedByTopicId() throws Exception {
        String input = unique("in");
        String output = unique("out");
        String group = unique("eos");
        createTopic(broker, input, 2);
        createTopic(broker, output, 1);
        try (KafkaProducer<String, String> plain = new KafkaProducer<>(producerConfig(broker))) {
            for (int i = 0; i < 6; i++) {
                plain.send(new ProducerRecord<>(input, i % 2, null, "v" + i)).get();
            }
        }
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig(broker,
                "group.id", group, "auto.offset.reset", "earliest",
                "isolation.level", "read_committed"));
                KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(broker,
                        "transactional.id", unique("eos-txn")))) {
            producer.initTransactions();
            consumer.subscribe(List.of(input));
            List<ConsumerRecord<String, String>> read = poll(consumer, 6);
            assertEquals(6, read.size());
            Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
            producer.beginTransaction();
            for (ConsumerRecord<String, String> record : read) {
                producer.send(new ProducerRecord<>(output, 0, null, record.value().toUpperCase()));
                next.put(new TopicPartition(input, record.partition()),
                        new OffsetAndMetadata(record.offset() + 1));
            }
            producer.sendOffsetsToTransaction(next, consumer.groupMetadata());
            producer.commitTransaction();
        }
        assertEquals(6, journaledVersion("TxnOffsetCommit"));
        try (Admin admin = broker.admin()) {
            Map<TopicPartition, OffsetAndMetadata> committed =
                    get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata());
            assertEquals(Map.of(new TopicPartition(input, 0), 3L, new TopicPartition(input, 1), 3L),
                    Map.of(new TopicPartition(input, 0),
                            committed.get(new TopicPartition(input, 0)).offset(),
                            new TopicPartition(input, 1),
                            committed.get(new TopicPartition(input, 1)).offset()));
        }
    }

    @Test
    void adminCallsUseTheNewestVersions() throws Exception {
        String topic = unique("newest");
        createTopic(broker, topic, 1);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(broker))) {
            for (int i = 0; i < 4; i++) {
                producer.send(new ProducerRecord<>(topic, 0, null, "r" + i)).get();
            }
        }
        TopicPartition partition = new TopicPartition(topic, 0);
        try (Admin admin = broker.admin()) {
            GroupIdNotFoundException missing = assertFails(GroupIdNotFoundException.class,
                    admin.deleteConsumerGroups(List.of(unique("no-such-group"))).all());
            assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
            assertEquals(3, journaledVersion("DeleteGroups"));

            Map<String, LogDirDescription> dirs =
                    get(admin.describeLogDirs(List.of(1)).allDescriptions()).get(1);
            assertEquals(1, dirs.size());
            LogDirDescription dir = dirs.values().iterator().next();
            assertFalse(dir.isCordoned());
            assertTrue(dir.replicaInfos().containsKey(partition), dir.toString());
            assertEquals(5, journaledVersion("DescribeLogDirs"));

            Map<String, Long> offsets = new HashMap<>();
            for (Map.Entry<String, OffsetSpec> spec : Map.of(
                    "earliest", OffsetSpec.earliest(),
                    "latest", OffsetSpec.latest(),
                    "earliestLocal", OffsetSpec.earliestLocal(),
                    "latestTiered", OffsetSpec.latestTiered(),
                    "earliestPendingUpload", OffsetSpec.earliestPendingUpload()).entrySet()) {
                ListOffsetsResultInfo info =
                        get(admin.listOffsets(Map.of(partition, spec.getValue())).partitionResult(
                                partition));
                offsets.put(spec.getKey(), info.offset());
            }
            // No remote tier: nothing is tiered or waiting to be uploaded.
            assertEquals(Map.of("earliest", 0L, "latest", 4L, "earliestLocal", 0L,
                    "latestTiered", -1L, "earliestPendingUpload", -1L), offsets);
            assertEquals(11, journaledVersion("ListOffsets"));
        }
    }
}
