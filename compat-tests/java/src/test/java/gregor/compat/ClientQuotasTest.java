package gregor.compat;

import static gregor.compat.Clients.TIMEOUT;
import static gregor.compat.Clients.assertFails;
import static gregor.compat.Clients.consumerConfig;
import static gregor.compat.Clients.createTopic;
import static gregor.compat.Clients.get;
import static gregor.compat.Clients.producerConfig;
import static gregor.compat.Clients.readFromBeginning;
import static gregor.compat.Clients.unique;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterClientQuotasOptions;
import org.apache.kafka.clients.admin.AlterClientQuotasResult;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.quota.ClientQuotaAlteration;
import org.apache.kafka.common.quota.ClientQuotaAlteration.Op;
import org.apache.kafka.common.quota.ClientQuotaEntity;
import org.apache.kafka.common.quota.ClientQuotaFilter;
import org.apache.kafka.common.quota.ClientQuotaFilterComponent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Client quotas (KIP-546, KIP-219): the Admin's alterClientQuotas and
 * describeClientQuotas, and a producer over its producer_byte_rate, which
 * the broker throttles (its produce-throttle-time-max metric) while every
 * record is acknowledged.
 */
class ClientQuotasTest {
    @RegisterExtension
    static final GregorBroker broker = new GregorBroker();

    /** Bandwidth quotas are measured over 10 s at first: 12 s worth is throttled. */
    private static final int RATE = 40_000;
    private static final int RECORD_BYTES = 1000;
    private static final int RECORDS = 12 * RATE / RECORD_BYTES;

    private static ClientQuotaEntity entity(String... typesAndNames) {
        Map<String, String> parts = new HashMap<>();
        for (int i = 0; i < typesAndNames.length; i += 2) {
            parts.put(typesAndNames[i], typesAndNames[i + 1]); // null: the default entity
        }
        return new ClientQuotaEntity(parts);
    }

    private static Map<ClientQuotaEntity, Map<String, Double>> describe(Admin admin,
            ClientQuotaFilter filter) throws Exception {
        return get(admin.describeClientQuotas(filter).entities());
    }

    /** Describes (every quota) until ENTITY has VALUES (null: is gone): what was altered is served. */
    private static void awaitServed(Admin admin, ClientQuotaEntity entity, Map<String, Double> values)
            throws Exception {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        Map<String, Double> seen = describe(admin, ClientQuotaFilter.all()).get(entity);
        while (!Objects.equals(values, seen) && System.nanoTime() < deadline) {
            Thread.sleep(100);
            seen = describe(admin, ClientQuotaFilter.all()).get(entity);
        }
        assertEquals(values, seen, () -> "the quotas of " + entity);
    }

    /**
     * Alter and describe: a (user, client-id) pair, a default client id and
     * an IP, found with containsOnly (strict) and contains filters, exact,
     * default and any-name components; per-entity validation errors
     * (InvalidRequestException with Kafka's message) beside a success;
     * validateOnly writing nothing; removals (the last key drops the entity).
     */
    @Test
    void alterAndDescribeRoundTrip() throws Exception {
        String user = unique("quser");
        String client = unique("qclient");
        ClientQuotaEntity pair = entity(ClientQuotaEntity.USER, user, ClientQuotaEntity.CLIENT_ID, client);
        ClientQuotaEntity defaultClient = entity(ClientQuotaEntity.CLIENT_ID, null);
        ClientQuotaEntity ip = entity(ClientQuotaEntity.IP, "192.0.2.5");
        try (Admin admin = broker.admin()) {
            get(admin.alterClientQuotas(List.of(
                    new ClientQuotaAlteration(pair, List.of(new Op("producer_byte_rate", 1024.0),
                            new Op("consumer_byte_rate", 2048.0), new Op("request_percentage", 12.5))),
                    new ClientQuotaAlteration(defaultClient,
                            List.of(new Op("consumer_byte_rate", 1.0e9))),
                    new ClientQuotaAlteration(ip, List.of(new Op("connection_creation_rate", 10.0)))))
                    .all());

            Map<String, Double> pairValues = Map.of("producer_byte_rate", 1024.0,
                    "consumer_byte_rate", 2048.0, "request_percentage", 12.5);
            awaitServed(admin, ip, Map.of("connection_creation_rate", 10.0));
            assertEquals(Map.of(pair, pairValues), describe(admin, ClientQuotaFilter.contains(
                    List.of(ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.USER, user)))));
            // strict: an entity of the user alone, which there is not
            assertEquals(Map.of(), describe(admin, ClientQuotaFilter.containsOnly(
                    List.of(ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.USER, user)))));
            assertEquals(Map.of(pair, pairValues), describe(admin, ClientQuotaFilter.containsOnly(List.of(
                    ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.USER, user),
                    ClientQuotaFilterComponent.ofEntityType(ClientQuotaEntity.CLIENT_ID)))));
            assertEquals(Map.of(defaultClient, Map.of("consumer_byte_rate", 1.0e9)),
                    describe(admin, ClientQuotaFilter.containsOnly(List.of(
                            ClientQuotaFilterComponent.ofDefaultEntity(ClientQuotaEntity.CLIENT_ID)))));
            assertEquals(Map.of(ip, Map.of("connection_creation_rate", 10.0)),
                    describe(admin, ClientQuotaFilter.containsOnly(List.of(
                            ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.IP, "192.0.2.5")))));
            Map<ClientQuotaEntity, Map<String, Double>> all = describe(admin, ClientQuotaFilter.all());
            assertEquals(pairValues, all.get(pair));
            assertEquals(Map.of("consumer_byte_rate", 1.0e9), all.get(defaultClient));
            assertEquals(Map.of("connection_creation_rate", 10.0), all.get(ip));

            // One bad entity fails alone; the others apply.
            ClientQuotaEntity fractional = entity(ClientQuotaEntity.CLIENT_ID, unique("qfrac"));
            ClientQuotaEntity unknownKey = entity(ClientQuotaEntity.CLIENT_ID, unique("qkey"));
            ClientQuotaEntity ipWithUser = entity(ClientQuotaEntity.USER, user, ClientQuotaEntity.IP, "192.0.2.6");
            ClientQuotaEntity good = entity(ClientQuotaEntity.CLIENT_ID, client);
            AlterClientQuotasResult result = admin.alterClientQuotas(List.of(
                    new ClientQuotaAlteration(fractional, List.of(new Op("producer_byte_rate", 1.5))),
                    new ClientQuotaAlteration(unknownKey, List.of(new Op("foo", 1.0))),
                    new ClientQuotaAlteration(ipWithUser, List.of(new Op("connection_creation_rate", 1.0))),
                    new ClientQuotaAlteration(good, List.of(new Op("controller_mutation_rate", 0.5)))));
            assertEquals("producer_byte_rate cannot be a fractional value.",
                    assertFails(InvalidRequestException.class, result.values().get(fractional)).getMessage());
            assertEquals("Invalid configuration key foo",
                    assertFails(InvalidRequestException.class, result.values().get(unknownKey)).getMessage());
            assertEquals("Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId",
                    assertFails(InvalidRequestException.class, result.values().get(ipWithUser)).getMessage());
            get(result.values().get(good));
            awaitServed(admin, good, Map.of("controller_mutation_rate", 0.5));
            assertEquals(Map.of(good, Map.of("controller_mutation_rate", 0.5)),
                    describe(admin, ClientQuotaFilter.containsOnly(List.of(
                            ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.CLIENT_ID, client)))));
            assertEquals(Map.of(), describe(admin, ClientQuotaFilter.contains(List.of(
                    ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.CLIENT_ID,
                            fractional.entries().get(ClientQuotaEntity.CLIENT_ID))))));

            // validateOnly: answered, not written.
            get(admin.alterClientQuotas(List.of(new ClientQuotaAlteration(pair,
                    List.of(new Op("producer_byte_rate", 99.0), new Op("consumer_byte_rate", null)))),
                    new AlterClientQuotasOptions().validateOnly(true)).all());
            assertEquals(pairValues, describe(admin, ClientQuotaFilter.all()).get(pair));

            // Removals: a key, a key never set, then the last keys.
            get(admin.alterClientQuotas(List.of(new ClientQuotaAlteration(pair,
                    List.of(new Op("producer_byte_rate", null), new Op("controller_mutation_rate", null)))))
                    .all());
            awaitServed(admin, pair, Map.of("consumer_byte_rate", 2048.0, "request_percentage", 12.5));
            assertEquals(Map.of(pair, Map.of("consumer_byte_rate", 2048.0, "request_percentage", 12.5)),
                    describe(admin, ClientQuotaFilter.contains(List.of(
                            ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.USER, user)))));
            get(admin.alterClientQuotas(List.of(
                    new ClientQuotaAlteration(pair, List.of(new Op("consumer_byte_rate", null),
                            new Op("request_percentage", null))),
                    new ClientQuotaAlteration(good, List.of(new Op("controller_mutation_rate", null))),
                    new ClientQuotaAlteration(defaultClient, List.of(new Op("consumer_byte_rate", null))),
                    new ClientQuotaAlteration(ip, List.of(new Op("connection_creation_rate", null)))))
                    .all());
            awaitServed(admin, ip, null);
            Map<ClientQuotaEntity, Map<String, Double>> left = describe(admin, ClientQuotaFilter.all());
            for (ClientQuotaEntity gone : List.of(pair, good, defaultClient, ip)) {
                assertTrue(!left.containsKey(gone), () -> gone + " still described: " + left.get(gone));
            }
        }
    }

    private static double metric(Map<MetricName, ? extends Metric> metrics, String name) {
        return metrics.entrySet().stream()
                .filter(e -> e.getKey().name().equals(name) && e.getKey().group().equals("producer-metrics"))
                .map(e -> (Double) e.getValue().metricValue())
                .findFirst().orElseThrow(() -> new AssertionError("no metric " + name));
    }

    private static List<Long> produce(String topic, String clientId, List<String> values,
            double[] throttleMax) throws Exception {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig(broker,
                "client.id", clientId, "acks", "all", "linger.ms", "5"))) {
            for (String value : values) {
                sent.add(producer.send(new ProducerRecord<>(topic, 0, null, value)));
            }
            producer.flush();
            List<Long> offsets = new ArrayList<>();
            for (Future<RecordMetadata> f : sent) {
                offsets.add(f.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS).offset());
            }
            throttleMax[0] = metric(producer.metrics(), "produce-throttle-time-max");
            return offsets;
        }
    }

    /**
     * A producer whose client.id has producer_byte_rate=RATE sends 12 s
     * worth: every record is acknowledged at its offset and its
     * produce-throttle-time-max is above 0; a producer with another client
     * id sending as much is never throttled; a consumer reads every record
     * once, in order.
     */
    @Test
    void aProducerOverItsByteRateIsThrottledAndLosesNothing() throws Exception {
        String topic = unique("quota-produce");
        createTopic(broker, topic, 1);
        String limited = unique("quota-limited");
        ClientQuotaEntity quota = entity(ClientQuotaEntity.CLIENT_ID, limited);
        try (Admin admin = broker.admin()) {
            get(admin.alterClientQuotas(List.of(new ClientQuotaAlteration(quota,
                    List.of(new Op("producer_byte_rate", (double) RATE))))).all());
            awaitServed(admin, quota, Map.of("producer_byte_rate", (double) RATE));
            assertEquals(Map.of(quota, Map.of("producer_byte_rate", (double) RATE)),
                    describe(admin, ClientQuotaFilter.containsOnly(List.of(
                            ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.CLIENT_ID, limited)))));
        }
        List<String> values = new ArrayList<>();
        for (int i = 0; i < RECORDS; i++) {
            String head = String.format("j-%05d-", i);
            values.add(head + "x".repeat(RECORD_BYTES - head.length()));
        }
        List<Long> expected = new ArrayList<>();
        for (long i = 0; i < RECORDS; i++) {
            expected.add(i);
        }
        double[] throttle = new double[1];
        assertEquals(expected, produce(topic, limited, values, throttle));
        assertTrue(throttle[0] > 0, () -> "produce-throttle-time-max " + throttle[0]);

        List<Long> next = expected.stream().map(o -> o + RECORDS).collect(Collectors.toList());
        assertEquals(next, produce(topic, unique("quota-free"), values, throttle));
        assertEquals(0.0, throttle[0], "an unquota'd producer's produce-throttle-time-max");

        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig(broker))) {
            List<ConsumerRecord<String, String>> got = readFromBeginning(consumer,
                    List.of(new TopicPartition(topic, 0)));
            List<String> all = new ArrayList<>(values);
            all.addAll(values);
            assertEquals(2 * RECORDS, got.size());
            for (int i = 0; i < got.size(); i++) {
                assertEquals(i, got.get(i).offset());
                assertEquals(all.get(i), got.get(i).value());
            }
        }
    }
}
