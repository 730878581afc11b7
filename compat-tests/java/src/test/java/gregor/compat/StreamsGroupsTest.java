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
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.ListStreamsGroupOffsetsSpec;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.StreamsGroupDescription;
import org.apache.kafka.clients.admin.StreamsGroupMemberAssignment;
import org.apache.kafka.clients.admin.StreamsGroupMemberDescription;
import org.apache.kafka.clients.admin.StreamsGroupSubtopologyDescription;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.InconsistentGroupProtocolException;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.tools.streams.StreamsGroupCommand;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * KIP-1071 streams groups: Kafka Streams 4.4 applications with
 * {@code group.protocol=streams}, whose tasks the broker assigns and whose
 * internal topics the broker creates. Two instances share the tasks, one
 * leaving hands its tasks to the other without double counting
 * (exactly_once_v2); the Admin and kafka-streams-groups.sh list, describe
 * and delete the group; consumers of the other protocols cannot join it.
 *
 * <p>Every application is a word count: INPUT (4 partitions) split into
 * words, regrouped by word through {@code APP-words-repartition}, counted in
 * the store {@code counts} (changelog {@code APP-counts-changelog}), each
 * count update sent to OUTPUT. So two subtopologies ("0": input to the
 * repartition topic, "1": repartition topic to the store and OUTPUT) of 4
 * tasks each.
 */
class StreamsGroupsTest {
    // Streams groups form at once and their members heartbeat every 200 ms
    // (rather than after 3 s and every 5 s), and a new target assignment is
    // computed at each change: each test's rebalances take well under a second.
    @RegisterExtension
    static final GregorBroker broker = new GregorBroker(
            "group.initial.rebalance.delay.ms", "0",
            "group.streams.initial.rebalance.delay.ms", "0",
            "group.streams.min.heartbeat.interval.ms", "200",
            "group.streams.heartbeat.interval.ms", "200",
            "group.streams.assignment.interval.ms", "0");

    private static final int PARTITIONS = 4;
    private static final String REPARTITION = "words";
    private static final String STORE = "counts";
    /** Every task of both subtopologies: "0_0" .. "1_3". */
    private static final Set<String> ALL_TASKS = Stream.of("0", "1")
            .flatMap(s -> IntStream.range(0, PARTITIONS).mapToObj(p -> s + "_" + p))
            .collect(Collectors.toCollection(TreeSet::new));

    private static final List<String> LINES_1 = List.of(
            "the quick brown fox", "jumps over the lazy dog", "The Dog barks",
            "a fox and a dog", "quick quick QUICK", "the end");
    private static final List<String> LINES_2 = List.of("the fox is back", "a new dog", "quick");
    private static final List<String> LINES_3 = List.of("the last fox", "zebra");

    @TempDir
    Path stateDirs;

    /** Every instance a test started; those it did not close are closed after it. */
    private final List<KafkaStreams> started = new ArrayList<>();

    @AfterEach
    void closeInstances() {
        for (KafkaStreams streams : started) {
            leave(streams);
        }
    }

    /** One application: its id (the group) and topics, and the lines sent to its input. */
    private static final class App {
        final String id = unique("streams-app");
        final String input = unique("streams-in");
        final String output = unique("streams-counts");
        final String repartition = id + "-" + REPARTITION + "-repartition";
        final String changelog = id + "-" + STORE + "-changelog";
        final List<String> lines = new ArrayList<>();

        App() throws Exception {
            createTopic(broker, input, PARTITIONS);
            createTopic(broker, output, 2);
        }

        /** Sends MORE lines to the input (line N, counting from the first ever, to partition N % 4). */
        void produce(List<String> more) throws Exception {
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(broker))) {
                for (String line : more) {
                    int n = lines.size();
                    lines.add(line);
                    producer.send(new ProducerRecord<>(input, n % PARTITIONS, "line-" + n, line));
                }
                producer.flush();
            }
        }

        /** For each word of the lines so far, the count updates a correct run sends: 1, 2, .., n. */
        Map<String, List<Long>> expectedUpdates() {
            Map<String, Long> totals = new TreeMap<>();
            for (String line : lines) {
                for (String word : line.toLowerCase(Locale.ROOT).split("\\s+")) {
                    totals.merge(word, 1L, Long::sum);
                }
            }
            Map<String, List<Long>> updates = new TreeMap<>();
            totals.forEach((word, n) -> updates.put(word,
                    IntStream.rangeClosed(1, n.intValue()).mapToObj(i -> (long) i).toList()));
            return updates;
        }
    }

    /** A started instance of APP's word count, with its own state directory NAME. */
    private KafkaStreams start(App app, String name) {
        Properties props = broker.clientConfig();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, app.id);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDirs.resolve(name).toString());
        props.put(StreamsConfig.GROUP_PROTOCOL_CONFIG, "streams");
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        // No record cache: every input word gives one count update.
        props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");

        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(app.input, Consumed.with(Serdes.String(), Serdes.String()))
                .flatMapValues(line -> Arrays.asList(line.toLowerCase(Locale.ROOT).split("\\s+")))
                .groupBy((key, word) -> word, Grouped.with(REPARTITION, Serdes.String(), Serdes.String()))
                .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as(STORE)
                        .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
                .toStream()
                .mapValues(count -> Long.toString(count))
                .to(app.output, Produced.with(Serdes.String(), Serdes.String()));
        KafkaStreams streams = new KafkaStreams(builder.build(), props);
        started.add(streams);
        streams.start();
        return streams;
    }

    /** Closes STREAMS, leaving the group (Streams' default keeps a member until its session ends). */
    private static boolean leave(KafkaStreams streams) {
        return streams.close(CloseOptions.timeout(Duration.ofSeconds(20))
                .withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
    }

    /** The client id of STREAMS' (only) stream thread's consumer: its member's client id. */
    private static String memberClientId(KafkaStreams streams) {
        return streams.metadataForLocalThreads().iterator().next().consumerClientId();
    }

    private static StreamsGroupDescription describe(Admin admin, String group) throws Exception {
        return get(admin.describeStreamsGroups(List.of(group)).describedGroups().get(group));
    }

    /** Describes GROUP until CONDITION holds (or fails after Clients.TIMEOUT with the last description). */
    private static StreamsGroupDescription awaitGroup(Admin admin, String group,
            Predicate<StreamsGroupDescription> condition, String what) throws Exception {
        long deadline = System.nanoTime() + Clients.TIMEOUT.toNanos();
        Object last = null;
        while (System.nanoTime() < deadline) {
            try {
                StreamsGroupDescription described = describe(admin, group);
                if (condition.test(described)) {
                    return described;
                }
                last = described;
            } catch (ExecutionException e) {
                // Not yet: the group exists from its first member's first heartbeat.
                if (!(e.getCause() instanceof GroupIdNotFoundException)) {
                    throw e;
                }
                last = e.getCause();
            }
            Thread.sleep(100);
        }
        return fail("streams group " + group + " not " + what + " within " + Clients.TIMEOUT
                + "; last described as " + last);
    }

    /** Stable, with N members. */
    private static StreamsGroupDescription awaitStable(Admin admin, String group, int members)
            throws Exception {
        return awaitGroup(admin, group, d -> d.groupState() == GroupState.STABLE
                && d.members().size() == members, "Stable with " + members + " member(s)");
    }

    /** Tasks as "SUBTOPOLOGY_PARTITION". */
    private static Set<String> tasks(List<StreamsGroupMemberAssignment.TaskIds> taskIds) {
        Set<String> out = new TreeSet<>();
        for (StreamsGroupMemberAssignment.TaskIds ids : taskIds) {
            ids.partitions().forEach(p -> out.add(ids.subtopologyId() + "_" + p));
        }
        return out;
    }

    private static Set<String> activeTasks(StreamsGroupMemberDescription member) {
        return tasks(member.assignment().activeTasks());
    }

    /**
     * What a stable group's members must show: each at the target
     * assignment (its tasks of every kind are its target's, its epoch the
     * target assignment's), no standby or warm-up tasks (none configured),
     * the active tasks disjoint and together every task.
     */
    private static void assertReconciledCoveringAllTasks(StreamsGroupDescription group) {
        Set<String> union = new TreeSet<>();
        int total = 0;
        for (StreamsGroupMemberDescription member : group.members()) {
            StreamsGroupMemberAssignment now = member.assignment();
            StreamsGroupMemberAssignment target = member.targetAssignment();
            assertEquals(tasks(target.activeTasks()), tasks(now.activeTasks()), member::toString);
            assertEquals(tasks(target.standbyTasks()), tasks(now.standbyTasks()), member::toString);
            assertEquals(tasks(target.warmupTasks()), tasks(now.warmupTasks()), member::toString);
            assertEquals(Set.of(), tasks(now.standbyTasks()), member::toString);
            assertEquals(Set.of(), tasks(now.warmupTasks()), member::toString);
            assertEquals(group.targetAssignmentEpoch(), member.memberEpoch(), member::toString);
            union.addAll(activeTasks(member));
            total += activeTasks(member).size();
        }
        assertEquals(ALL_TASKS, union, group::toString);
        assertEquals(ALL_TASKS.size(), total, () -> "a task active on two members: " + group);
        assertEquals(group.groupEpoch(), group.targetAssignmentEpoch(), group::toString);
    }

    /**
     * The count updates on APP's output, read with read_committed, by word
     * in the order sent; waits until they are what the lines so far should
     * give (an update missing or counted twice fails after Clients.TIMEOUT).
     */
    private static void awaitCounts(App app) throws Exception {
        Map<String, List<Long>> expected = app.expectedUpdates();
        long deadline = System.nanoTime() + Clients.TIMEOUT.toNanos();
        Map<String, List<Long>> got;
        do {
            got = new TreeMap<>();
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(
                    consumerConfig(broker, "isolation.level", "read_committed"))) {
                for (ConsumerRecord<String, String> record : readFromBeginning(consumer, List.of(
                        new TopicPartition(app.output, 0), new TopicPartition(app.output, 1)))) {
                    got.computeIfAbsent(record.key(), k -> new ArrayList<>())
                            .add(Long.parseLong(record.value()));
                }
            }
            if (got.equals(expected)) {
                return;
            }
            Thread.sleep(200);
        } while (System.nanoTime() < deadline);
        assertEquals(expected, got, "count updates on " + app.output + " (read_committed)");
    }

    private static Optional<GroupListing> listed(Admin admin, ListGroupsOptions options, String group)
            throws Exception {
        return get(admin.listGroups(options).all()).stream()
                .filter(g -> g.groupId().equals(group)).findFirst();
    }

    /**
     * Two instances of one application (separate state directories) share
     * its 8 tasks: the group is listed as a streams group and described as
     * Stable with two members of distinct processes, each at its target
     * assignment, the active tasks disjoint and covering both subtopologies.
     * The broker created the repartition and changelog topics with the
     * input's partition count (the changelog compacted), and the counts on
     * the output are exactly right.
     */
    @Test
    void twoInstancesShareTheTasks() throws Exception {
        App app = new App();
        app.produce(LINES_1);
        KafkaStreams a = start(app, "a");
        KafkaStreams b = start(app, "b");
        try (Admin admin = broker.admin()) {
            StreamsGroupDescription group = awaitStable(admin, app.id, 2);
            assertEquals(app.id, group.groupId());
            assertEquals(1, group.coordinator().id());
            assertReconciledCoveringAllTasks(group);
            // Both instances have tasks (the sticky assignor balances them: 4 each).
            for (StreamsGroupMemberDescription member : group.members()) {
                assertEquals(4, activeTasks(member).size(), group::toString);
                assertEquals(app.id + "-" + member.processId() + "-StreamThread-1-consumer",
                        member.clientId());
                assertFalse(member.isClassic());
                assertEquals("/127.0.0.1", member.clientHost());
                assertEquals(group.topologyEpoch(), member.topologyEpoch());
            }
            Set<String> processes = group.members().stream()
                    .map(StreamsGroupMemberDescription::processId).collect(Collectors.toSet());
            assertEquals(2, processes.size(), group::toString);
            assertEquals(Set.of(memberClientId(a), memberClientId(b)), group.members().stream()
                    .map(StreamsGroupMemberDescription::clientId).collect(Collectors.toSet()));

            // The topology as the members sent it.
            Map<String, StreamsGroupSubtopologyDescription> subtopologies = new TreeMap<>();
            group.subtopologies().forEach(s -> subtopologies.put(s.subtopologyId(), s));
            assertEquals(Set.of("0", "1"), subtopologies.keySet(), group::toString);
            assertEquals(List.of(app.input), subtopologies.get("0").sourceTopics());
            assertEquals(List.of(app.repartition), subtopologies.get("0").repartitionSinkTopics());
            assertEquals(Set.of(app.repartition), subtopologies.get("1").repartitionSourceTopics().keySet());
            assertEquals(Set.of(app.changelog), subtopologies.get("1").stateChangelogTopics().keySet());

            GroupListing listing = listed(admin, ListGroupsOptions.forStreamsGroups(), app.id)
                    .orElseThrow(() -> new AssertionError(app.id + " not listed as a streams group"));
            assertEquals(Optional.of(GroupType.STREAMS), listing.type());
            assertEquals(Optional.of(GroupState.STABLE), listing.groupState());
            assertEquals("streams", listing.protocol());
            assertFalse(listed(admin, ListGroupsOptions.forConsumerGroups(), app.id).isPresent());

            // The internal topics, created by the broker, as partitioned as the input.
            Map<String, TopicDescription> topics = get(admin.describeTopics(
                    List.of(app.repartition, app.changelog)).allTopicNames());
            assertEquals(PARTITIONS, topics.get(app.repartition).partitions().size());
            assertEquals(PARTITIONS, topics.get(app.changelog).partitions().size());
            Map<ConfigResource, Config> configs = get(admin.describeConfigs(List.of(
                    new ConfigResource(ConfigResource.Type.TOPIC, app.changelog),
                    new ConfigResource(ConfigResource.Type.TOPIC, app.repartition))).all());
            assertEquals("compact", configs.get(new ConfigResource(ConfigResource.Type.TOPIC,
                    app.changelog)).get("cleanup.policy").value());
            assertEquals("delete", configs.get(new ConfigResource(ConfigResource.Type.TOPIC,
                    app.repartition)).get("cleanup.policy").value());

            awaitCounts(app);
        }
    }

    /**
     * One of two instances closes, leaving the group, while records are
     * still coming: every task moves to the other (described as the only
     * member, at its target, owning all 8), which goes on processing; with
     * exactly_once_v2 each word's count updates are exactly 1, 2, .., n:
     * nothing the leaver processed is counted again, nothing lost.
     */
    @Test
    void theTasksOfALeavingInstanceMoveToTheOther() throws Exception {
        App app = new App();
        app.produce(LINES_1);
        KafkaStreams a = start(app, "a");
        KafkaStreams b = start(app, "b");
        try (Admin admin = broker.admin()) {
            StreamsGroupDescription two = awaitStable(admin, app.id, 2);
            assertReconciledCoveringAllTasks(two);
            awaitCounts(app);

            app.produce(LINES_2);
            assertTrue(leave(b), "close() timed out");
            StreamsGroupDescription one = awaitStable(admin, app.id, 1);
            StreamsGroupMemberDescription survivor = one.members().iterator().next();
            assertEquals(memberClientId(a), survivor.clientId());
            assertEquals(ALL_TASKS, activeTasks(survivor), one::toString);
            assertReconciledCoveringAllTasks(one);
            assertTrue(one.groupEpoch() > two.groupEpoch(), () -> two + " then " + one);

            app.produce(LINES_3);
            awaitCounts(app);
            assertEquals(KafkaStreams.State.RUNNING, a.state());
        }
    }

    /**
     * Runs kafka-streams-groups.sh's class in this JVM with ARGS (after
     * --bootstrap-server); returns what it printed, asserting it exited 0.
     */
    private static String streamsGroupsTool(String... args) {
        List<String> all = new ArrayList<>(List.of("--bootstrap-server", broker.bootstrap()));
        all.addAll(List.of(args));
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        int status;
        synchronized (StreamsGroupsTest.class) {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            try {
                status = StreamsGroupCommand.execute(all.toArray(String[]::new));
            } finally {
                System.setOut(stdout);
            }
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, () -> "kafka-streams-groups " + String.join(" ", args) + ":\n" + out);
        return out;
    }

    private static final Pattern PRINTED_TASKS = Pattern.compile("(\\w+):\\[([0-9,]*)\\];");

    /** Tasks as the tool prints them ("0:[0,2]; 1:[0,2];"), as "SUBTOPOLOGY_PARTITION". */
    private static Set<String> printedTasks(List<String> tokens) {
        Set<String> out = new TreeSet<>();
        for (String token : tokens) {
            Matcher m = PRINTED_TASKS.matcher(token);
            assertTrue(m.matches(), () -> "not tasks: " + token + " in " + tokens);
            for (String partition : m.group(2).split(",")) {
                if (!partition.isEmpty()) {
                    out.add(m.group(1) + "_" + partition);
                }
            }
        }
        return out;
    }

    /** The lines of OUT, each split at runs of blanks. */
    private static List<List<String>> rows(String out) {
        return out.lines().map(String::strip).filter(l -> !l.isEmpty())
                .map(l -> List.of(l.split("\\s+"))).toList();
    }

    /**
     * kafka-streams-groups.sh: --list names the live group (and with
     * --state, as Stable); --describe --state shows its coordinator,
     * assignor (sticky), state and two members; --describe --members each
     * member's id, process, client id and active tasks, as the Admin
     * describes them. A live group cannot be deleted (the Admin's
     * deleteStreamsGroups fails with GroupNotEmptyException: the broker's
     * NON_EMPTY_GROUP; the tool refuses it too). Once both instances left,
     * the group is Empty (tool and Admin agree) and keeps its committed
     * offsets and its topology; --delete --delete-all-internal-topics
     * deletes it with its offsets and (found through that topology) its
     * repartition and changelog topics, and it is no longer listed or
     * described.
     */
    @Test
    void theStreamsGroupsToolListsDescribesAndDeletesTheGroup() throws Exception {
        App app = new App();
        app.produce(LINES_1);
        KafkaStreams a = start(app, "a");
        KafkaStreams b = start(app, "b");
        try (Admin admin = broker.admin()) {
            StreamsGroupDescription group = awaitStable(admin, app.id, 2);
            awaitCounts(app);

            assertTrue(rows(streamsGroupsTool("--list")).contains(List.of(app.id)));
            List<List<String>> list = rows(streamsGroupsTool("--list", "--state"));
            assertEquals(List.of("GROUP", "STATE"), list.get(0));
            assertTrue(list.contains(List.of(app.id, "Stable")), list::toString);

            List<List<String>> state = rows(streamsGroupsTool("--describe", "--group", app.id, "--state"));
            assertEquals(List.of(List.of("GROUP", "COORDINATOR", "(ID)", "ASSIGNOR", "STATE", "#MEMBERS"),
                    List.of(app.id, broker.bootstrap(), "(1)", "sticky", "Stable", "2")), state);

            String members = streamsGroupsTool("--describe", "--group", app.id, "--members");
            List<List<String>> memberRows = rows(members);
            for (StreamsGroupMemberDescription member : group.members()) {
                List<String> row = memberRows.stream().filter(r -> r.contains(member.memberId()))
                        .findFirst().orElseThrow(() -> new AssertionError(member + " not in\n" + members));
                assertEquals(List.of(app.id, member.memberId(), member.processId(), member.clientId(),
                        "ACTIVE:"), row.subList(0, 5), members);
                assertEquals(activeTasks(member), printedTasks(row.subList(5, row.size())), members);
            }

            assertFails(GroupNotEmptyException.class, admin.deleteStreamsGroups(List.of(app.id)).all());
            assertTrue(streamsGroupsTool("--delete", "--group", app.id)
                    .contains("Streams group '" + app.id + "' is not EMPTY."));

            assertTrue(leave(a), "close() timed out");
            assertTrue(leave(b), "close() timed out");
            StreamsGroupDescription empty = awaitGroup(admin, app.id,
                    d -> d.groupState() == GroupState.EMPTY, "Empty");
            assertEquals(List.of(), List.copyOf(empty.members()));
            String emptyState = streamsGroupsTool("--describe", "--group", app.id, "--state");
            assertTrue(emptyState.contains("Streams group '" + app.id + "' has no active members."),
                    emptyState);
            assertTrue(rows(emptyState).contains(List.of(app.id, broker.bootstrap(), "(1)", "sticky", "Empty", "0")),
                    emptyState);
            assertTrue(rows(streamsGroupsTool("--list", "--state")).contains(List.of(app.id, "Empty")));
            // Its offsets survive the members.
            assertEquals(inputEnds(admin, app), committedInput(admin, app));

            // The group keeps its topology: the tool finds the internal topics there.
            assertEquals(Set.of("0", "1"), empty.subtopologies().stream()
                    .map(StreamsGroupSubtopologyDescription::subtopologyId).collect(Collectors.toSet()),
                    empty::toString);
            String deleted = streamsGroupsTool("--delete", "--group", app.id, "--delete-all-internal-topics");
            assertTrue(deleted.contains("Deletion of requested streams groups ('" + app.id
                    + "') was successful."), deleted);
            assertTrue(deleted.contains("Deletion of associated internal topics of the streams groups ('"
                    + app.id + "') was successful."), deleted);
            Set<String> topics = get(admin.listTopics().names());
            assertFalse(topics.contains(app.repartition), topics::toString);
            assertFalse(topics.contains(app.changelog), topics::toString);
            assertTrue(topics.contains(app.input), topics::toString);
            assertFalse(rows(streamsGroupsTool("--list")).contains(List.of(app.id)));
            assertFalse(listed(admin, new ListGroupsOptions(), app.id).isPresent());
            assertFails(GroupIdNotFoundException.class,
                    admin.describeStreamsGroups(List.of(app.id)).describedGroups().get(app.id));
            assertEquals(Map.of(), get(admin.listStreamsGroupOffsets(
                    Map.of(app.id, new ListStreamsGroupOffsetsSpec())).partitionsToOffsetAndMetadata(app.id)));
        }
    }

    /** The end offset of each partition of APP's input, by partition. */
    private static Map<Integer, Long> inputEnds(Admin admin, App app) throws Exception {
        Map<Integer, Long> ends = new TreeMap<>();
        get(admin.listOffsets(IntStream.range(0, PARTITIONS).boxed().collect(Collectors.toMap(
                p -> new TopicPartition(app.input, p), p -> OffsetSpec.latest()))).all())
                .forEach((tp, info) -> ends.put(tp.partition(), info.offset()));
        return ends;
    }

    /** The group's committed offset of each partition of APP's input, by partition. */
    private static Map<Integer, Long> committedInput(Admin admin, App app) throws Exception {
        Map<Integer, Long> committed = new TreeMap<>();
        get(admin.listStreamsGroupOffsets(Map.of(app.id, new ListStreamsGroupOffsetsSpec()))
                .partitionsToOffsetAndMetadata(app.id)).forEach((tp, offset) -> {
                    if (offset != null && tp.topic().equals(app.input)) {
                        committed.put(tp.partition(), offset.offset());
                    }
                });
        return committed;
    }

    /** A consumer of the given group.protocol joining GROUP by subscribing to TOPIC: what its poll throws. */
    private static Exception joinFails(String protocol, String group, String topic) {
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig(broker,
                "group.id", group, "group.protocol", protocol, "auto.offset.reset", "earliest"))) {
            consumer.subscribe(List.of(topic));
            return assertThrows(Exception.class, () -> {
                long deadline = System.nanoTime() + Clients.TIMEOUT.toNanos();
                while (System.nanoTime() < deadline) {
                    consumer.poll(Duration.ofMillis(100));
                }
            }, () -> "a " + protocol + " consumer polled in streams group " + group + " for "
                    + Clients.TIMEOUT + " without an error; assignment " + consumer.assignment());
        }
    }

    /**
     * The id of a live streams group is no consumer group: a consumer with
     * group.protocol=consumer is refused (ConsumerGroupHeartbeat:
     * GROUP_ID_NOT_FOUND, "Group G is not a consumer group."), one with the
     * classic protocol too (JoinGroup: INCONSISTENT_GROUP_PROTOCOL), and the
     * Admin's describeConsumerGroups and describeClassicGroups say it is not
     * of their kind. The streams group goes on unaffected: same epoch, same
     * member with every task, still processing.
     */
    @Test
    void consumersOfOtherProtocolsCannotJoinAStreamsGroup() throws Exception {
        App app = new App();
        app.produce(LINES_1);
        KafkaStreams a = start(app, "a");
        try (Admin admin = broker.admin()) {
            assertReconciledCoveringAllTasks(awaitStable(admin, app.id, 1));
            awaitCounts(app);
            StreamsGroupDescription before = describe(admin, app.id);
            assertEquals(GroupState.STABLE, before.groupState());

            Exception consumer = joinFails("consumer", app.id, app.input);
            assertInstanceOf(GroupIdNotFoundException.class, consumer, consumer::toString);
            assertEquals("Group " + app.id + " is not a consumer group.", consumer.getMessage());
            Exception classic = joinFails("classic", app.id, app.input);
            assertInstanceOf(InconsistentGroupProtocolException.class, classic, classic::toString);

            GroupIdNotFoundException notConsumer = assertFails(GroupIdNotFoundException.class,
                    admin.describeConsumerGroups(List.of(app.id)).describedGroups().get(app.id));
            assertEquals("Group " + app.id + " is not a consumer group.", notConsumer.getMessage());
            // (This handler gives GROUP_ID_NOT_FOUND's own message, not the broker's.)
            assertFails(GroupIdNotFoundException.class,
                    admin.describeClassicGroups(List.of(app.id)).describedGroups().get(app.id));

            StreamsGroupDescription after = describe(admin, app.id);
            assertEquals(GroupState.STABLE, after.groupState());
            assertEquals(before.groupEpoch(), after.groupEpoch());
            assertEquals(1, after.members().size());
            StreamsGroupMemberDescription member = after.members().iterator().next();
            assertEquals(before.members().iterator().next().memberId(), member.memberId());
            assertEquals(memberClientId(a), member.clientId());
            assertEquals(ALL_TASKS, activeTasks(member));
            app.produce(LINES_2);
            awaitCounts(app);
            assertEquals(KafkaStreams.State.RUNNING, a.state());
        }
    }
}
