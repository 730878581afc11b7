package dev.gregor.junit;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A fault to arm on a single broker's fault plane: the next {@link #count}
 * requests of an API (optionally of one topic, partition or client id) get
 * an action instead of, or on top of, their normal answer.
 *
 * <pre>
 * gregor.faults().arm(Fault.on("Produce").topic("orders").error(6).count(2));
 * gregor.faults().arm(Fault.on("Fetch").clientId("my-app").latency(Duration.ofMillis(500)));
 * gregor.faults().arm(Fault.on("Produce").disconnect().count(3).after("orders", 1000));
 * </pre>
 */
public final class Fault {
    private final String api;
    private String topic;
    private Integer partition;
    private String clientId;
    private Object action;
    private int count = 1;
    private Map<String, Object> after;

    private Fault(String api) {
        this.api = Objects.requireNonNull(api, "api");
    }

    /** A fault on the API named API ({@code "Produce"}, {@code "Fetch"}…) or its key ({@code "0"}). */
    public static Fault on(String api) {
        return new Fault(api);
    }

    /** Only requests for this topic. */
    public Fault topic(String topic) {
        this.topic = topic;
        return this;
    }

    /** Only requests for this partition. */
    public Fault partition(int partition) {
        this.partition = partition;
        return this;
    }

    /** Only requests from this client id. */
    public Fault clientId(String clientId) {
        this.clientId = clientId;
        return this;
    }

    /** Armed only once RECORDS more records have been appended to TOPIC (counted from now). */
    public Fault after(String topic, long records) {
        Map<String, Object> condition = new LinkedHashMap<>();
        condition.put("topic", topic);
        condition.put("records", records);
        this.after = condition;
        return this;
    }

    /** Answer with this Kafka error code, without handling the request (nothing is written). */
    public Fault error(int errorCode) {
        return action(Map.of("error", errorCode));
    }

    /** Handle the request, then cut the connection instead of answering. */
    public Fault disconnect() {
        return action("disconnect");
    }

    /** Answer this much later. */
    public Fault latency(Duration latency) {
        return action(Map.of("latency_ms", latency.toMillis()));
    }

    /** Handle the request, answer it with throttle_time_ms, and read nothing more from the connection as long. */
    public Fault throttle(Duration throttle) {
        return action(Map.of("throttle_ms", throttle.toMillis()));
    }

    /**
     * Any action gregor knows, as JSON text ({@code {"error":6}},
     * {@code "disconnect"}); a bare word such as {@code disconnect} is read as
     * that string.
     */
    public Fault action(String actionJson) {
        return action(parseAction(actionJson));
    }

    /** How many matching requests it answers; 1 unless set. */
    public Fault count(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("a fault answers at least 1 request, not " + count);
        }
        this.count = count;
        return this;
    }

    private Fault action(Object action) {
        this.action = action;
        return this;
    }

    /** The body of {@code POST /faults}. */
    String toJson() {
        if (action == null) {
            throw new IllegalStateException("the fault on " + api
                    + " has no action: error(code), disconnect(), latency(…), throttle(…) or action(json)");
        }
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("api", api);
        if (topic != null) {
            json.put("topic", topic);
        }
        if (partition != null) {
            json.put("partition", partition);
        }
        if (clientId != null) {
            json.put("client_id", clientId);
        }
        json.put("action", action);
        json.put("count", count);
        if (after != null) {
            json.put("after", after);
        }
        return Json.write(json);
    }

    @Override
    public String toString() {
        return action == null ? "Fault.on(" + api + ")" : toJson();
    }

    private static Object parseAction(String actionJson) {
        String trimmed = Objects.requireNonNull(actionJson, "action").trim();
        if (trimmed.matches("[A-Za-z_]+") && !trimmed.equals("null") && !trimmed.equals("true")
                && !trimmed.equals("false")) {
            return trimmed;
        }
        return Json.parse(trimmed);
    }
}
