package dev.gregor.junit;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.IntPredicate;

/**
 * The gregor a {@link GregorTest} class runs against: its bootstrap
 * address for clients, and its admin plane over HTTP. Take it as a
 * parameter of a test, a constructor or a lifecycle method.
 *
 * <p>A single broker ({@code brokers = 1}) has the request fault plane
 * ({@link #faults()}), the {@link #journal()} of requests, the
 * {@link #lint()} findings, partition pauses and client cuts. A dev cluster
 * ({@code brokers > 1}) has the broker faults: {@link #kill}, {@link #stop},
 * {@link #restart}, {@link #isolate}, {@link #pause}, {@link #cutClients(int, ClientCut)},
 * {@link #heal()}, and the partitions' {@link #leaderOf leaders} and
 * {@link #inSyncReplicas ISR}. Both travel in time ({@link #advanceClock}).
 * Calling one on the other kind throws {@link UnsupportedOperationException}.
 */
public final class Gregor {
    /** Kafka's "no leader" node id, as {@link #leaderOf} answers it. */
    public static final int NO_LEADER = -1;

    private static final long POLL_MILLIS = 100;

    private final GregorProcess process;
    private final AdminPlane admin;
    private final FaultPlane faults;

    Gregor(GregorProcess process) {
        this.process = process;
        String unserved = process.brokers() > 1
                ? "a dev cluster's admin plane has the broker faults, not a single broker's request fault plane,"
                        + " journal or linter (use @GregorTest with brokers = 1 for those)"
                : "a single broker has no broker faults or partition leadership to move"
                        + " (use @GregorTest(brokers = 3) for those)";
        this.admin = new AdminPlane(process.adminUrl(), process::describe, unserved);
        this.faults = new FaultPlane(admin);
    }

    /** Until the admin plane answers, after gregor printed its address. */
    void awaitReady(Duration timeout) {
        admin.awaitAnswer("/clock", timeout);
    }

    /** What to give {@code bootstrap.servers}: every broker's host:port, comma-separated. */
    public String bootstrapServers() {
        return process.bootstrapServers();
    }

    /** {@code bootstrap.servers} alone, to add a client's own settings to. */
    public Properties clientProperties() {
        Properties properties = new Properties();
        properties.put("bootstrap.servers", bootstrapServers());
        return properties;
    }

    /** The admin listener's base URL, e.g. {@code http://127.0.0.1:40211}, for endpoints this class lacks. */
    public String adminUrl() {
        return process.adminUrl();
    }

    /** How many brokers: 1, or the dev cluster's size. */
    public int brokerCount() {
        return process.brokers();
    }

    /** The file gregor's stderr (its log, and its lint findings when it stops) goes to. */
    public Path logFile() {
        return process.stderrFile();
    }

    // --- both ------------------------------------------------------------------------

    /**
     * Moves the broker's clock MILLIS forward: group sessions and rebalances,
     * transaction timeouts, producer id expiry, retention and delegation
     * tokens expire at once. Returns the broker's clock afterwards, in
     * milliseconds since the epoch.
     */
    public long advanceClock(long millis) {
        if (millis < 0) {
            throw new IllegalArgumentException("the clock only moves forward, not by " + millis + " ms");
        }
        return Json.requiredNumber(Json.parseObject(admin.post("/clock/advance?ms=" + millis, null)), "now_ms");
    }

    /** {@link #advanceClock(long)} by DURATION. */
    public long advanceClock(Duration duration) {
        return advanceClock(duration.toMillis());
    }

    /** The broker's clock, in milliseconds since the epoch: the wall clock plus every advance. */
    public long clockMillis() {
        return Json.requiredNumber(Json.parseObject(admin.get("/clock")), "now_ms");
    }

    // --- a single broker ---------------------------------------------------------------

    /** The request fault plane. */
    public FaultPlane faults() {
        return faults;
    }

    /** The client-behaviour linter's findings, as gregor's JSON. */
    public String lint() {
        return admin.get("/lint");
    }

    /** The client-behaviour linter's findings. */
    public List<LintFinding> lintFindings() {
        return Json.parseArrayOfObjects(lint()).stream().map(LintFinding::from).toList();
    }

    /** The last 1000 requests gregor answered, oldest first, as gregor's JSON. */
    public String journal() {
        return admin.get("/journal");
    }

    /** The last 1000 requests gregor answered, oldest first. */
    public List<JournalEntry> journalEntries() {
        return Json.parseArrayOfObjects(journal()).stream().map(JournalEntry::from).toList();
    }

    /** Holds the partition's appends (its produce requests wait) until {@link #resumePartition}. */
    public void pausePartition(String topic, int partition) {
        admin.post(partitionPath(topic, partition) + "/pause", null);
    }

    /** Releases the partition's held appends. */
    public void resumePartition(String topic, int partition) {
        admin.post(partitionPath(topic, partition) + "/resume", null);
    }

    /** Cuts the broker off from its clients until {@link #restoreClients()}. */
    public void cutClients(ClientCut cut) {
        requireSingleBroker("cutClients(cut)", "cutClients(node, cut)");
        admin.post("/network/clients", cut.json());
    }

    /** Ends {@link #cutClients(ClientCut)}. */
    public void restoreClients() {
        requireSingleBroker("restoreClients()", "heal()");
        admin.delete("/network/clients");
    }

    // --- a dev cluster -----------------------------------------------------------------

    /** Each broker's node id, address and state. */
    public List<BrokerNode> nodes() {
        requireCluster("nodes()");
        return Json.parseArrayOfObjects(admin.get("/brokers")).stream().map(BrokerNode::from).toList();
    }

    /** Kills broker NODE as {@code kill -9} would: no clean shutdown, its next start recovers. */
    public void kill(int node) {
        brokerAction(node, "kill");
    }

    /** Stops broker NODE cleanly, handing its leaderships over first. */
    public void stop(int node) {
        brokerAction(node, "stop");
    }

    /** Starts broker NODE again, on the same port and data. */
    public void restart(int node) {
        brokerAction(node, "restart");
    }

    /**
     * Cuts broker NODE off from the other brokers, both ways, until
     * {@link #heal()}; clients still reach it and it still believes it leads.
     */
    public void isolate(int node) {
        brokerAction(node, "isolate");
    }

    /** Freezes broker NODE as SIGSTOP would, seen from outside, until {@link #heal()}. */
    public void pause(int node) {
        brokerAction(node, "pause");
    }

    /** Cuts broker NODE off from its clients, not from the other brokers, until {@link #heal()}. */
    public void cutClients(int node, ClientCut cut) {
        requireCluster("cutClients(node, cut)");
        admin.post("/brokers/" + node + "/clients", cut.json());
    }

    /** Ends every isolation, pause and client cut. */
    public void heal() {
        requireCluster("heal()");
        admin.post("/heal", null);
    }

    /** The partition's leader as the brokers that are not isolated agree, or {@link #NO_LEADER}. */
    public int leaderOf(String topic, int partition) {
        Long leader = Json.number(partitionState(topic, partition), "leader");
        return leader == null ? NO_LEADER : leader.intValue();
    }

    /** The partition's in-sync replicas as the brokers that are not isolated agree. */
    public List<Integer> inSyncReplicas(String topic, int partition) {
        Object isr = partitionState(topic, partition).get("isr");
        List<Integer> replicas = new ArrayList<>();
        if (isr instanceof List<?> list) {
            for (Object replica : list) {
                replicas.add(((Number) replica).intValue());
            }
        }
        return replicas;
    }

    /** Moves the partition's leadership to TO, which must be an in-sync replica. */
    public void moveLeader(String topic, int partition, int to) {
        requireCluster("moveLeader(topic, partition, to)");
        admin.post(partitionPath(topic, partition) + "/leader", "{\"to\":" + to + "}");
    }

    /**
     * Waits until the partition has a leader that CONDITION accepts, e.g.
     * {@code leader -> leader != killed}; returns it.
     */
    public int awaitLeader(String topic, int partition, IntPredicate condition, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            int leader = leaderOf(topic, partition);
            if (leader != NO_LEADER && condition.test(leader)) {
                return leader;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(topic + "-" + partition + " has no leader as wanted after " + timeout
                        + " (leader " + leader + ", isr " + inSyncReplicas(topic, partition) + ")");
            }
            AdminPlane.sleep(POLL_MILLIS);
        }
    }

    /** Waits until the partition has at least REPLICAS in-sync replicas; returns them. */
    public List<Integer> awaitInSyncReplicas(String topic, int partition, int replicas, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<Integer> isr = inSyncReplicas(topic, partition);
            if (isr.size() >= replicas) {
                return isr;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(topic + "-" + partition + " has " + isr.size() + " in-sync replicas "
                        + isr + ", not " + replicas + ", after " + timeout);
            }
            AdminPlane.sleep(POLL_MILLIS);
        }
    }

    /** The partition's leader and ISR; none while no broker knows the partition (404). */
    private Map<String, Object> partitionState(String topic, int partition) {
        requireCluster("leaderOf and inSyncReplicas");
        try {
            return Json.parseObject(admin.get(partitionPath(topic, partition)));
        } catch (GregorException e) {
            if (e.status() != 404) {
                throw e;
            }
            return Map.of("isr", java.util.List.of());
        }
    }

    private void brokerAction(int node, String action) {
        requireCluster(action + "(node)");
        admin.post("/brokers/" + node + "/" + action, null);
    }

    private void requireCluster(String what) {
        if (process.brokers() < 2) {
            throw new UnsupportedOperationException(what + " needs a dev cluster: @GregorTest(brokers = 3)");
        }
    }

    private void requireSingleBroker(String what, String instead) {
        if (process.brokers() > 1) {
            throw new UnsupportedOperationException(what + " is a single broker's; a dev cluster has " + instead);
        }
    }

    private static String partitionPath(String topic, int partition) {
        return "/partitions/" + URLEncoder.encode(topic, StandardCharsets.UTF_8) + "/" + partition;
    }

    @Override
    public String toString() {
        return "Gregor[" + bootstrapServers() + ", admin " + adminUrl() + ", " + process.brokers() + " broker(s)]";
    }
}
