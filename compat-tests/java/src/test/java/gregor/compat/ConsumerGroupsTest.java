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

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.GroupSubscribedToTopicException;
import org.apache.kafka.common.errors.UnknownMemberIdException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Consumer groups with the classic protocol and KIP-848's consumer protocol:
 * subscribe, poll, commitSync and a restarted consumer resuming from the
 * committed offsets; the Admin's group calls on a live group, an empty one
 * and a simple one (offsets committed outside any membership).
 */
class ConsumerGroupsTest {
    // Rebalances start at once (Kafka's default 3 s delay would slow every join).
    @RegisterExtension
    static final GregorBroker broker = new GregorBroker("group.initial.rebalance.delay.ms", "0");

    /** A new two-partition topic holding v0..v5, three records on each partition. */
    private static String topicWithSixRecords(String prefix) throws Exception {
        String topic = unique(prefix);
        createTopic(broker, topic, 2);
        produce(topic, 0, 6);
        return topic;
    }

    /** Values vFROM..vTO-1, to partition i % 2. */
    private static void produce(String topic, int from, int to) throws Exception {
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(broker))) {
            for (int i = from; i < to; i++) {
                producer.send(new ProducerRecord<>(topic, i % 2, null, "v" + i));
            }
            producer.flush();
        }
    }

    private static KafkaConsumer<String, String> member(String group, String protocol) {
        return new KafkaConsumer<>(consumerConfig(broker, "group.id", group,
                "group.protocol", protocol, "client.id", "java-" + group,
                "auto.offset.reset", "earliest"));
    }

    /** Polls until COUNT records came and the member holds both partitions of TOPIC. */
    private static List<String> pollBoth(KafkaConsumer<String, String> consumer, String topic, int count) {
        List<String> values = poll(consumer, count).stream().map(ConsumerRecord::value)
                .collect(Collectors.toList());
        long deadline = System.nanoTime() + Clients.TIMEOUT.toNanos();
        while (consumer.assignment().size() < 2 && System.nanoTime() < deadline) {
            consumer.poll(Duration.ofMillis(100)).forEach(r -> values.add(r.value()));
        }
        assertEquals(Set.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1)),
                consumer.assignment());
        return values.stream().sorted().toList();
    }

    private static Map<Integer, String> offsets(Map<TopicPartition, OffsetAndMetadata> offsets) {
        Map<Integer, String> out = new TreeMap<>();
        offsets.forEach((p, o) -> out.put(p.partition(), o.offset() + " " + o.metadata()));
        return out;
    }

    /**
     * A member reads six records and commits; a second consumer in the same
     * group, started after the first has closed, sees those offsets as
     * committed and reads only the four records written since.
     */
    @ParameterizedTest(name = "group.protocol={0}")
    @ValueSource(strings = {"classic", "consumer"})
    void aRestartedConsumerResumesFromTheCommittedOffsets(String protocol) throws Exception {
        String topic = topicWithSixRecords("restart-" + protocol);
        String group = unique("restart-g");
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        try (KafkaConsumer<String, String> consumer = member(group, protocol)) {
            consumer.subscribe(List.of(topic));
            assertEquals(List.of("v0", "v1", "v2", "v3", "v4", "v5"), pollBoth(consumer, topic, 6));
            consumer.commitSync(Clients.TIMEOUT);
            assertEquals(Map.of(0, "3 ", 1, "3 "), offsets(consumer.committed(Set.of(p0, p1))));
        }
        produce(topic, 6, 10);
        try (KafkaConsumer<String, String> consumer = member(group, protocol)) {
            assertEquals(Map.of(0, "3 ", 1, "3 "), offsets(consumer.committed(Set.of(p0, p1))));
            consumer.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> records = poll(consumer, 4);
            assertEquals(List.of("v6", "v7", "v8", "v9"),
                    records.stream().map(ConsumerRecord::value).sorted().toList());
            assertTrue(records.stream().allMatch(r -> r.offset() >= 3), () -> "read " + records);
            consumer.commitSync(Clients.TIMEOUT);
            assertEquals(5, consumer.position(p0));
            assertEquals(5, consumer.position(p1));
        }
        try (Admin admin = broker.admin()) {
            assertEquals(Map.of(0, "5 ", 1, "5 "), offsets(get(admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata())));
        }
    }

    private static Optional<GroupListing> listed(Admin admin, ListGroupsOptions options,
            String group) throws Exception {
        return get(admin.listGroups(options).all()).stream()
                .filter(g -> g.groupId().equals(group)).findFirst();
    }

    private static ConsumerGroupDescription describe(Admin admin, String group) throws Exception {
        return get(admin.describeConsumerGroups(List.of(group)).describedGroups().get(group));
    }

    /**
     * While a member is in the group: listed, described (state, type,
     * assignor, coordinator, the member and its assignment), its offsets,
     * and the refusals a live group gets. Once it has left: listed with state
     * and type filters, described, offsets altered and one deleted, then the
     * group deleted.
     */
    @ParameterizedTest(name = "group.protocol={0}")
    @ValueSource(strings = {"classic", "consumer"})
    void adminListsDescribesAltersAndDeletesTheGroup(String protocol) throws Exception {
        String topic = topicWithSixRecords("admin-" + protocol);
        String group = unique("admin-g");
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        GroupType type = protocol.equals("classic") ? GroupType.CLASSIC : GroupType.CONSUMER;
        try (Admin admin = broker.admin()) {
            try (KafkaConsumer<String, String> consumer = member(group, protocol)) {
                consumer.subscribe(List.of(topic));
                assertEquals(6, pollBoth(consumer, topic, 6).size());
                consumer.commitSync(Clients.TIMEOUT);

                GroupListing live = listed(admin, ListGroupsOptions.forConsumerGroups(), group)
                        .orElseThrow();
                assertEquals(Optional.of(GroupState.STABLE), live.groupState());
                assertEquals(Optional.of(type), live.type());
                assertEquals("consumer", live.protocol());
                assertFalse(live.isSimpleConsumerGroup());

                ConsumerGroupDescription described = describe(admin, group);
                assertEquals(GroupState.STABLE, described.groupState());
                assertEquals(type, described.type());
                assertFalse(described.isSimpleConsumerGroup());
                assertEquals(protocol.equals("classic") ? "range" : "uniform", described.partitionAssignor());
                assertEquals(1, described.coordinator().id());
                assertEquals(1, described.members().size());
                MemberDescription member = described.members().iterator().next();
                assertEquals("java-" + group, member.clientId());
                assertEquals("/127.0.0.1", member.host());
                assertEquals(Optional.empty(), member.groupInstanceId());
                assertEquals(Set.of(p0, p1), member.assignment().topicPartitions());

                assertEquals(Map.of(0, "3 ", 1, "3 "), offsets(get(admin.listConsumerGroupOffsets(group)
                        .partitionsToOffsetAndMetadata())));
                assertFails(UnknownMemberIdException.class, admin.alterConsumerGroupOffsets(group,
                        Map.of(p0, new OffsetAndMetadata(0))).all());
                assertFails(GroupSubscribedToTopicException.class,
                        admin.deleteConsumerGroupOffsets(group, Set.of(p0)).all());
                assertFails(GroupNotEmptyException.class, admin.deleteConsumerGroups(List.of(group)).all());
            }

            GroupListing empty = listed(admin, ListGroupsOptions.forConsumerGroups(), group).orElseThrow();
            assertEquals(Optional.of(GroupState.EMPTY), empty.groupState());
            assertEquals(Optional.of(type), empty.type());
            assertTrue(listed(admin, ListGroupsOptions.forConsumerGroups()
                    .inGroupStates(Set.of(GroupState.EMPTY)), group).isPresent());
            assertFalse(listed(admin, ListGroupsOptions.forConsumerGroups()
                    .inGroupStates(Set.of(GroupState.STABLE)), group).isPresent());
            assertEquals(type == GroupType.CLASSIC, listed(admin, ListGroupsOptions.forConsumerGroups()
                    .withTypes(Set.of(GroupType.CLASSIC)), group).isPresent());
            assertEquals(type == GroupType.CONSUMER, listed(admin, ListGroupsOptions.forConsumerGroups()
                    .withTypes(Set.of(GroupType.CONSUMER)), group).isPresent());

            ConsumerGroupDescription described = describe(admin, group);
            assertEquals(GroupState.EMPTY, described.groupState());
            assertEquals(type, described.type());
            // An empty classic group no longer has a protocol; a consumer group keeps its assignor.
            assertEquals(protocol.equals("classic") ? "" : "uniform", described.partitionAssignor());
            assertEquals(List.of(), List.copyOf(described.members()));

            get(admin.alterConsumerGroupOffsets(group, Map.of(
                    p0, new OffsetAndMetadata(1), p1, new OffsetAndMetadata(2, "moved"))).all());
            assertEquals(Map.of(0, "1 ", 1, "2 moved"), offsets(get(admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata())));
            get(admin.deleteConsumerGroupOffsets(group, Set.of(p0)).all());
            assertEquals(Map.of(1, "2 moved"), offsets(get(admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata())));

            get(admin.deleteConsumerGroups(List.of(group)).all());
            assertFalse(listed(admin, ListGroupsOptions.forConsumerGroups(), group).isPresent());
            assertFails(GroupIdNotFoundException.class, admin.deleteConsumerGroups(List.of(group)).all());
            assertFails(GroupIdNotFoundException.class,
                    admin.describeConsumerGroups(List.of(group)).describedGroups().get(group));
        }
    }

    /**
     * Offsets committed by a consumer that assigned itself partitions (no
     * membership) make a simple classic group: listed and described as one,
     * then deleted; deleted twice or described after, it is not found.
     */
    @Test
    void offsetsCommittedWithoutMembershipMakeASimpleGroup() throws Exception {
        String topic = topicWithSixRecords("simple");
        String group = unique("simple-g");
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(
                consumerConfig(broker, "group.id", group))) {
            consumer.assign(List.of(p0, p1));
            consumer.commitSync(Map.of(p0, new OffsetAndMetadata(2), p1, new OffsetAndMetadata(1)),
                    Clients.TIMEOUT);
        }
        try (Admin admin = broker.admin()) {
            GroupListing listing = listed(admin, ListGroupsOptions.forConsumerGroups(), group)
                    .orElseThrow();
            assertEquals(Optional.of(GroupState.EMPTY), listing.groupState());
            assertEquals(Optional.of(GroupType.CLASSIC), listing.type());
            assertEquals("", listing.protocol());
            assertTrue(listing.isSimpleConsumerGroup());
            ConsumerGroupDescription described = describe(admin, group);
            assertEquals(GroupState.EMPTY, described.groupState());
            assertEquals(GroupType.CLASSIC, described.type());
            assertTrue(described.isSimpleConsumerGroup());
            assertEquals(List.of(), List.copyOf(described.members()));
            assertEquals(Map.of(0, "2 ", 1, "1 "), offsets(get(admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata())));

            get(admin.deleteConsumerGroups(List.of(group)).all());
            assertFails(GroupIdNotFoundException.class, admin.deleteConsumerGroups(List.of(group)).all());
            assertFails(GroupIdNotFoundException.class,
                    admin.describeConsumerGroups(List.of(group)).describedGroups().get(group));
            assertEquals(Map.of(), get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata()));
            assertFalse(listed(admin, ListGroupsOptions.forConsumerGroups(), group).isPresent());
        }
    }
}
