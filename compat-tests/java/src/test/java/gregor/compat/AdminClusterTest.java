package gregor.compat;

import static gregor.compat.Clients.assertFails;
import static gregor.compat.Clients.createTopic;
import static gregor.compat.Clients.get;
import static gregor.compat.Clients.unique;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ElectLeadersResult;
import org.apache.kafka.clients.admin.FeatureMetadata;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.errors.ElectionNotNeededException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The Admin client's cluster calls on one broker: describeCluster, describeFeatures, electLeaders. */
class AdminClusterTest {
    @RegisterExtension
    static final GregorBroker broker = new GregorBroker();

    /**
     * The cluster id of meta.properties, node 1 as both controller and only
     * node at the advertised address, and, with no authorizer, every
     * operation the cluster resource has.
     */
    @Test
    void describeClusterNamesTheClusterItsControllerAndNodes() throws Exception {
        Properties meta = new Properties();
        try (InputStream in = Files.newInputStream(broker.dataDir().resolve("meta.properties"))) {
            meta.load(in);
        }
        try (Admin admin = broker.admin()) {
            DescribeClusterResult cluster = admin.describeCluster(
                    new DescribeClusterOptions().includeAuthorizedOperations(true));
            assertEquals(meta.getProperty("cluster.id"), get(cluster.clusterId()));
            assertEquals(1, get(cluster.controller()).id());
            List<Node> nodes = List.copyOf(get(cluster.nodes()));
            assertEquals(1, nodes.size());
            Node node = nodes.get(0);
            assertEquals(1, node.id());
            assertEquals("127.0.0.1", node.host());
            assertEquals(broker.port(), node.port());
            assertNull(node.rack());
            assertEquals(Set.of(AclOperation.ALTER, AclOperation.ALTER_CONFIGS, AclOperation.CLUSTER_ACTION,
                    AclOperation.CREATE, AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS,
                    AclOperation.IDEMPOTENT_WRITE), get(cluster.authorizedOperations()));
            // Without asking for them, none.
            assertNull(get(admin.describeCluster().authorizedOperations()));
        }
    }

    @Test
    void describeFeaturesReportsTheFinalizedAndSupportedVersions() throws Exception {
        try (Admin admin = broker.admin()) {
            FeatureMetadata features = get(admin.describeFeatures().featureMetadata());
            Map<String, String> finalized = new TreeMap<>();
            features.finalizedFeatures().forEach((name, range) ->
                    finalized.put(name, range.minVersionLevel() + ".." + range.maxVersionLevel()));
            Map<String, String> supported = new TreeMap<>();
            features.supportedFeatures().forEach((name, range) ->
                    supported.put(name, range.minVersion() + ".." + range.maxVersion()));
            assertEquals(Map.of("group.version", "1..1", "metadata.version", "33..33",
                    "streams.version", "1..1", "transaction.version", "2..2"), finalized);
            assertEquals(Map.of("group.version", "0..1", "kraft.version", "0..1",
                    "metadata.version", "7..33", "streams.version", "0..1",
                    "transaction.version", "0..2"), supported);
            Optional<Long> epoch = features.finalizedFeaturesEpoch();
            assertTrue(epoch.isPresent() && epoch.get() >= 0, () -> "finalized features epoch " + epoch);
        }
    }

    /**
     * On one broker every partition already has its preferred leader:
     * a preferred election is not needed (per partition, and as all()'s
     * failure), an election over every partition (null) reports none of
     * them, an unclean one is not needed while the leader lives, and an
     * unknown partition is reported as unknown.
     */
    @Test
    void electLeadersOnOneBrokerIsNeverNeeded() throws Exception {
        String topic = unique("elect");
        createTopic(broker, topic, 2);
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        try (Admin admin = broker.admin()) {
            ElectLeadersResult preferred = admin.electLeaders(ElectionType.PREFERRED, Set.of(p0, p1));
            Map<TopicPartition, Optional<Throwable>> results = get(preferred.partitions());
            assertEquals(Set.of(p0, p1), results.keySet());
            for (Optional<Throwable> result : results.values()) {
                assertInstanceOf(ElectionNotNeededException.class, result.orElse(null));
            }
            assertFails(ElectionNotNeededException.class, preferred.all());

            // every partition: only those whose leader moved are listed
            assertEquals(List.of(), get(admin.electLeaders(ElectionType.PREFERRED, null).partitions())
                    .keySet().stream().filter(p -> p.topic().equals(topic)).toList());

            Map<TopicPartition, Optional<Throwable>> unclean =
                    get(admin.electLeaders(ElectionType.UNCLEAN, Set.of(p0)).partitions());
            assertEquals(Set.of(p0), unclean.keySet());
            assertInstanceOf(ElectionNotNeededException.class, unclean.get(p0).orElse(null));

            TopicPartition missing = new TopicPartition(topic, 7);
            ElectLeadersResult unknown = admin.electLeaders(ElectionType.PREFERRED, Set.of(missing));
            Map<TopicPartition, Optional<Throwable>> missingResults = get(unknown.partitions());
            assertEquals(Set.of(missing), missingResults.keySet());
            assertInstanceOf(UnknownTopicOrPartitionException.class, missingResults.get(missing).orElse(null));
            assertFails(UnknownTopicOrPartitionException.class, unknown.all());
        }
    }
}
