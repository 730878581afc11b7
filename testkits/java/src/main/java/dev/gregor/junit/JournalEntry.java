package dev.gregor.junit;

import java.util.Map;

/**
 * One request gregor answered, as its journal ({@code GET /journal}) keeps
 * the last 1000.
 *
 * @param api           the API's name, e.g. {@code Produce}
 * @param version       the request's API version
 * @param clientId      the client id it carried (null when none)
 * @param correlationId the request's correlation id
 * @param latencyMicros how long gregor took to answer it
 * @param errorCode     the error code answered (0: none)
 * @param fault         the fault applied to it as JSON, in the shape it was armed with
 *                      ({@code {"error":6}}, {@code "disconnect"}…), or null
 */
public record JournalEntry(String api, int version, String clientId, int correlationId, long latencyMicros,
        int errorCode, String fault) {
    static JournalEntry from(Map<String, Object> json) {
        return new JournalEntry(Json.string(json, "api"), (int) Json.requiredNumber(json, "version"),
                Json.string(json, "client_id"), (int) Json.requiredNumber(json, "correlation_id"),
                Json.requiredNumber(json, "latency_us"), (int) Json.requiredNumber(json, "error_code"),
                Json.raw(json, "fault"));
    }

    /** Whether the fault plane answered this request rather than gregor. */
    public boolean faulted() {
        return fault != null;
    }
}
