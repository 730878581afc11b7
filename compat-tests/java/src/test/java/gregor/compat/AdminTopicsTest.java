package gregor.compat;

import static gregor.compat.Clients.assertFails;
import static gregor.compat.Clients.consumerConfig;
import static gregor.compat.Clients.createTopic;
import static gregor.compat.Clients.get;
import static gregor.compat.Clients.producerConfig;
import static gregor.compat.Clients.readFromBeginning;
import static gregor.compat.Clients.unique;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TopicListing;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicIdException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The Admin client's topic calls on a broker whose message.max.bytes is set
 * statically: createTopics, listTopics, describeTopics and deleteTopics;
 * describeConfigs and incrementalAlterConfigs; createPartitions;
 * deleteRecords and listOffsets; describeLogDirs.
 */
class AdminTopicsTest {
    @RegisterExtension
    static final GregorBroker broker = new GregorBroker("message.max.bytes", "500000");

    private static List<Integer> ids(List<Node> nodes) {
        return nodes.stream().map(Node::id).toList();
    }

    @Test
    void topicsAreCreatedListedDescribedAndDeleted() throws Exception {
        String topic = unique("topics");
        try (Admin admin = broker.admin()) {
            CreateTopicsResult created = admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1)));
            get(created.all());
            assertEquals(2, get(created.numPartitions(topic)));
            assertEquals(1, get(created.replicationFactor(topic)));
            Uuid topicId = get(created.topicId(topic));
            assertNotEquals(Uuid.ZERO_UUID, topicId);
            assertFails(TopicExistsException.class,
                    admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all());

            assertTrue(get(admin.listTopics().names()).contains(topic));
            TopicListing listing = get(admin.listTopics().namesToListings()).get(topic);
            assertEquals(topicId, listing.topicId());
            assertFalse(listing.isInternal());

            TopicDescription description = get(admin.describeTopics(List.of(topic)).allTopicNames()).get(topic);
            assertEquals(topicId, description.topicId());
            assertFalse(description.isInternal());
            assertEquals(List.of(0, 1), description.partitions().stream().map(TopicPartitionInfo::partition).toList());
            for (TopicPartitionInfo partition : description.partitions()) {
                assertEquals(1, partition.leader().id());
                assertEquals(List.of(1), ids(partition.replicas()));
                assertEquals(List.of(1), ids(partition.isr()));
            }

            get(admin.deleteTopics(List.of(topic)).all());
            assertFalse(get(admin.listTopics().names()).contains(topic));
            assertFails(UnknownTopicOrPartitionException.class,
                    admin.describeTopics(List.of(topic)).allTopicNames());
            assertFails(UnknownTopicOrPartitionException.class, admin.deleteTopics(List.of(topic)).all());
        }
    }

    /**
     * describeTopics by topic id: Kafka 4.4's Admin sends Metadata (v12)
     * topics with the id and an empty name (the field's default), which a
     * Kafka broker looks up by id.
     */
    @Test
    void describeTopicsFindsATopicByItsId() throws Exception {
        String topic = unique("topic-id");
        try (Admin admin = broker.admin()) {
            CreateTopicsResult created = admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1)));
            Uuid topicId = get(created.topicId(topic));
            TopicDescription byId = get(admin.describeTopics(TopicCollection.ofTopicIds(List.of(topicId)))
                    .allTopicIds()).get(topicId);
            assertEquals(topic, byId.name());
            assertEquals(topicId, byId.topicId());
            assertEquals(List.of(0, 1), byId.partitions().stream().map(TopicPartitionInfo::partition).toList());
            assertFails(UnknownTopicIdException.class, admin.describeTopics(
                    TopicCollection.ofTopicIds(List.of(Uuid.randomUuid()))).allTopicIds());
        }
    }

    /** "VALUE SOURCE" of NAME and its synonyms' "NAME=VALUE SOURCE", as describeConfigs reports them. */
    private static List<String> described(Admin admin, String topic, String name) throws Exception {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Config config = get(admin.describeConfigs(List.of(resource),
                new DescribeConfigsOptions().includeSynonyms(true)).all()).get(resource);
        ConfigEntry entry = config.get(name);
        List<String> out = new ArrayList<>();
        out.add(entry.value() + " " + entry.source() + (entry.isDefault() ? " default" : ""));
        for (ConfigEntry.ConfigSynonym synonym : entry.synonyms()) {
            out.add(synonym.name() + "=" + synonym.value() + " " + synonym.source());
        }
        return out;
    }

    private static AlterConfigOp op(String name, String value, AlterConfigOp.OpType type) {
        return new AlterConfigOp(new ConfigEntry(name, value), type);
    }

    /**
     * Values, sources and synonyms (topic, static broker, default) as
     * created; SET, DELETE (back to the broker's static value) and APPEND,
     * then SUBTRACT; an unknown config and an invalid value refused.
     */
    @Test
    void describeConfigsReportsSourcesAndSynonymsThatIncrementalAlterConfigsChanges() throws Exception {
        String topic = unique("configs");
        try (Admin admin = broker.admin()) {
            get(admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1).configs(Map.of(
                    "retention.ms", "3600000", "max.message.bytes", "2000000",
                    "cleanup.policy", "delete")))).all());
            assertEquals(List.of("3600000 DYNAMIC_TOPIC_CONFIG", "retention.ms=3600000 DYNAMIC_TOPIC_CONFIG"),
                    described(admin, topic, "retention.ms"));
            assertEquals(List.of("2000000 DYNAMIC_TOPIC_CONFIG",
                    "max.message.bytes=2000000 DYNAMIC_TOPIC_CONFIG",
                    "message.max.bytes=500000 STATIC_BROKER_CONFIG",
                    "message.max.bytes=1048588 DEFAULT_CONFIG"), described(admin, topic, "max.message.bytes"));
            assertEquals(List.of("delete DYNAMIC_TOPIC_CONFIG", "cleanup.policy=delete DYNAMIC_TOPIC_CONFIG",
                    "log.cleanup.policy=delete DEFAULT_CONFIG"), described(admin, topic, "cleanup.policy"));
            assertEquals(List.of("1073741824 DEFAULT_CONFIG default",
                    "log.segment.bytes=1073741824 DEFAULT_CONFIG"), described(admin, topic, "segment.bytes"));

            ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            get(admin.incrementalAlterConfigs(Map.of(resource, List.of(
                    op("retention.ms", "7200000", AlterConfigOp.OpType.SET),
                    op("max.message.bytes", null, AlterConfigOp.OpType.DELETE),
                    op("cleanup.policy", "compact", AlterConfigOp.OpType.APPEND)))).all());
            assertEquals(List.of("7200000 DYNAMIC_TOPIC_CONFIG", "retention.ms=7200000 DYNAMIC_TOPIC_CONFIG"),
                    described(admin, topic, "retention.ms"));
            assertEquals(List.of("500000 STATIC_BROKER_CONFIG",
                    "message.max.bytes=500000 STATIC_BROKER_CONFIG",
                    "message.max.bytes=1048588 DEFAULT_CONFIG"), described(admin, topic, "max.message.bytes"));
            assertEquals("delete,compact DYNAMIC_TOPIC_CONFIG", described(admin, topic, "cleanup.policy").get(0));

            get(admin.incrementalAlterConfigs(Map.of(resource, List.of(
                    op("cleanup.policy", "compact", AlterConfigOp.OpType.SUBTRACT)))).all());
            assertEquals("delete DYNAMIC_TOPIC_CONFIG", described(admin, topic, "cleanup.policy").get(0));

            assertFails(InvalidConfigurationException.class, admin.incrementalAlterConfigs(Map.of(resource,
                    List.of(op("no.such.config", "1", AlterConfigOp.OpType.SET)))).all());
            assertFails(InvalidConfigurationException.class, admin.incrementalAlterConfigs(Map.of(resource,
                    List.of(op("retention.ms", "soon", AlterConfigOp.OpType.SET)))).all());
            assertEquals("7200000 DYNAMIC_TOPIC_CONFIG", described(admin, topic, "retention.ms").get(0));
        }
    }

    @Test
    void createPartitionsGrowsATopicAndRefusesToShrinkIt() throws Exception {
        String topic = unique("partitions");
        createTopic(broker, topic, 1);
        try (Admin admin = broker.admin()) {
            get(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(3))).all());
            assertFails(InvalidPartitionsException.class,
                    admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(2))).all());
            TopicDescription description = get(admin.describeTopics(List.of(topic)).allTopicNames()).get(topic);
            assertEquals(List.of(0, 1, 2),
                    description.partitions().stream().map(TopicPartitionInfo::partition).toList());
            for (TopicPartitionInfo partition : description.partitions()) {
                assertEquals(1, partition.leader().id());
            }
        }
        // The new partition takes writes.
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(broker))) {
            assertEquals(0, producer.send(new ProducerRecord<>(topic, 2, null, "new")).get().offset());
        }
    }

    /** Partition 0 holds r0..r9, partition 1 s0..s2, partition 2 nothing. */
    private static String topicWithRecords(String prefix) throws Exception {
        String topic = unique(prefix);
        createTopic(broker, topic, 3);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(broker))) {
            for (int i = 0; i < 10; i++) {
                producer.send(new ProducerRecord<>(topic, 0, null, "r" + i));
            }
            for (int i = 0; i < 3; i++) {
                producer.send(new ProducerRecord<>(topic, 1, null, "s" + i));
            }
            producer.flush();
        }
        return topic;
    }

    private static Map<Integer, Long> listOffsets(Admin admin, String topic, OffsetSpec spec) throws Exception {
        Map<TopicPartition, OffsetSpec> wanted = new HashMap<>();
        for (int p = 0; p < 3; p++) {
            wanted.put(new TopicPartition(topic, p), spec);
        }
        Map<Integer, Long> out = new HashMap<>();
        get(admin.listOffsets(wanted).all()).forEach((p, info) -> out.put(p.partition(), info.offset()));
        return out;
    }

    /**
     * deleteRecords before offset 4 of partition 0, and up to the high
     * watermark (-1) of partition 1: the low watermarks it answers are the
     * log start offsets listOffsets(earliest) then reports, and a consumer
     * reads from there; beyond the end is refused.
     */
    @Test
    void deleteRecordsMovesTheLogStartOffset() throws Exception {
        String topic = topicWithRecords("delete-records");
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        try (Admin admin = broker.admin()) {
            assertEquals(Map.of(0, 0L, 1, 0L, 2, 0L), listOffsets(admin, topic, OffsetSpec.earliest()));
            assertEquals(Map.of(0, 10L, 1, 3L, 2, 0L), listOffsets(admin, topic, OffsetSpec.latest()));

            var deleted = admin.deleteRecords(Map.of(p0, RecordsToDelete.beforeOffset(4),
                    p1, RecordsToDelete.beforeOffset(-1))).lowWatermarks();
            assertEquals(4, get(deleted.get(p0)).lowWatermark());
            assertEquals(3, get(deleted.get(p1)).lowWatermark());
            assertFails(OffsetOutOfRangeException.class,
                    admin.deleteRecords(Map.of(p0, RecordsToDelete.beforeOffset(11))).all());

            assertEquals(Map.of(0, 4L, 1, 3L, 2, 0L), listOffsets(admin, topic, OffsetSpec.earliest()));
            assertEquals(Map.of(0, 10L, 1, 3L, 2, 0L), listOffsets(admin, topic, OffsetSpec.latest()));
        }
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig(broker))) {
            List<ConsumerRecord<String, String>> records = readFromBeginning(consumer, List.of(p0, p1));
            assertEquals(List.of("4:r4", "5:r5", "6:r6", "7:r7", "8:r8", "9:r9"),
                    records.stream().map(r -> r.offset() + ":" + r.value()).toList());
        }
    }

    private static long segmentBytes(Path partitionDir) throws IOException {
        try (Stream<Path> files = Files.list(partitionDir)) {
            long total = 0;
            for (Path file : files.filter(f -> f.toString().endsWith(".log")).toList()) {
                total += Files.size(file);
            }
            return total;
        }
    }

    /**
     * describeLogDirs names the broker's one log dir, its space, and each of
     * the topic's replicas with the size of its segment files.
     */
    @Test
    void describeLogDirsReportsTheDataDirAndEachReplicasSize() throws Exception {
        String topic = topicWithRecords("log-dirs");
        String dataDir = broker.dataDir().toRealPath().toString();
        try (Admin admin = broker.admin()) {
            Map<Integer, Map<String, LogDirDescription>> all =
                    get(admin.describeLogDirs(List.of(1)).allDescriptions());
            assertEquals(List.of(1), List.copyOf(all.keySet()));
            assertEquals(List.of(dataDir), List.copyOf(all.get(1).keySet()));
            LogDirDescription logDir = all.get(1).get(dataDir);
            assertNull(logDir.error());
            long total = logDir.totalBytes().orElse(-1);
            long usable = logDir.usableBytes().orElse(-1);
            assertTrue(total > 0 && usable > 0 && usable <= total, () -> "total " + total + " usable " + usable);
            for (int p = 0; p < 3; p++) {
                ReplicaInfo replica = logDir.replicaInfos().get(new TopicPartition(topic, p));
                long size = segmentBytes(broker.dataDir().resolve(topic + "-" + p));
                assertEquals(size, replica.size(), "partition " + p);
                assertEquals(0, replica.offsetLag());
                assertFalse(replica.isFuture());
                assertEquals(p < 2, size > 0, "partition " + p + " holds records");
            }
        }
    }
}
