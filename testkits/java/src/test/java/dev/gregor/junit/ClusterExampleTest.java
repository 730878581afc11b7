package dev.gregor.junit;

import static dev.gregor.junit.ExampleTest.consumerConfig;
import static dev.gregor.junit.ExampleTest.producerConfig;
import static dev.gregor.junit.ExampleTest.unique;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/**
 * A three-broker dev cluster: the leader of a partition replicated three
 * times dies as {@code kill -9} would, another in-sync replica takes over,
 * and no acknowledged record is lost.
 */
@GregorTest(brokers = 3)
class ClusterExampleTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @Test
    void acknowledgedRecordsSurviveTheLeadersDeath(Gregor gregor) throws Exception {
        String topic = unique("transfers");
        try (Admin admin = Admin.create(gregor.clientProperties())) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 3)
                    .configs(Map.of("min.insync.replicas", "2")))).all().get();
        }
        gregor.awaitInSyncReplicas(topic, 0, 3, TIMEOUT);
        int formerLeader = gregor.leaderOf(topic, 0);

        List<String> acknowledged = new ArrayList<>();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(gregor))) {
            acknowledged.addAll(send(producer, topic, "before", 50));

            gregor.kill(formerLeader);
            int newLeader = gregor.awaitLeader(topic, 0, leader -> leader != formerLeader, TIMEOUT);
            assertNotEquals(formerLeader, newLeader);
            assertFalse(gregor.nodes().get(formerLeader - 1).running());

            acknowledged.addAll(send(producer, topic, "after", 50));
        }

        assertEquals(acknowledged, readAll(gregor, topic, acknowledged.size()),
                "every acknowledged record, in order, once");

        gregor.restart(formerLeader);
        gregor.awaitInSyncReplicas(topic, 0, 3, TIMEOUT);
        gregor.moveLeader(topic, 0, formerLeader);
        assertEquals(formerLeader, gregor.leaderOf(topic, 0));
    }

    /** Sends COUNT records to partition 0 and waits for each acknowledgement; returns their values. */
    private static List<String> send(KafkaProducer<String, String> producer, String topic, String prefix, int count)
            throws Exception {
        List<String> values = new ArrayList<>();
        List<Future<?>> results = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String value = prefix + "-" + i;
            values.add(value);
            results.add(producer.send(new ProducerRecord<>(topic, 0, null, value)));
        }
        for (Future<?> result : results) {
            result.get();
        }
        return values;
    }

    /** Partition 0's values from the beginning, until COUNT are read. */
    private static List<String> readAll(Gregor gregor, String topic, int count) {
        TopicPartition partition = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig(gregor))) {
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            List<String> values = new ArrayList<>();
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (values.size() < count && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(record -> values.add(record.value()));
            }
            return values;
        }
    }
}
