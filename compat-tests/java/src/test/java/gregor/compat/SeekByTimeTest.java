package gregor.compat;

import static gregor.compat.Clients.TIMEOUT;
import static gregor.compat.Clients.consumerConfig;
import static gregor.compat.Clients.createTopic;
import static gregor.compat.Clients.get;
import static gregor.compat.Clients.producerConfig;
import static gregor.compat.Clients.unique;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Seeking by time on CreateTime timestamps the producer set: partition 0
 * holds a0..a5 at BASE, BASE+1000, ..., BASE+5000; partition 1 holds b0..b3
 * at BASE+500, +2500, +9000 and +4500 (older than the record before it).
 * The consumer's offsetsForTimes and seek, and the Admin's ListOffsets by
 * time, earliest, latest and max timestamp.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SeekByTimeTest {
    @RegisterExtension
    static final GregorBroker broker = new GregorBroker();

    private final String topic = unique("time");
    private final long base = (System.currentTimeMillis() / 1000 - 600) * 1000;
    private final TopicPartition p0 = new TopicPartition(topic, 0);
    private final TopicPartition p1 = new TopicPartition(topic, 1);

    @BeforeAll
    void produceWithTimestamps() throws Exception {
        createTopic(broker, topic, 2);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(broker))) {
            for (int i = 0; i < 6; i++) {
                send(producer, 0, base + 1000L * i, "a" + i, i);
            }
            long[] timestamps = {base + 500, base + 2500, base + 9000, base + 4500};
            for (int i = 0; i < timestamps.length; i++) {
                send(producer, 1, timestamps[i], "b" + i, i);
            }
        }
    }

    private void send(KafkaProducer<String, String> producer, int partition, long timestamp,
            String value, long offset) throws Exception {
        var sent = producer.send(new ProducerRecord<>(topic, partition, timestamp, null, value)).get();
        assertEquals(offset, sent.offset());
        assertEquals(timestamp, sent.timestamp());
    }

    /** What offsetsForTimes finds, then "OFFSET@TIMESTAMP:VALUE" from there to the end. */
    private static List<String> seekAndRead(KafkaConsumer<String, String> consumer,
            TopicPartition partition, long timestamp, long end) {
        OffsetAndTimestamp found = consumer.offsetsForTimes(Map.of(partition, timestamp), TIMEOUT)
                .get(partition);
        List<String> out = new ArrayList<>();
        out.add("found " + found.offset() + "@" + found.timestamp());
        consumer.assign(List.of(partition));
        consumer.seek(partition, found.offset());
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (consumer.position(partition) < end && System.nanoTime() < deadline) {
            for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                assertEquals(TimestampType.CREATE_TIME, r.timestampType());
                out.add(r.offset() + "@" + r.timestamp() + ":" + r.value());
            }
        }
        return out;
    }

    @Test
    void offsetsForTimesFindsTheFirstRecordAtOrAfterATimestampAndSeekReadsFromThere() {
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig(broker))) {
            assertEquals(Map.of(p0, 0L, p1, 0L), consumer.beginningOffsets(List.of(p0, p1), TIMEOUT));
            assertEquals(Map.of(p0, 6L, p1, 4L), consumer.endOffsets(List.of(p0, p1), TIMEOUT));

            // an exact hit
            assertEquals(List.of("found 2@" + (base + 2000), "2@" + (base + 2000) + ":a2",
                    "3@" + (base + 3000) + ":a3", "4@" + (base + 4000) + ":a4", "5@" + (base + 5000) + ":a5"),
                    seekAndRead(consumer, p0, base + 2000, 6));
            // between two records: the later one
            assertEquals(List.of("found 3@" + (base + 3000), "3@" + (base + 3000) + ":a3",
                    "4@" + (base + 4000) + ":a4", "5@" + (base + 5000) + ":a5"),
                    seekAndRead(consumer, p0, base + 2500, 6));
            // before every record: the first
            assertEquals("found 0@" + base, seekAndRead(consumer, p0, base - 5000, 6).get(0));
            // after every record: none
            assertNull(consumer.offsetsForTimes(Map.of(p0, base + 99_000L), TIMEOUT).get(p0));
            // out of order: the first record whose timestamp is at least the target,
            // b2 (+9000), not b3 (+4500), which comes after it
            assertEquals(List.of("found 2@" + (base + 9000), "2@" + (base + 9000) + ":b2",
                    "3@" + (base + 4500) + ":b3"), seekAndRead(consumer, p1, base + 4000, 4));
            assertNull(consumer.offsetsForTimes(Map.of(p1, base + 9001L), TIMEOUT).get(p1));
        }
    }

    private static String offset(ListOffsetsResultInfo info) {
        return info.offset() + "@" + info.timestamp();
    }

    @Test
    void adminListOffsetsAnswersEarliestLatestMaxTimestampAndByTime() throws Exception {
        try (Admin admin = broker.admin()) {
            var earliest = get(admin.listOffsets(Map.of(p0, OffsetSpec.earliest(), p1,
                    OffsetSpec.earliest())).all());
            assertEquals("0@-1", offset(earliest.get(p0)));
            assertEquals("0@-1", offset(earliest.get(p1)));
            var latest = get(admin.listOffsets(Map.of(p0, OffsetSpec.latest(), p1,
                    OffsetSpec.latest())).all());
            assertEquals("6@-1", offset(latest.get(p0)));
            assertEquals("4@-1", offset(latest.get(p1)));
            var max = get(admin.listOffsets(Map.of(p0, OffsetSpec.maxTimestamp(), p1,
                    OffsetSpec.maxTimestamp())).all());
            assertEquals("5@" + (base + 5000), offset(max.get(p0)));
            assertEquals("2@" + (base + 9000), offset(max.get(p1)));

            assertEquals("3@" + (base + 3000), offset(get(admin.listOffsets(
                    Map.of(p0, OffsetSpec.forTimestamp(base + 2500))).partitionResult(p0))));
            assertEquals("2@" + (base + 9000), offset(get(admin.listOffsets(
                    Map.of(p1, OffsetSpec.forTimestamp(base + 4000))).partitionResult(p1))));
            // nothing at or after: offset and timestamp -1
            assertEquals("-1@-1", offset(get(admin.listOffsets(
                    Map.of(p0, OffsetSpec.forTimestamp(base + 99_000))).partitionResult(p0))));
        }
    }
}
