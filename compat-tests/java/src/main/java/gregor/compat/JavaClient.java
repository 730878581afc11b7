package gregor.compat;

import java.io.FileInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.admin.FeatureMetadata;
import org.apache.kafka.clients.admin.ListConsumerGroupsOptions;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
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
 * JavaClient CONFIG_FILE commit-behind TOPIC GROUP COUNT BEHIND
 *                    -- reads COUNT records, committing (commitSync) BEHIND records short of
 *                       each poll's last, as an application processing in the background does;
 *                       enable.auto.commit comes from CONFIG_FILE
 * JavaClient CONFIG_FILE member TOPICS MAX_SECONDS  -- a group member driven over stdin/stdout
 *                    (compat-tests/python/group_harness.JavaMember): JSON lines of events
 * JavaClient CONFIG_FILE transaction TOPIC TXN_ID commit|abort VALUE...
 * JavaClient CONFIG_FILE end-offsets TOPIC          -- Admin.listOffsets(latest) per partition
 * JavaClient CONFIG_FILE committed GROUP TOPIC      -- Admin.listConsumerGroupOffsets
 * JavaClient CONFIG_FILE produce-matrix TOPIC COUNT BASE_TS
 *                    -- every acks (0, 1, all) with every codec, one partition each
 * JavaClient CONFIG_FILE time-seek TOPIC PARTITIONS P:TS:VALUE,... P:TS,...
 *                    -- produce with CreateTime timestamps, then offsetsForTimes and seek
 * JavaClient CONFIG_FILE topic-admin TOPIC         -- configs, partitions, deleteRecords, log dirs
 * JavaClient CONFIG_FILE create-configs TOPIC NAME=VALUE...
 *                    -- the configs CreateTopicsResult reports for the new topic
 * JavaClient CONFIG_FILE group-admin TOPIC GROUP OTHER_GROUP
 *                    -- a live group's description and offsets, then altered and deleted
 * JavaClient CONFIG_FILE txn-admin TOPIC TXN_ID BASE_TS -- listTransactions, describeTransactions,
 *                                                     describeProducers around a transaction
 * JavaClient CONFIG_FILE cluster-admin TOPIC        -- describeCluster, describeFeatures, electLeaders
 * JavaClient CONFIG_FILE quorum                     -- describeMetadataQuorum: leader, voters, observers
 * JavaClient CONFIG_FILE add-raft-voter ID DIRECTORY_ID LISTENER HOST PORT
 * JavaClient CONFIG_FILE remove-raft-voter ID DIRECTORY_ID
 *                    -- Admin.addRaftVoter / removeRaftVoter (KIP-853): "ok" or the error
 * </pre>
 *
 * The admin commands print facts as "WHAT ARGS..." lines and a refused
 * call as "WHAT ... error EXCEPTION_CLASS" (the cause's simple name), so
 * the tests assert the exceptions Kafka's client raises too.
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
            case "commit-behind" -> commitBehind(config, args[2], args[3], Integer.parseInt(args[4]),
                    Integer.parseInt(args[5]));
            case "member" -> member(config, args[2], Long.parseLong(args[3]));
            case "transaction" -> transaction(config, args[2], args[3], args[4],
                    List.of(args).subList(5, args.length));
            case "end-offsets" -> endOffsets(config, args[2]);
            case "committed" -> committed(config, args[2], args[3]);
            case "produce-matrix" -> produceMatrix(config, args[2], Integer.parseInt(args[3]),
                    Long.parseLong(args[4]));
            case "time-seek" -> timeSeek(config, args[2], Integer.parseInt(args[3]), args[4],
                    args[5]);
            case "topic-admin" -> topicAdmin(config, args[2]);
            case "create-configs" -> createConfigs(config, args[2],
                    List.of(args).subList(3, args.length));
            case "group-admin" -> groupAdmin(config, args[2], args[3], args[4]);
            case "txn-admin" -> txnAdmin(config, args[2], args[3], Long.parseLong(args[4]));
            case "cluster-admin" -> clusterAdmin(config, args[2]);
            case "quorum" -> quorum(config);
            case "add-raft-voter" -> addRaftVoter(config, Integer.parseInt(args[2]), args[3],
                    args[4], args[5], Integer.parseInt(args[6]));
            case "remove-raft-voter" -> removeRaftVoter(config, Integer.parseInt(args[2]), args[3]);
            case "move-replica" -> moveReplica(config, args[2], Integer.parseInt(args[3]),
                    Integer.parseInt(args[4]), args[5]);
            case "replica-dirs" -> replicaDirs(config, args[2], Integer.parseInt(args[3]),
                    Integer.parseInt(args[4]));
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

    /** CONFIG_FILE's settings for a string consumer in GROUP, from the start. */
    private static Properties groupConsumer(Properties config, String group) {
        Properties consumerConfig = new Properties();
        consumerConfig.putAll(config);
        consumerConfig.put("group.id", group);
        consumerConfig.put("auto.offset.reset", "earliest");
        consumerConfig.put("key.deserializer", StringDeserializer.class.getName());
        consumerConfig.put("value.deserializer", StringDeserializer.class.getName());
        return consumerConfig;
    }

    private static void consume(Properties config, String topic, String group, int count)
            throws IOException {
        Properties consumerConfig = groupConsumer(config, group);
        consumerConfig.put("enable.auto.commit", "false");
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

    private static void commitBehind(Properties config, String topic, String group, int count,
            int behind) throws InterruptedException {
        // enable.auto.commit as CONFIG_FILE says.
        Properties consumerConfig = groupConsumer(config, group);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig)) {
            consumer.subscribe(List.of(topic));
            int seen = 0;
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (seen < count && System.nanoTime() < deadline) {
                Map<TopicPartition, OffsetAndMetadata> processed = new HashMap<>();
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
                    seen++;
                    long done = record.offset() + 1 - behind;
                    if (done > 0) {
                        processed.put(new TopicPartition(record.topic(), record.partition()),
                                new OffsetAndMetadata(done));
                    }
                }
                if (!processed.isEmpty()) {
                    consumer.commitSync(processed, TIMEOUT);
                    processed.forEach((tp, offset) -> System.out.println("committed " + offset.offset()));
                }
                // Past auto.commit.interval.ms, so that the next poll auto-commits when enabled.
                Thread.sleep(50);
            }
            System.out.println("read " + seen);
        }
    }

    // --- A group member for group_harness.JavaMember ----------------------------------

    /**
     * member TOPICS MAX_SECONDS: subscribes to the comma-separated TOPICS with
     * the settings of CONFIG_FILE (group.id, group.protocol, assignors,
     * commits...) and prints one JSON object per line, as group_harness's
     * Python members do, each with "ev" and "t" (wall-clock seconds):
     * "started"; "assign", "revoke" and "lost" from the rebalance listener
     * with "parts" ([[topic, partition], ...]); "assignment" whenever
     * assignment(), the generation (member epoch) or the member id change;
     * "msg" for every record (topic, p, o, v); "error" for a failed poll.
     * Commands come on stdin, one a line: "close" (close the consumer, which
     * leaves the group; prints "closed" and ends), "commit" (commitSync;
     * "committed" or "commit_error"), "info", and "exit" or the end of stdin
     * (ends at once, as a crash would). Ends by itself, closing the consumer,
     * after MAX_SECONDS.
     */
    private static void member(Properties config, String topics, long maxSeconds)
            throws Exception {
        Properties consumerConfig = new Properties();
        consumerConfig.putAll(config);
        consumerConfig.put("key.deserializer", StringDeserializer.class.getName());
        consumerConfig.put("value.deserializer", StringDeserializer.class.getName());
        java.util.concurrent.BlockingQueue<String> commands =
                new java.util.concurrent.LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (java.io.BufferedReader in = new java.io.BufferedReader(
                    new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    if (!line.isBlank()) {
                        commands.add(line.trim());
                    }
                }
            } catch (IOException e) {
                // the end of the commands, as at the end of stdin
            }
            commands.add("eof");
        });
        reader.setDaemon(true);
        reader.start();
        long deadline = System.nanoTime() + Duration.ofSeconds(maxSeconds).toNanos();
        KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig);
        consumer.subscribe(List.of(topics.split(",")),
                new org.apache.kafka.clients.consumer.ConsumerRebalanceListener() {
                    @Override
                    public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                        emit("ev", "revoke", "parts", jsonParts(parts));
                    }

                    @Override
                    public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                        emit("ev", "assign", "parts", jsonParts(parts));
                    }

                    @Override
                    public void onPartitionsLost(Collection<TopicPartition> parts) {
                        emit("ev", "lost", "parts", jsonParts(parts));
                    }
                });
        emit("ev", "started", "pid", ProcessHandle.current().pid());
        String last = null;
        while (System.nanoTime() < deadline) {
            try {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(100))) {
                    emit("ev", "msg", "topic", record.topic(), "p", record.partition(),
                            "o", record.offset(), "v", record.value());
                }
            } catch (org.apache.kafka.common.KafkaException e) {
                emit("ev", "error", "type", e.getClass().getSimpleName(), "str", String.valueOf(e));
                Thread.sleep(100);
            }
            String parts = jsonParts(consumer.assignment());
            int generation = -1;
            String memberId = null;
            try {
                var metadata = consumer.groupMetadata();
                generation = metadata.generationId();
                memberId = metadata.memberId();
            } catch (RuntimeException e) {
                // no group metadata yet
            }
            String now = parts + " " + generation + " " + memberId;
            if (!now.equals(last)) {
                emit("ev", "assignment", "parts", parts, "gen", generation, "member", memberId);
                last = now;
            }
            String command = commands.poll();
            if (command == null) {
                continue;
            }
            switch (command) {
                case "close" -> {
                    try {
                        consumer.close();
                    } catch (RuntimeException e) {
                        emit("ev", "close_error", "str", String.valueOf(e));
                    }
                    emit("ev", "closed");
                    return;
                }
                case "commit" -> {
                    try {
                        consumer.commitSync(TIMEOUT);
                        emit("ev", "committed");
                    } catch (RuntimeException e) {
                        emit("ev", "commit_error", "type", e.getClass().getSimpleName(),
                                "str", String.valueOf(e));
                    }
                }
                case "info" -> emit("ev", "info", "member", memberId, "gen", generation,
                        "parts", parts);
                default -> {
                    // "exit", "eof": gone without a word, as a crashed process
                    System.out.flush();
                    Runtime.getRuntime().halt(0);
                }
            }
        }
        consumer.close();
        emit("ev", "closed");
    }

    private static String jsonParts(Collection<TopicPartition> parts) {
        return parts.stream()
                .sorted(Comparator.comparing(TopicPartition::topic)
                        .thenComparingInt(TopicPartition::partition))
                .map(tp -> "[" + jsonString(tp.topic()) + "," + tp.partition() + "]")
                .collect(Collectors.joining(",", "[", "]"));
    }

    private static String jsonString(String value) {
        if (value == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder("\"");
        for (char c : value.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }

    /**
     * Prints one JSON object: KEY, VALUE pairs (strings quoted, numbers as
     * they are, "parts" values already JSON) and the time "t" in seconds.
     */
    private static synchronized void emit(Object... keyValues) {
        StringBuilder out = new StringBuilder("{");
        for (int i = 0; i < keyValues.length; i += 2) {
            String key = (String) keyValues[i];
            Object value = keyValues[i + 1];
            out.append(jsonString(key)).append(':');
            if (key.equals("parts")) {
                out.append(value);
            } else if (value instanceof Number) {
                out.append(value);
            } else {
                out.append(jsonString(value == null ? null : value.toString()));
            }
            out.append(',');
        }
        out.append("\"t\":").append(System.currentTimeMillis() / 1000.0).append('}');
        System.out.println(out);
        System.out.flush();
    }

    // --- The wider tour: producer settings, seeking by time, the Admin client ----------

    private static void out(Object... parts) {
        System.out.println(java.util.Arrays.stream(parts).map(String::valueOf)
                .collect(Collectors.joining(" ")));
    }

    /** A word for a value that may be null or empty. */
    private static String word(String value) {
        return value == null || value.isEmpty() ? "-" : value;
    }

    /** The simple class name of what failed, unwrapped from a future's ExecutionException. */
    private static String errorName(Throwable e) {
        Throwable cause = e;
        while ((cause instanceof ExecutionException
                || cause instanceof CompletionException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause.getClass().getSimpleName();
    }

    /** "ok", or "error EXCEPTION_CLASS" if the future failed. */
    private static String outcome(KafkaFuture<?> future) {
        try {
            future.get();
            return "ok";
        } catch (Exception e) {
            return "error " + errorName(e);
        }
    }

    private static Properties producerConfig(Properties config) {
        Properties producerConfig = new Properties();
        producerConfig.putAll(config);
        producerConfig.put("key.serializer", StringSerializer.class.getName());
        producerConfig.put("value.serializer", StringSerializer.class.getName());
        return producerConfig;
    }

    private static Properties consumerConfig(Properties config) {
        Properties consumerConfig = new Properties();
        consumerConfig.putAll(config);
        consumerConfig.put("enable.auto.commit", "false");
        consumerConfig.put("key.deserializer", StringDeserializer.class.getName());
        consumerConfig.put("value.deserializer", StringDeserializer.class.getName());
        return consumerConfig;
    }

    private static <V> List<Map.Entry<TopicPartition, V>> byPartition(Map<TopicPartition, V> map) {
        return map.entrySet().stream()
                .sorted(Map.Entry.comparingByKey(Comparator.comparing(TopicPartition::topic)
                        .thenComparingInt(TopicPartition::partition)))
                .toList();
    }

    private static String partitions(Collection<TopicPartition> partitions) {
        if (partitions.isEmpty()) {
            return "-";
        }
        return partitions.stream()
                .sorted(Comparator.comparing(TopicPartition::topic)
                        .thenComparingInt(TopicPartition::partition))
                .map(TopicPartition::toString).collect(Collectors.joining(","));
    }

    private static String nodeIds(List<Node> nodes) {
        return nodes.stream().map(n -> Integer.toString(n.id())).collect(Collectors.joining(","));
    }

    private static void createTopic(Properties config, String topic, int partitions)
            throws Exception {
        try (Admin admin = Admin.create(config)) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
        }
    }

    static final List<String> ACKS = List.of("0", "1", "all");
    static final List<String> CODECS = List.of("none", "gzip", "snappy", "lz4", "zstd");

    /**
     * produce-matrix TOPIC COUNT BASE_TS: one producer per acks setting and
     * codec, each writing COUNT records (key "kI", value "ACKS-CODEC-I-"
     * plus a compressible filler, header i=I, CreateTime BASE_TS+I) to its
     * own partition ACKS_INDEX * 5 + CODEC_INDEX of a new 15-partition
     * topic, as one batch (a long linger, then flush). Prints "sent ACKS
     * CODEC PARTITION OFFSET TIMESTAMP" per record; with acks=0 the producer
     * learns no offset (-1).
     */
    private static void produceMatrix(Properties config, String topic, int count,
            long baseTimestamp) throws Exception {
        createTopic(config, topic, ACKS.size() * CODECS.size());
        for (int a = 0; a < ACKS.size(); a++) {
            for (int c = 0; c < CODECS.size(); c++) {
                String acks = ACKS.get(a);
                String codec = CODECS.get(c);
                int partition = a * CODECS.size() + c;
                Properties producerConfig = producerConfig(config);
                producerConfig.put("acks", acks);
                producerConfig.put("compression.type", codec);
                producerConfig.put("linger.ms", "60000");
                try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig)) {
                    List<Future<RecordMetadata>> sent = new ArrayList<>();
                    for (int i = 0; i < count; i++) {
                        String value = acks + "-" + codec + "-" + i + "-" + "abcdefgh".repeat(16);
                        ProducerRecord<String, String> record = new ProducerRecord<>(
                                topic, partition, baseTimestamp + i, "k" + i, value);
                        record.headers().add("i", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                        sent.add(producer.send(record));
                    }
                    producer.flush();
                    for (Future<RecordMetadata> result : sent) {
                        RecordMetadata metadata = result.get();
                        out("sent", acks, codec, metadata.partition(), metadata.offset(),
                                metadata.timestamp());
                    }
                }
            }
        }
    }

    /**
     * time-seek TOPIC PARTITIONS RECORDS QUERIES: creates TOPIC and writes
     * RECORDS ("P:TS:VALUE,...", partition, CreateTime timestamp, value) in
     * order, one batch each ("sent P OFFSET TS"). Then a consumer outside
     * any group prints "begin P OFFSET" and "end P OFFSET"
     * (beginningOffsets, endOffsets) and, for each of QUERIES ("P:TS,..."),
     * what offsetsForTimes found ("found P TS OFFSET RECORD_TS", or "found P
     * TS none") and every record from there to the end of the partition
     * after a seek ("read P TS OFFSET TIMESTAMP_TYPE RECORD_TS VALUE").
     * Last, the Admin's ListOffsets: "admin P earliest|latest|max OFFSET
     * TS" and, per query, "admin-found P TS OFFSET RECORD_TS".
     */
    private static void timeSeek(Properties config, String topic, int partitionCount,
            String records, String queries) throws Exception {
        createTopic(config, topic, partitionCount);
        Properties producerConfig = producerConfig(config);
        producerConfig.put("acks", "all");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig)) {
            for (String spec : records.split(",")) {
                String[] f = spec.split(":", 3);
                RecordMetadata sent = producer.send(new ProducerRecord<>(topic,
                        Integer.parseInt(f[0]), Long.parseLong(f[1]), null, f[2])).get();
                out("sent", sent.partition(), sent.offset(), sent.timestamp());
            }
        }
        List<TopicPartition> all = new ArrayList<>();
        for (int p = 0; p < partitionCount; p++) {
            all.add(new TopicPartition(topic, p));
        }
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig(config))) {
            for (var e : byPartition(consumer.beginningOffsets(all, TIMEOUT))) {
                out("begin", e.getKey().partition(), e.getValue());
            }
            Map<TopicPartition, Long> ends = consumer.endOffsets(all, TIMEOUT);
            for (var e : byPartition(ends)) {
                out("end", e.getKey().partition(), e.getValue());
            }
            for (String spec : queries.split(",")) {
                String[] f = spec.split(":");
                TopicPartition partition = new TopicPartition(topic, Integer.parseInt(f[0]));
                long timestamp = Long.parseLong(f[1]);
                OffsetAndTimestamp found =
                        consumer.offsetsForTimes(Map.of(partition, timestamp), TIMEOUT).get(partition);
                if (found == null) {
                    out("found", partition.partition(), timestamp, "none");
                    continue;
                }
                out("found", partition.partition(), timestamp, found.offset(), found.timestamp());
                consumer.assign(List.of(partition));
                consumer.seek(partition, found.offset());
                long deadline = System.nanoTime() + TIMEOUT.toNanos();
                while (consumer.position(partition) < ends.get(partition)
                        && System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                        out("read", partition.partition(), timestamp, r.offset(), r.timestampType(),
                                r.timestamp(), r.value());
                    }
                }
            }
        }
        try (Admin admin = Admin.create(config)) {
            var specs = new LinkedHashMap<String, OffsetSpec>();
            specs.put("earliest", OffsetSpec.earliest());
            specs.put("latest", OffsetSpec.latest());
            specs.put("max", OffsetSpec.maxTimestamp());
            for (var spec : specs.entrySet()) {
                Map<TopicPartition, OffsetSpec> wanted = new HashMap<>();
                all.forEach(p -> wanted.put(p, spec.getValue()));
                for (var e : byPartition(admin.listOffsets(wanted).all().get())) {
                    out("admin", e.getKey().partition(), spec.getKey(), e.getValue().offset(),
                            e.getValue().timestamp());
                }
            }
            for (String spec : queries.split(",")) {
                String[] f = spec.split(":");
                TopicPartition partition = new TopicPartition(topic, Integer.parseInt(f[0]));
                long timestamp = Long.parseLong(f[1]);
                var info = admin.listOffsets(Map.of(partition, OffsetSpec.forTimestamp(timestamp)))
                        .partitionResult(partition).get();
                out("admin-found", partition.partition(), timestamp, info.offset(), info.timestamp());
            }
        }
    }

    static final List<String> TOPIC_CONFIGS =
            List.of("retention.ms", "max.message.bytes", "cleanup.policy", "segment.bytes");

    /** "LABEL NAME VALUE SOURCE IS_DEFAULT" and "LABEL-synonym NAME SYNONYM VALUE SOURCE" lines. */
    private static void describeTopicConfigs(Admin admin, String topic, String label)
            throws Exception {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Config config = admin.describeConfigs(List.of(resource),
                new DescribeConfigsOptions().includeSynonyms(true)).all().get().get(resource);
        for (String name : TOPIC_CONFIGS) {
            ConfigEntry entry = config.get(name);
            out(label, name, entry.value(), entry.source(), entry.isDefault());
            for (ConfigEntry.ConfigSynonym synonym : entry.synonyms()) {
                out(label + "-synonym", name, synonym.name(), synonym.value(), synonym.source());
            }
        }
    }

    private static AlterConfigOp op(String name, String value, AlterConfigOp.OpType type) {
        return new AlterConfigOp(new ConfigEntry(name, value), type);
    }

    /**
     * topic-admin TOPIC: createTopics with configs (then describeConfigs
     * with synonyms), incrementalAlterConfigs
     * (SET, DELETE, APPEND, then SUBTRACT) each followed by a describe,
     * createPartitions (grow to 3, then a refused shrink), describeTopics,
     * deleteRecords (partition 0 before offset 4 of 10, partition 1 up to
     * its high watermark with -1, and beyond the end) and describeLogDirs.
     */
    private static void topicAdmin(Properties config, String topic) throws Exception {
        try (Admin admin = Admin.create(config)) {
            NewTopic newTopic = new NewTopic(topic, 1, (short) 1).configs(Map.of(
                    "retention.ms", "3600000", "max.message.bytes", "2000000",
                    "cleanup.policy", "delete"));
            CreateTopicsResult created = admin.createTopics(List.of(newTopic));
            created.all().get();
            out("created", created.numPartitions(topic).get(), created.replicationFactor(topic).get(),
                    created.topicId(topic).get());
            out("create-again",
                    outcome(admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all()));
            describeTopicConfigs(admin, topic, "described");

            ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            out("alter", outcome(admin.incrementalAlterConfigs(Map.of(resource, List.of(
                    op("retention.ms", "7200000", AlterConfigOp.OpType.SET),
                    op("max.message.bytes", null, AlterConfigOp.OpType.DELETE),
                    op("cleanup.policy", "compact", AlterConfigOp.OpType.APPEND)))).all()));
            describeTopicConfigs(admin, topic, "altered");
            out("subtract", outcome(admin.incrementalAlterConfigs(Map.of(resource, List.of(
                    op("cleanup.policy", "compact", AlterConfigOp.OpType.SUBTRACT)))).all()));
            describeTopicConfigs(admin, topic, "subtracted");
            out("alter-unknown", outcome(admin.incrementalAlterConfigs(Map.of(resource, List.of(
                    op("no.such.config", "1", AlterConfigOp.OpType.SET)))).all()));
            out("alter-invalid", outcome(admin.incrementalAlterConfigs(Map.of(resource, List.of(
                    op("retention.ms", "soon", AlterConfigOp.OpType.SET)))).all()));

            out("grow", outcome(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(3))).all()));
            out("shrink", outcome(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(2))).all()));
            TopicDescription description =
                    admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            out("topic", description.topicId(), description.partitions().size(), description.isInternal());
            for (TopicPartitionInfo partition : description.partitions()) {
                out("partition", partition.partition(), partition.leader().id(),
                        nodeIds(partition.replicas()), nodeIds(partition.isr()));
            }

            TopicPartition p0 = new TopicPartition(topic, 0);
            TopicPartition p1 = new TopicPartition(topic, 1);
            Properties producerConfig = producerConfig(config);
            producerConfig.put("acks", "all");
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig)) {
                for (int i = 0; i < 10; i++) {
                    producer.send(new ProducerRecord<>(topic, 0, null, "r" + i));
                }
                for (int i = 0; i < 3; i++) {
                    producer.send(new ProducerRecord<>(topic, 1, null, "s" + i));
                }
                producer.flush();
            }
            var deleted = admin.deleteRecords(Map.of(p0, RecordsToDelete.beforeOffset(4),
                    p1, RecordsToDelete.beforeOffset(-1))).lowWatermarks();
            out("deleted", 0, deleted.get(p0).get().lowWatermark());
            out("deleted", 1, deleted.get(p1).get().lowWatermark());
            out("delete-beyond",
                    outcome(admin.deleteRecords(Map.of(p0, RecordsToDelete.beforeOffset(11))).all()));
            Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
            for (int p = 0; p < 3; p++) {
                earliest.put(new TopicPartition(topic, p), OffsetSpec.earliest());
            }
            for (var e : byPartition(admin.listOffsets(earliest).all().get())) {
                out("earliest", e.getKey().partition(), e.getValue().offset());
            }

            Collection<Node> nodes = admin.describeCluster().nodes().get();
            List<Integer> ids = nodes.stream().map(Node::id).sorted().toList();
            for (var node : new TreeMap<>(admin.describeLogDirs(ids).allDescriptions().get()).entrySet()) {
                for (var dir : new TreeMap<>(node.getValue()).entrySet()) {
                    LogDirDescription logDir = dir.getValue();
                    out("log-dir", node.getKey(), dir.getKey(),
                            logDir.error() == null ? "-" : logDir.error().getClass().getSimpleName(),
                            logDir.totalBytes().orElse(-1), logDir.usableBytes().orElse(-1));
                    for (var replica : byPartition(logDir.replicaInfos())) {
                        if (!replica.getKey().topic().equals(topic)) {
                            continue;
                        }
                        ReplicaInfo info = replica.getValue();
                        out("replica", node.getKey(), dir.getKey(), replica.getKey().partition(),
                                info.size(), info.offsetLag(), info.isFuture());
                    }
                }
            }
        }
    }

    /**
     * move-replica TOPIC PARTITION BROKER DIR: alterReplicaLogDirs (KIP-113)
     * of that replica to DIR; prints "moved ok" or "moved error CLASS".
     */
    private static void moveReplica(Properties config, String topic, int partition, int broker,
            String dir) throws Exception {
        try (Admin admin = Admin.create(config)) {
            var replica = new org.apache.kafka.common.TopicPartitionReplica(topic, partition, broker);
            out("moved", outcome(admin.alterReplicaLogDirs(Map.of(replica, dir)).all()));
        }
    }

    /**
     * replica-dirs TOPIC PARTITION BROKER: describeReplicaLogDirs of that
     * replica ("replica-dir CURRENT FUTURE CURRENT_LAG FUTURE_LAG", "-" for
     * no future dir), then describeLogDirs of the broker
     * ("log-replica DIR SIZE OFFSET_LAG IS_FUTURE" per replica of the topic
     * partition).
     */
    private static void replicaDirs(Properties config, String topic, int partition, int broker)
            throws Exception {
        try (Admin admin = Admin.create(config)) {
            var replica = new org.apache.kafka.common.TopicPartitionReplica(topic, partition, broker);
            var info = admin.describeReplicaLogDirs(List.of(replica)).all().get().get(replica);
            out("replica-dir", word(info.getCurrentReplicaLogDir()),
                    word(info.getFutureReplicaLogDir()), info.getCurrentReplicaOffsetLag(),
                    info.getFutureReplicaOffsetLag());
            var dirs = admin.describeLogDirs(List.of(broker)).allDescriptions().get().get(broker);
            for (var dir : new TreeMap<>(dirs).entrySet()) {
                for (var entry : dir.getValue().replicaInfos().entrySet()) {
                    if (entry.getKey().equals(new TopicPartition(topic, partition))) {
                        ReplicaInfo replicaInfo = entry.getValue();
                        out("log-replica", dir.getKey(), replicaInfo.size(),
                                replicaInfo.offsetLag(), replicaInfo.isFuture());
                    }
                }
            }
        }
    }

    /**
     * create-configs TOPIC NAME=VALUE...: creates TOPIC (one partition)
     * with the configs given and prints what CreateTopics (v5+) answered:
     * "created PARTITIONS REPLICATION_FACTOR TOPIC_ID", "configs COUNT" and
     * "created-config NAME VALUE SOURCE READ_ONLY SENSITIVE" per config,
     * sorted by name.
     */
    private static void createConfigs(Properties config, String topic, List<String> settings)
            throws Exception {
        Map<String, String> configs = new HashMap<>();
        for (String setting : settings) {
            String[] kv = setting.split("=", 2);
            configs.put(kv[0], kv[1]);
        }
        try (Admin admin = Admin.create(config)) {
            CreateTopicsResult created = admin.createTopics(
                    List.of(new NewTopic(topic, 1, (short) 1).configs(configs)));
            created.all().get();
            out("created", created.numPartitions(topic).get(), created.replicationFactor(topic).get(),
                    created.topicId(topic).get());
            Collection<ConfigEntry> entries = created.config(topic).get().entries();
            out("configs", entries.size());
            entries.stream().sorted(Comparator.comparing(ConfigEntry::name)).forEach(e ->
                    out("created-config", e.name(), word(e.value()), e.source(), e.isReadOnly(),
                            e.isSensitive()));
        }
    }

    /** "listed[-LABEL] GROUP STATE TYPE SIMPLE" for GROUPS among the groups listed. */
    private static void listGroups(Admin admin, String label,
            ListConsumerGroupsOptions options, String... groups)
            throws Exception {
        Set<String> wanted = Set.of(groups);
        admin.listConsumerGroups(options).all().get().stream()
                .filter(g -> wanted.contains(g.groupId()))
                .sorted(Comparator.comparing(ConsumerGroupListing::groupId))
                .forEach(g -> out(label, g.groupId(),
                        g.groupState().map(Object::toString).orElse("-"),
                        g.type().map(Object::toString).orElse("-"), g.isSimpleConsumerGroup()));
    }

    /**
     * "group GROUP STATE TYPE SIMPLE ASSIGNOR COORDINATOR MEMBERS" and
     * "member GROUP CLIENT_ID HOST INSTANCE_ID ASSIGNMENT", or "group GROUP
     * error EXCEPTION".
     */
    private static void describeGroup(Admin admin, String group) {
        ConsumerGroupDescription d;
        try {
            d = admin.describeConsumerGroups(List.of(group)).describedGroups().get(group).get();
        } catch (Exception e) {
            out("group", group, "error", errorName(e));
            return;
        }
        out("group", group, d.groupState(), d.type(), d.isSimpleConsumerGroup(),
                word(d.partitionAssignor()), d.coordinator().id(), d.members().size());
        for (MemberDescription m : d.members()) {
            out("member", group, m.clientId(), m.host(), m.groupInstanceId().orElse("-"),
                    partitions(m.assignment().topicPartitions()));
        }
    }

    /** "offset GROUP PARTITION OFFSET METADATA" per committed offset, or "offsets GROUP none". */
    private static void groupOffsets(Admin admin, String group) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> offsets =
                admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        if (offsets.isEmpty()) {
            out("offsets", group, "none");
        }
        for (var e : byPartition(offsets)) {
            OffsetAndMetadata o = e.getValue();
            out("offset", group, e.getKey().partition(), o == null ? "none" : o.offset(),
                    o == null ? "-" : word(o.metadata()));
        }
    }

    /**
     * group-admin TOPIC GROUP OTHER_GROUP: a consumer in GROUP (group.protocol
     * from CONFIG_FILE) reads TOPIC's two partitions and commits; while it
     * is in the group: listConsumerGroups, describeConsumerGroups,
     * listConsumerGroupOffsets, and the calls a live group refuses
     * (alterConsumerGroupOffsets, deleteConsumerGroupOffsets,
     * deleteConsumerGroups). Once it has left: the same listings,
     * alterConsumerGroupOffsets, deleteConsumerGroupOffsets. OTHER_GROUP
     * (committed by another client) is described, listed and deleted.
     */
    private static void groupAdmin(Properties config, String topic, String group, String other)
            throws Exception {
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        var all = new ListConsumerGroupsOptions();
        try (Admin admin = Admin.create(config)) {
            Properties consumerConfig = consumerConfig(config);
            consumerConfig.put("group.id", group);
            consumerConfig.put("client.id", "java-" + group);
            consumerConfig.put("auto.offset.reset", "earliest");
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig)) {
                consumer.subscribe(List.of(topic));
                int seen = 0;
                long deadline = System.nanoTime() + TIMEOUT.toNanos();
                while ((seen < 6 || consumer.assignment().size() < 2)
                        && System.nanoTime() < deadline) {
                    seen += consumer.poll(Duration.ofMillis(200)).count();
                }
                consumer.commitSync(TIMEOUT);
                out("consumed", seen, partitions(consumer.assignment()));
                listGroups(admin, "live-listed", all, group, other);
                describeGroup(admin, group);
                groupOffsets(admin, group);
                out("live-alter", outcome(admin.alterConsumerGroupOffsets(group,
                        Map.of(p0, new OffsetAndMetadata(0))).all()));
                out("live-delete-offsets",
                        outcome(admin.deleteConsumerGroupOffsets(group, Set.of(p0)).all()));
                out("live-delete", outcome(admin.deleteConsumerGroups(List.of(group)).all()));
            }
            listGroups(admin, "listed", all, group, other);
            listGroups(admin, "listed-empty", new ListConsumerGroupsOptions()
                    .inGroupStates(Set.of(GroupState.EMPTY)), group, other);
            listGroups(admin, "listed-classic", new ListConsumerGroupsOptions()
                    .withTypes(Set.of(GroupType.CLASSIC)), group, other);
            describeGroup(admin, group);
            out("alter", outcome(admin.alterConsumerGroupOffsets(group, Map.of(
                    p0, new OffsetAndMetadata(1), p1, new OffsetAndMetadata(2, "moved"))).all()));
            groupOffsets(admin, group);
            out("delete-offsets", outcome(admin.deleteConsumerGroupOffsets(group, Set.of(p0)).all()));
            groupOffsets(admin, group);

            describeGroup(admin, other);
            groupOffsets(admin, other);
            out("delete-other", outcome(admin.deleteConsumerGroups(List.of(other)).all()));
            out("delete-other-again", outcome(admin.deleteConsumerGroups(List.of(other)).all()));
            describeGroup(admin, other);
            groupOffsets(admin, other);
            listGroups(admin, "finally-listed", all, group, other);
        }
    }

    /**
     * "LABEL-listed ID PRODUCER_ID STATE" (listTransactions, then filtered
     * by state, by producer id and by a transactional id pattern; and for
     * an ongoing transaction by a one-hour duration) and "LABEL-described
     * STATE PRODUCER_ID EPOCH TIMEOUT_MS COORDINATOR HAS_START PARTITIONS".
     */
    private static void transactions(Admin admin, String transactionalId, String label)
            throws Exception {
        TransactionDescription d = admin.describeTransactions(List.of(transactionalId))
                .description(transactionalId).get();
        out(label + "-described", d.state(), d.producerId(), d.producerEpoch(),
                d.transactionTimeoutMs(), d.coordinatorId(), d.transactionStartTimeMs().isPresent(),
                partitions(d.topicPartitions()));
        var filters = new LinkedHashMap<String, ListTransactionsOptions>();
        filters.put("listed", new ListTransactionsOptions());
        filters.put("listed-by-state", new ListTransactionsOptions().filterStates(List.of(d.state())));
        filters.put("listed-by-other-state", new ListTransactionsOptions().filterStates(
                List.of(d.state() == TransactionState.PREPARE_ABORT
                        ? TransactionState.ONGOING : TransactionState.PREPARE_ABORT)));
        filters.put("listed-by-producer",
                new ListTransactionsOptions().filterProducerIds(List.of(d.producerId())));
        filters.put("listed-by-pattern", new ListTransactionsOptions().filterOnTransactionalIdPattern(
                transactionalId.substring(0, transactionalId.length() - 4) + ".*"));
        if (d.state() == TransactionState.ONGOING) {
            filters.put("listed-by-duration", new ListTransactionsOptions().filterOnDuration(3_600_000));
        }
        for (var filter : filters.entrySet()) {
            Collection<TransactionListing> listed;
            try {
                listed = admin.listTransactions(filter.getValue()).all().get();
            } catch (Exception e) {
                out(label + "-" + filter.getKey(), "error", errorName(e));
                continue;
            }
            List<TransactionListing> ours = listed.stream()
                    .filter(t -> t.transactionalId().equals(transactionalId)).toList();
            if (ours.isEmpty()) {
                out(label + "-" + filter.getKey(), "none");
            }
            for (TransactionListing t : ours) {
                out(label + "-" + filter.getKey(), t.transactionalId(), t.producerId(), t.state());
            }
        }
    }

    /** "producers-LABEL PRODUCER_ID EPOCH LAST_SEQUENCE LAST_TIMESTAMP TXN_START COORDINATOR_EPOCH". */
    private static void producers(Admin admin, TopicPartition partition, String label)
            throws Exception {
        List<ProducerState> active = new ArrayList<>(admin.describeProducers(List.of(partition))
                .partitionResult(partition).get().activeProducers());
        active.sort(Comparator.comparingLong(ProducerState::producerId));
        for (ProducerState p : active) {
            out("producers-" + label, p.producerId(), p.producerEpoch(), p.lastSequence(),
                    p.lastTimestamp(),
                    p.currentTransactionStartOffset().isPresent()
                            ? Long.toString(p.currentTransactionStartOffset().getAsLong()) : "-",
                    p.coordinatorEpoch().isPresent()
                            ? Integer.toString(p.coordinatorEpoch().getAsInt()) : "-");
        }
    }

    /**
     * txn-admin TOPIC TXN_ID BASE_TS: an idempotent producer writes three
     * records (CreateTime BASE_TS..BASE_TS+2) to TOPIC's partition 0; then a
     * transactional producer TXN_ID initializes, writes two (BASE_TS+10,
     * +11) and commits. describeTransactions/listTransactions (after init,
     * while ongoing, after commit) and describeProducers (before, during,
     * after) around it; describeTransactions of an unknown id.
     */
    private static void txnAdmin(Properties config, String topic, String transactionalId,
            long baseTimestamp) throws Exception {
        createTopic(config, topic, 1);
        TopicPartition p0 = new TopicPartition(topic, 0);
        Properties idempotent = producerConfig(config);
        idempotent.put("acks", "all");
        idempotent.put("enable.idempotence", "true");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(idempotent)) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                sent.add(producer.send(new ProducerRecord<>(topic, 0, baseTimestamp + i, null, "i" + i)));
            }
            for (Future<RecordMetadata> result : sent) {
                out("sent", result.get().offset());
            }
        }
        try (Admin admin = Admin.create(config)) {
            producers(admin, p0, "idempotent");
            Properties transactional = producerConfig(config);
            transactional.put("transactional.id", transactionalId);
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(transactional)) {
                producer.initTransactions();
                transactions(admin, transactionalId, "initialized");
                producer.beginTransaction();
                List<Future<RecordMetadata>> sent = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    sent.add(producer.send(new ProducerRecord<>(topic, 0, baseTimestamp + 10 + i,
                            null, "t" + i)));
                }
                producer.flush();
                for (Future<RecordMetadata> result : sent) {
                    out("sent", result.get().offset());
                }
                transactions(admin, transactionalId, "ongoing");
                producers(admin, p0, "ongoing");
                producer.commitTransaction();
                transactions(admin, transactionalId, "committed");
                producers(admin, p0, "committed");
            }
            out("describe-unknown", outcome(admin.describeTransactions(
                    List.of(transactionalId + "-unknown")).all()));
        }
    }

    /**
     * cluster-admin TOPIC: describeCluster (with authorized operations),
     * describeFeatures, and electLeaders on a new two-partition TOPIC:
     * preferred for both partitions, preferred for every partition (null),
     * unclean for one, and preferred for a partition that does not exist.
     */
    private static void quorum(Properties config) throws Exception {
        try (Admin admin = Admin.create(config)) {
            var info = admin.describeMetadataQuorum().quorumInfo().get();
            out("leader", info.leaderId(), "epoch", info.leaderEpoch(), "hw", info.highWatermark());
            info.voters().stream().sorted(Comparator.comparingInt(r -> r.replicaId()))
                    .forEach(r -> out("voter", r.replicaId(), r.replicaDirectoryId(), r.logEndOffset()));
            info.observers().stream().sorted(Comparator.comparingInt(r -> r.replicaId()))
                    .forEach(r -> out("observer", r.replicaId(), r.replicaDirectoryId(), r.logEndOffset()));
            info.nodes().values().stream().sorted(Comparator.comparingInt(n -> n.nodeId()))
                    .forEach(n -> n.endpoints().forEach(e ->
                            out("node", n.nodeId(), e.listener(), e.host(), e.port())));
        }
    }

    private static void addRaftVoter(Properties config, int id, String directoryId,
                                     String listener, String host, int port) throws Exception {
        try (Admin admin = Admin.create(config)) {
            var endpoints = Set.of(new org.apache.kafka.clients.admin.RaftVoterEndpoint(listener, host, port));
            out("add-raft-voter", id, outcome(admin.addRaftVoter(id,
                    org.apache.kafka.common.Uuid.fromString(directoryId), endpoints).all()));
        }
    }

    private static void removeRaftVoter(Properties config, int id, String directoryId) throws Exception {
        try (Admin admin = Admin.create(config)) {
            out("remove-raft-voter", id, outcome(admin.removeRaftVoter(id,
                    org.apache.kafka.common.Uuid.fromString(directoryId)).all()));
        }
    }

    private static void clusterAdmin(Properties config, String topic) throws Exception {
        createTopic(config, topic, 2);
        try (Admin admin = Admin.create(config)) {
            var cluster = admin.describeCluster(
                    new DescribeClusterOptions()
                            .includeAuthorizedOperations(true));
            out("cluster-id", cluster.clusterId().get());
            out("controller", cluster.controller().get().id());
            cluster.nodes().get().stream().sorted(Comparator.comparingInt(Node::id))
                    .forEach(n -> out("node", n.id(), n.host(), n.port(), word(n.rack())));
            var operations = cluster.authorizedOperations().get();
            out("cluster-operations", operations == null ? "-" : operations.stream()
                    .map(Object::toString).sorted().collect(Collectors.joining(",")));

            FeatureMetadata features = admin.describeFeatures().featureMetadata().get();
            new TreeMap<>(features.finalizedFeatures()).forEach((name, range) ->
                    out("finalized", name, range.minVersionLevel(), range.maxVersionLevel()));
            new TreeMap<>(features.supportedFeatures()).forEach((name, range) ->
                    out("supported", name, range.minVersion(), range.maxVersion()));
            out("features-epoch", features.finalizedFeaturesEpoch().map(Object::toString).orElse("-"));

            TopicPartition p0 = new TopicPartition(topic, 0);
            TopicPartition p1 = new TopicPartition(topic, 1);
            var preferred = admin.electLeaders(ElectionType.PREFERRED, Set.of(p0, p1));
            for (var e : byPartition(preferred.partitions().get())) {
                out("elect", "preferred", e.getKey().partition(),
                        e.getValue().map(JavaClient::errorName).orElse("ok"));
            }
            out("elect-all", "preferred", outcome(preferred.all()));
            var every = admin.electLeaders(ElectionType.PREFERRED, null).partitions().get();
            out("elect-every", "preferred", every.keySet().stream()
                    .filter(p -> p.topic().equals(topic)).count());
            var unclean = admin.electLeaders(ElectionType.UNCLEAN, Set.of(p0));
            for (var e : byPartition(unclean.partitions().get())) {
                out("elect", "unclean", e.getKey().partition(),
                        e.getValue().map(JavaClient::errorName).orElse("ok"));
            }
            TopicPartition missing = new TopicPartition(topic, 7);
            var unknown = admin.electLeaders(ElectionType.PREFERRED, Set.of(missing));
            out("elect-missing", outcome(unknown.partitions()),
                    outcome(unknown.all()));
            try {
                var results = unknown.partitions().get();
                for (var e : byPartition(results)) {
                    out("elect", "missing", e.getKey().partition(),
                            e.getValue().map(JavaClient::errorName).orElse("ok"));
                }
            } catch (ExecutionException e) {
                // reported above
            }
        }
    }
}
