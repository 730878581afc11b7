package gregor.compat;

import java.io.FileInputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Kafka's Java client, driven from the Python compatibility tests. Each
 * command prints one line per fact ("key value"), which the tests assert;
 * any exception ends the process with a non-zero status and its message.
 *
 * <pre>
 * JavaClient CONFIG_FILE nodes                      -- the brokers Metadata names
 * JavaClient CONFIG_FILE create TOPIC PARTITIONS
 * JavaClient CONFIG_FILE produce TOPIC VALUE...     -- acks=all, partition 0
 * JavaClient CONFIG_FILE try-produce TOPIC VALUE... -- as produce, but a failed send prints
 *                                                     "error EXCEPTION_CLASS" (exit status 0)
 * JavaClient CONFIG_FILE consume TOPIC GROUP COUNT  -- from the start, in a group, committed
 * JavaClient CONFIG_FILE transaction TOPIC TXN_ID commit|abort VALUE...
 * JavaClient CONFIG_FILE end-offsets TOPIC          -- Admin.listOffsets(latest) per partition
 * JavaClient CONFIG_FILE committed GROUP TOPIC      -- Admin.listConsumerGroupOffsets
 * </pre>
 *
 * Consumers read with the settings of CONFIG_FILE, so isolation.level and
 * group.protocol come from there.
 *
 * CONFIG_FILE holds the client settings (bootstrap.servers, security.protocol,
 * ssl.*), as Kafka's tools take them with --command-config.
 */
public final class JavaClient {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    public static void main(String[] args) throws Exception {
        Properties config = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            config.load(in);
        }
        switch (args[1]) {
            case "nodes" -> nodes(config);
            case "create" -> create(config, args[2], Integer.parseInt(args[3]));
            case "produce" -> produce(config, args[2], List.of(args).subList(3, args.length));
            case "try-produce" -> tryProduce(config, args[2], List.of(args).subList(3, args.length));
            case "consume" -> consume(config, args[2], args[3], Integer.parseInt(args[4]));
            case "transaction" -> transaction(config, args[2], args[3], args[4],
                    List.of(args).subList(5, args.length));
            case "end-offsets" -> endOffsets(config, args[2]);
            case "committed" -> committed(config, args[2], args[3]);
            default -> throw new IllegalArgumentException("unknown command " + args[1]);
        }
    }

    private static void nodes(Properties config) throws Exception {
        try (Admin admin = Admin.create(config)) {
            for (Node node : admin.describeCluster().nodes().get()) {
                System.out.println("node " + node.id() + " " + node.host() + " " + node.port());
            }
        }
    }

    private static void create(Properties config, String topic, int partitions) throws Exception {
        try (Admin admin = Admin.create(config)) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
            System.out.println("created " + topic);
        }
    }

    private static void produce(Properties config, String topic, List<String> values)
            throws Exception {
        Properties producerConfig = new Properties();
        producerConfig.putAll(config);
        producerConfig.put("acks", "all");
        producerConfig.put("key.serializer", StringSerializer.class.getName());
        producerConfig.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig)) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (String value : values) {
                sent.add(producer.send(new ProducerRecord<>(topic, 0, null, value)));
            }
            for (Future<RecordMetadata> result : sent) {
                System.out.println("offset " + result.get().offset());
            }
        }
    }

    /**
     * Like produce, but reports a refused send as "error SimpleClassName" (the
     * cause of the failed future, e.g. TopicAuthorizationException), one line
     * per value, instead of failing.
     */
    private static void tryProduce(Properties config, String topic, List<String> values)
            throws Exception {
        Properties producerConfig = new Properties();
        producerConfig.putAll(config);
        producerConfig.putIfAbsent("acks", "all");
        producerConfig.put("key.serializer", StringSerializer.class.getName());
        producerConfig.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig)) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (String value : values) {
                try {
                    sent.add(producer.send(new ProducerRecord<>(topic, 0, null, value)));
                } catch (org.apache.kafka.common.KafkaException e) {
                    sent.add(java.util.concurrent.CompletableFuture.failedFuture(e));
                }
            }
            for (Future<RecordMetadata> result : sent) {
                try {
                    System.out.println("offset " + result.get().offset());
                } catch (java.util.concurrent.ExecutionException e) {
                    Throwable cause = e.getCause() == null ? e : e.getCause();
                    System.out.println("error " + cause.getClass().getSimpleName());
                }
            }
        }
    }

    private static void transaction(Properties config, String topic, String transactionalId,
            String outcome, List<String> values) throws Exception {
        Properties producerConfig = new Properties();
        producerConfig.putAll(config);
        producerConfig.put("transactional.id", transactionalId);
        producerConfig.put("key.serializer", StringSerializer.class.getName());
        producerConfig.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig)) {
            producer.initTransactions();
            producer.beginTransaction();
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (String value : values) {
                sent.add(producer.send(new ProducerRecord<>(topic, 0, null, value)));
            }
            producer.flush();
            for (Future<RecordMetadata> result : sent) {
                System.out.println("offset " + result.get().offset());
            }
            if (outcome.equals("commit")) {
                producer.commitTransaction();
            } else {
                producer.abortTransaction();
            }
            System.out.println(outcome.equals("commit") ? "committed" : "aborted");
        }
    }

    private static void endOffsets(Properties config, String topic) throws Exception {
        try (Admin admin = Admin.create(config)) {
            var description = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            var wanted = new java.util.HashMap<org.apache.kafka.common.TopicPartition,
                    org.apache.kafka.clients.admin.OffsetSpec>();
            for (var partition : description.partitions()) {
                wanted.put(new org.apache.kafka.common.TopicPartition(topic, partition.partition()),
                        org.apache.kafka.clients.admin.OffsetSpec.latest());
            }
            var offsets = admin.listOffsets(wanted).all().get();
            offsets.entrySet().stream()
                    .sorted(java.util.Map.Entry.comparingByKey(
                            java.util.Comparator.comparingInt(
                                    org.apache.kafka.common.TopicPartition::partition)))
                    .forEach(e -> System.out.println(
                            "end " + e.getKey().partition() + " " + e.getValue().offset()));
        }
    }

    private static void committed(Properties config, String group, String topic)
            throws Exception {
        try (Admin admin = Admin.create(config)) {
            var offsets = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            offsets.entrySet().stream()
                    .filter(e -> e.getKey().topic().equals(topic))
                    .sorted(java.util.Map.Entry.comparingByKey(
                            java.util.Comparator.comparingInt(
                                    org.apache.kafka.common.TopicPartition::partition)))
                    .forEach(e -> System.out.println(
                            "committed " + e.getKey().partition() + " " + e.getValue().offset()));
        }
    }

    private static void consume(Properties config, String topic, String group, int count)
            throws IOException {
        Properties consumerConfig = new Properties();
        consumerConfig.putAll(config);
        consumerConfig.put("group.id", group);
        consumerConfig.put("auto.offset.reset", "earliest");
        consumerConfig.put("enable.auto.commit", "false");
        consumerConfig.put("key.deserializer", StringDeserializer.class.getName());
        consumerConfig.put("value.deserializer", StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig)) {
            consumer.subscribe(List.of(topic));
            int seen = 0;
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (seen < count && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
                    System.out.println("record " + record.offset() + " " + record.value());
                    seen++;
                }
            }
            consumer.commitSync(TIMEOUT);
            System.out.println("committed " + seen);
        }
    }
}
