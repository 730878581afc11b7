package dev.gregor.junit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The handle's own behaviour against a single broker: injection everywhere
 * the extension promises it, the raw fault-plane calls, the clock, and
 * cluster-only calls refused with a reason.
 */
@GregorTest(overrides = "num.partitions=2")
class GregorHandleTest {
    private static Gregor fromBeforeAll;
    private final Gregor fromConstructor;

    GregorHandleTest(Gregor gregor) {
        this.fromConstructor = gregor;
    }

    @BeforeAll
    static void rememberTheBroker(Gregor gregor) {
        fromBeforeAll = gregor;
    }

    @Test
    void oneBrokerPerClassReachesEveryParameter(Gregor gregor) {
        assertSame(fromBeforeAll, gregor);
        assertSame(fromConstructor, gregor);
        assertEquals(1, gregor.brokerCount());
        assertTrue(gregor.bootstrapServers().matches("[^,]+:\\d+"), gregor.bootstrapServers());
        assertTrue(gregor.adminUrl().startsWith("http://127.0.0.1:"), gregor.adminUrl());
        assertTrue(Files.exists(gregor.logFile()), gregor.logFile().toString());
    }

    @Test
    void overridesReachTheBroker(Gregor gregor) throws Exception {
        try (Admin admin = Admin.create(gregor.clientProperties())) {
            admin.createTopics(List.of(new NewTopic("defaults", Optional.empty(), Optional.empty()))).all().get();
            assertEquals(2, admin.describeTopics(List.of("defaults")).allTopicNames().get()
                    .get("defaults").partitions().size(), "num.partitions=2");
        }
    }

    @Test
    void faultsAreArmedListedAndCleared(Gregor gregor) {
        ArmedFault disconnect = gregor.faults().arm("DeleteTopics", "disconnect", 3);
        ArmedFault slow = gregor.faults().arm(Fault.on("Fetch").topic("t").partition(1).clientId("c")
                .latency(Duration.ofMillis(250)).after("t", 10));
        assertEquals("\"disconnect\"", disconnect.action());
        assertEquals(new ArmedFault(slow.id(), "Fetch", "t", 1, "c", "{\"latency_ms\":250}", 1,
                "{\"topic\":\"t\",\"records\":10}"), slow);
        assertEquals(List.of(disconnect, slow), gregor.faults().armed());

        gregor.faults().clear();
        assertEquals("[]", gregor.faults().list().trim());
    }

    @Test
    void refusedFaultsSayWhy(Gregor gregor) {
        GregorException refused = assertThrows(GregorException.class,
                () -> gregor.faults().arm("NoSuchApi", "{\"error\":6}", 1));
        assertEquals(400, refused.status());
        assertTrue(refused.getMessage().contains("NoSuchApi"), refused.getMessage());
    }

    @Test
    void theClockOnlyMovesForward(Gregor gregor) {
        long before = gregor.clockMillis();
        long after = gregor.advanceClock(60_000);
        assertTrue(after >= before + 60_000, before + " -> " + after);
        assertThrows(IllegalArgumentException.class, () -> gregor.advanceClock(-1));
    }

    @Test
    void clusterCallsNeedACluster(Gregor gregor) {
        UnsupportedOperationException refused = assertThrows(UnsupportedOperationException.class,
                () -> gregor.kill(1));
        assertTrue(refused.getMessage().contains("brokers = 3"), refused.getMessage());
        assertThrows(UnsupportedOperationException.class, () -> gregor.leaderOf("t", 0));
    }

    @Nested
    class NestedClasses {
        @Test
        void shareTheEnclosingBroker(Gregor gregor) {
            assertSame(fromBeforeAll, gregor);
        }
    }
}
