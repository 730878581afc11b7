package gregor.compat;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** What the tests share: client settings, topics, reading until a count or the end, failed futures. */
final class Clients {
    /** How long a test waits for one thing: records, a future, a rebalance. */
    static final Duration TIMEOUT = Duration.ofSeconds(30);

    private Clients() {
    }

    /** A name no earlier test (or run on the same data) has used. */
    static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    /** String keys and values, plus SETTINGS as name, value pairs. */
    static Properties producerConfig(GregorBroker broker, String... settings) {
        Properties config = broker.clientConfig();
        config.put("key.serializer", StringSerializer.class.getName());
        config.put("value.serializer", StringSerializer.class.getName());
        return with(config, settings);
    }

    /** String keys and values, no auto-commit, plus SETTINGS as name, value pairs. */
    static Properties consumerConfig(GregorBroker broker, String... settings) {
        Properties config = broker.clientConfig();
        config.put("key.deserializer", StringDeserializer.class.getName());
        config.put("value.deserializer", StringDeserializer.class.getName());
        config.put("enable.auto.commit", "false");
        return with(config, settings);
    }

    private static Properties with(Properties config, String... settings) {
        for (int i = 0; i < settings.length; i += 2) {
            config.put(settings[i], settings[i + 1]);
        }
        return config;
    }

    static void createTopic(GregorBroker broker, String topic, int partitions) throws Exception {
        try (Admin admin = broker.admin()) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1)))
                    .all().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        }
    }

    /** Polls until COUNT records came (or TIMEOUT passed); returns them all, in order. */
    static <K, V> List<ConsumerRecord<K, V>> poll(KafkaConsumer<K, V> consumer, int count) {
        List<ConsumerRecord<K, V>> got = new ArrayList<>();
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (got.size() < count && System.nanoTime() < deadline) {
            consumer.poll(Duration.ofMillis(200)).forEach(got::add);
        }
        return got;
    }

    /**
     * Every record of PARTITIONS from the beginning to their end offsets
     * (as the consumer's isolation level sees them), read outside any group.
     */
    static <K, V> List<ConsumerRecord<K, V>> readFromBeginning(KafkaConsumer<K, V> consumer,
            Collection<TopicPartition> partitions) {
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, TIMEOUT);
        List<ConsumerRecord<K, V>> got = new ArrayList<>();
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (partitions.stream().anyMatch(p -> consumer.position(p, TIMEOUT) < ends.get(p))
                && System.nanoTime() < deadline) {
            consumer.poll(Duration.ofMillis(200)).forEach(got::add);
        }
        return got;
    }

    /** The future's value, waiting at most TIMEOUT. */
    static <T> T get(KafkaFuture<T> future) throws Exception {
        return future.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }

    /** Asserts that FUTURE fails with EXPECTED (the cause of its ExecutionException). */
    static <T extends Throwable> T assertFails(Class<T> expected, KafkaFuture<?> future) {
        ExecutionException failed = assertThrows(ExecutionException.class,
                () -> future.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS));
        return assertInstanceOf(expected, failed.getCause(), () -> "failed with " + failed.getCause());
    }
}
