package gregor.compat;

import static gregor.compat.Clients.consumerConfig;
import static gregor.compat.Clients.createTopic;
import static gregor.compat.Clients.get;
import static gregor.compat.Clients.poll;
import static gregor.compat.Clients.producerConfig;
import static gregor.compat.Clients.readFromBeginning;
import static gregor.compat.Clients.unique;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The producer: every acks setting with every codec, read back by a
 * consumer and checked in the segment file gregor wrote; the idempotent
 * producer's producer ids and sequences.
 */
class ProducerTest {
    @RegisterExtension
    static final GregorBroker broker = new GregorBroker();

    private static final Map<String, Integer> CODEC_IDS =
            Map.of("none", 0, "gzip", 1, "snappy", 2, "lz4", 3, "zstd", 4);

    static Stream<Arguments> acksAndCodecs() {
        return Stream.of("0", "1", "all").flatMap(acks ->
                Stream.of("none", "gzip", "snappy", "lz4", "zstd").map(codec -> Arguments.of(acks, codec)));
    }

    /**
     * Five records (key, CreateTime, header, a compressible value) sent as
     * one batch: the offsets the producer learns (none with acks=0), the
     * records a consumer reads, and the batch as stored — in the codec the
     * producer chose, idempotent only with acks=all (Kafka 4's producer turns
     * idempotence off by itself for acks 0 and 1 when not asked for it).
     */
    @ParameterizedTest(name = "acks={0} compression.type={1}")
    @MethodSource("acksAndCodecs")
    void everyAcksWithEveryCodecIsReadBackAsSent(String acks, String codec) throws Exception {
        String topic = unique("codec-" + acks + "-" + codec);
        createTopic(broker, topic, 1);
        long base = System.currentTimeMillis() - 60_000;
        int count = 5;
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        // A long linger and a flush: the five records go as one batch.
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(broker,
                "acks", acks, "compression.type", codec, "linger.ms", "60000"))) {
            for (int i = 0; i < count; i++) {
                ProducerRecord<String, String> record =
                        new ProducerRecord<>(topic, 0, base + i, "k" + i, value(acks, codec, i));
                record.headers().add("i", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                sent.add(producer.send(record));
            }
            producer.flush();
        }
        for (int i = 0; i < count; i++) {
            RecordMetadata metadata = sent.get(i).get();
            assertEquals(acks.equals("0") ? -1 : i, metadata.offset());
            assertEquals(base + i, metadata.timestamp());
        }

        TopicPartition partition = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig(broker))) {
            // Up to a count, not to the end offset: with acks=0 the producer's close
            // does not wait for gregor to append.
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            List<ConsumerRecord<String, String>> records = poll(consumer, count);
            assertEquals(count, records.size(), () -> "read " + records);
            for (int i = 0; i < count; i++) {
                ConsumerRecord<String, String> record = records.get(i);
                assertEquals(i, record.offset());
                assertEquals("k" + i, record.key());
                assertEquals(value(acks, codec, i), record.value());
                assertEquals(TimestampType.CREATE_TIME, record.timestampType());
                assertEquals(base + i, record.timestamp());
                assertEquals(Integer.toString(i),
                        new String(record.headers().lastHeader("i").value(), StandardCharsets.UTF_8));
            }
        }

        List<BatchHeader> batches = batches(topic, 0);
        assertEquals(1, batches.size(), () -> "batches " + batches);
        BatchHeader batch = batches.get(0);
        assertEquals(0, batch.baseOffset());
        assertEquals(count, batch.count());
        assertEquals(CODEC_IDS.get(codec), batch.codec(), "codec id of the stored batch");
        if (acks.equals("all")) {
            assertTrue(batch.producerId() >= 0, () -> "producer id " + batch);
            assertEquals(0, batch.baseSequence());
        } else {
            assertEquals(-1, batch.producerId());
            assertEquals(-1, batch.baseSequence());
        }
    }

    private static String value(String acks, String codec, int i) {
        return acks + "-" + codec + "-" + i + "-" + "abcdefgh".repeat(16);
    }

    /**
     * An idempotent producer sends three batches: each gets the next offset
     * and sequence under one producer id, which describeProducers reports
     * with its last sequence and timestamp; a second producer gets another id.
     */
    @Test
    void idempotentProducerWritesUnderItsProducerIdWithConsecutiveSequences() throws Exception {
        String topic = unique("idempotent");
        createTopic(broker, topic, 1);
        TopicPartition partition = new TopicPartition(topic, 0);
        long base = System.currentTimeMillis() - 60_000;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(broker,
                "enable.idempotence", "true", "acks", "all"))) {
            for (int i = 0; i < 3; i++) {
                // one batch each: get() before the next send
                RecordMetadata metadata = producer.send(
                        new ProducerRecord<>(topic, 0, base + i, null, "i" + i)).get();
                assertEquals(i, metadata.offset());
            }
        }
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(broker,
                "enable.idempotence", "true", "acks", "all"))) {
            assertEquals(3, producer.send(new ProducerRecord<>(topic, 0, base + 3, null, "j0"))
                    .get().offset());
        }

        List<BatchHeader> batches = batches(topic, 0);
        assertEquals(4, batches.size(), () -> "batches " + batches);
        long first = batches.get(0).producerId();
        long second = batches.get(3).producerId();
        assertTrue(first >= 0, () -> "batches " + batches);
        assertNotEquals(first, second, "each producer gets its own producer id");
        for (int i = 0; i < 3; i++) {
            assertEquals(first, batches.get(i).producerId());
            assertEquals(i, batches.get(i).baseSequence());
            assertEquals(i, batches.get(i).baseOffset());
        }
        assertEquals(0, batches.get(3).baseSequence());

        try (Admin admin = broker.admin()) {
            List<ProducerState> active = new ArrayList<>(get(admin.describeProducers(List.of(partition))
                    .partitionResult(partition)).activeProducers());
            active.sort((a, b) -> Long.compare(a.producerId(), b.producerId()));
            assertEquals(List.of(first, second).stream().sorted().toList(),
                    active.stream().map(ProducerState::producerId).toList());
            ProducerState firstState = active.stream().filter(p -> p.producerId() == first)
                    .findFirst().orElseThrow();
            assertEquals(0, firstState.producerEpoch());
            assertEquals(2, firstState.lastSequence());
            assertEquals(base + 2, firstState.lastTimestamp());
            assertTrue(firstState.currentTransactionStartOffset().isEmpty());
        }
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig(broker))) {
            assertEquals(List.of("i0", "i1", "i2", "j0"),
                    readFromBeginning(consumer, List.of(partition)).stream()
                            .map(ConsumerRecord::value).toList());
        }
    }

    record BatchHeader(long baseOffset, int count, int codec, long producerId, int baseSequence) {
    }

    /**
     * The header of every batch in the partition's first segment file, as
     * gregor stored it (Kafka's RecordBatch v2 layout).
     */
    private static List<BatchHeader> batches(String topic, int partition) throws IOException {
        ByteBuffer data = ByteBuffer.wrap(Files.readAllBytes(broker.dataDir()
                .resolve(topic + "-" + partition).resolve(String.format("%020d.log", 0))));
        List<BatchHeader> out = new ArrayList<>();
        while (data.remaining() >= 61) {
            int start = data.position();
            long baseOffset = data.getLong(start);
            int length = data.getInt(start + 8);
            short attributes = data.getShort(start + 21);
            long producerId = data.getLong(start + 43);
            int baseSequence = data.getInt(start + 53);
            int count = data.getInt(start + 57);
            out.add(new BatchHeader(baseOffset, count, attributes & 7, producerId, baseSequence));
            data.position(start + 12 + length);
        }
        return out;
    }
}
