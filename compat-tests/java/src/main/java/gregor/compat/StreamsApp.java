package gregor.compat;

import java.io.FileInputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * A Kafka Streams application driven from the Python compatibility tests
 * (test_kafka_streams.py): a word count with a repartition topic and a
 * state store (so a changelog topic), and a stateless branch.
 *
 * <pre>
 * StreamsApp CONFIG_FILE APP_ID STATE_DIR GUARANTEE INPUT OUTPUT OUTPUT_UPPER EXPECTED DEADLINE_S [LINGER_MS]
 * </pre>
 *
 * <ul>
 * <li>INPUT (String key and value) is split into words; the words are
 *     grouped by word (through {@code APP_ID-words-repartition}) and counted
 *     in the store {@code counts} (changelog {@code APP_ID-counts-changelog});
 *     every count update goes to OUTPUT as (word, count as a decimal string).
 *     The record cache is off, so each input word gives one update.</li>
 * <li>INPUT's values, upper-cased, go to OUTPUT_UPPER with their keys.</li>
 * </ul>
 *
 * GUARANTEE is a {@code processing.guarantee} (exactly_once_v2 or
 * at_least_once). The application runs until EXPECTED records have been
 * sent to OUTPUT and OUTPUT_UPPER together (by this run), keeps running
 * LINGER_MS more (0 by default), then closes cleanly, which commits what it
 * processed. It prints one line per fact:
 *
 * <pre>
 * state STATE                  -- each state the client enters (RUNNING, ...)
 * restored STORE PARTITION N   -- a state store partition restored from its changelog
 * sent N                       -- records this run sent to OUTPUT and OUTPUT_UPPER
 * halted                       -- with {@value #HALT}: the process halts now
 * count WORD N                 -- the store's content (an interactive query), by word
 * closed                       -- close() returned, the client NOT_RUNNING
 * </pre>
 *
 * If the DEADLINE_S seconds pass first, or a stream thread dies, it exits
 * with status 1 and the reason (the exception) on stderr. CONFIG_FILE holds
 * client settings (bootstrap.servers, ...) and may hold any Streams setting
 * (commit.interval.ms, group.protocol, ...), which take precedence over the
 * defaults set here, and {@value #LEAVE_GROUP_ON_CLOSE}, {@value #HALT} and
 * {@value #STOP_FILE}.
 */
public final class StreamsApp {
    public static final String STORE = "counts";
    public static final String REPARTITION = "words";
    /**
     * Not a Streams setting: "true" in CONFIG_FILE has close() leave the
     * group (LeaveGroup) rather than stay in it until its session times out,
     * as Streams does by default.
     */
    public static final String LEAVE_GROUP_ON_CLOSE = "gregor.leave.group.on.close";
    /**
     * Not a Streams setting either: "true" in CONFIG_FILE has the process
     * halt (Runtime.halt, as a crash: no commit, no close) instead of
     * closing, after LINGER_MS; it prints "halted" first.
     */
    public static final String HALT = "gregor.halt";
    /**
     * Not a Streams setting either: a path in CONFIG_FILE; once a file
     * exists there, the application stops as if EXPECTED records had been
     * sent (for runs whose output the test watches instead of counting).
     */
    public static final String STOP_FILE = "gregor.stop.file";

    public static void main(String[] args) {
        int status;
        try {
            status = run(args);
        } catch (Throwable e) {
            e.printStackTrace();
            status = 1;
        }
        System.out.flush();
        // exit() rather than return: a stream thread left behind by a
        // failure must not keep the process alive.
        System.exit(status);
    }

    private static int run(String[] args) throws Exception {
        if (args.length != 9 && args.length != 10) {
            throw new IllegalArgumentException("usage: StreamsApp CONFIG_FILE APP_ID STATE_DIR "
                    + "GUARANTEE INPUT OUTPUT OUTPUT_UPPER EXPECTED DEADLINE_S [LINGER_MS]");
        }
        Properties config = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            config.load(in);
        }
        String applicationId = args[1];
        String stateDir = args[2];
        String guarantee = args[3];
        String input = args[4];
        String output = args[5];
        String outputUpper = args[6];
        long expected = Long.parseLong(args[7]);
        long deadlineSeconds = Long.parseLong(args[8]);
        long lingerMs = args.length > 9 ? Long.parseLong(args[9]) : 0;

        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        props.put(StreamsConfig.consumerPrefix("session.timeout.ms"), 6000);
        props.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), 1000);
        props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        boolean leaveGroup = Boolean.parseBoolean(
                (String) config.remove(LEAVE_GROUP_ON_CLOSE));
        boolean halt = Boolean.parseBoolean((String) config.remove(HALT));
        String stopFile = (String) config.remove(STOP_FILE);
        props.putAll(config);
        if ("streams".equalsIgnoreCase(props.getProperty(StreamsConfig.GROUP_PROTOCOL_CONFIG))) {
            // KIP-1071: the broker sets the session and the heartbeat
            // interval (group.streams.*); the consumer refuses its own.
            props.remove(StreamsConfig.consumerPrefix("session.timeout.ms"));
            props.remove(StreamsConfig.consumerPrefix("heartbeat.interval.ms"));
        }

        StreamsBuilder builder = new StreamsBuilder();
        AtomicLong sent = new AtomicLong();
        CountDownLatch done = new CountDownLatch(1);
        Runnable oneSent = () -> {
            if (sent.incrementAndGet() >= expected) {
                done.countDown();
            }
        };
        KStream<String, String> lines =
                builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()));
        lines.flatMapValues(value -> Arrays.asList(value.toLowerCase(Locale.ROOT).split("\\s+")))
                .filter((key, word) -> !word.isEmpty())
                .groupBy((key, word) -> word, Grouped.with(REPARTITION, Serdes.String(), Serdes.String()))
                .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as(STORE)
                        .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
                .toStream()
                .mapValues(count -> Long.toString(count))
                .peek((word, count) -> oneSent.run())
                .to(output, Produced.with(Serdes.String(), Serdes.String()));
        lines.mapValues(value -> value.toUpperCase(Locale.ROOT))
                .peek((key, value) -> oneSent.run())
                .to(outputUpper, Produced.with(Serdes.String(), Serdes.String()));

        AtomicReference<Throwable> failure = new AtomicReference<>();
        KafkaStreams streams = new KafkaStreams(builder.build(), props);
        streams.setStateListener((now, before) -> {
            System.out.println("state " + now);
            System.out.flush();
        });
        streams.setGlobalStateRestoreListener(new StateRestoreListener() {
            @Override
            public void onRestoreStart(TopicPartition partition, String store, long start, long end) {
            }

            @Override
            public void onBatchRestored(TopicPartition partition, String store, long end, long n) {
            }

            @Override
            public void onRestoreEnd(TopicPartition partition, String store, long total) {
                System.out.println("restored " + store + " " + partition.partition() + " " + total);
                System.out.flush();
            }
        });
        streams.setUncaughtExceptionHandler(exception -> {
            failure.compareAndSet(null, exception);
            done.countDown();
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });

        if (stopFile != null) {
            Thread watcher = new Thread(() -> {
                while (!java.nio.file.Files.exists(java.nio.file.Paths.get(stopFile))) {
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                done.countDown();
            }, "stop-file-watcher");
            watcher.setDaemon(true);
            watcher.start();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(deadlineSeconds);
        int status = 0;
        try {
            streams.start();
            boolean reached = done.await(deadlineSeconds, TimeUnit.SECONDS);
            if (failure.get() != null) {
                System.err.println("a stream thread failed:");
                failure.get().printStackTrace();
                status = 1;
            } else if (!reached) {
                System.err.println("deadline of " + deadlineSeconds + " s passed with "
                        + sent.get() + " of " + expected + " records sent; client state "
                        + streams.state());
                status = 1;
            } else {
                // Keeps running (committing, purging repartition topics) a while.
                Thread.sleep(lingerMs);
                System.out.println("sent " + sent.get());
                if (halt) {
                    System.out.println("halted");
                    System.out.flush();
                    Runtime.getRuntime().halt(0);
                }
                List<String> content = storeContent(streams, deadline);
                if (content == null) {
                    System.err.println("the store could not be queried before the deadline; "
                            + "client state " + streams.state());
                    status = 1;
                } else {
                    content.forEach(System.out::println);
                }
            }
        } finally {
            // A clean close commits what was processed (the open transaction too).
            boolean closed = streams.close(CloseOptions.timeout(Duration.ofSeconds(30))
                    .withGroupMembershipOperation(leaveGroup
                            ? CloseOptions.GroupMembershipOperation.LEAVE_GROUP
                            : CloseOptions.GroupMembershipOperation.DEFAULT));
            if (!closed) {
                System.err.println("close() timed out; client state " + streams.state());
                status = 1;
            } else if (status == 0 && failure.get() == null) {
                System.out.println("closed");
            }
        }
        if (failure.get() != null && status == 0) {
            System.err.println("a stream thread failed:");
            failure.get().printStackTrace();
            status = 1;
        }
        return status;
    }

    /**
     * "count WORD N" for each word in the store, by word; null if the store
     * cannot be queried before the deadline (it can once the client is
     * RUNNING: every stream thread has restored its tasks).
     */
    private static List<String> storeContent(KafkaStreams streams, long deadline)
            throws InterruptedException {
        while (true) {
            try {
                if (streams.state() == KafkaStreams.State.RUNNING) {
                    ReadOnlyKeyValueStore<String, Long> store = streams.store(
                            StoreQueryParameters.fromNameAndType(
                                    STORE, QueryableStoreTypes.keyValueStore()));
                    List<String> lines = new ArrayList<>();
                    try (KeyValueIterator<String, Long> all = store.all()) {
                        while (all.hasNext()) {
                            KeyValue<String, Long> entry = all.next();
                            lines.add("count " + entry.key + " " + entry.value);
                        }
                    }
                    lines.sort(null);
                    return lines;
                }
            } catch (InvalidStateStoreException e) {
                // a rebalance in between: ask again
            }
            if (System.nanoTime() > deadline) {
                return null;
            }
            Thread.sleep(50);
        }
    }
}
