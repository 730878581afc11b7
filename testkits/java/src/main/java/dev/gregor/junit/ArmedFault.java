package dev.gregor.junit;

import java.util.Map;

/**
 * A fault as gregor armed it ({@code POST /faults}) or lists it
 * ({@code GET /faults}). A fault whose count ran out is no longer listed.
 *
 * @param id        gregor's id for it
 * @param api       the API it matches, by name or key as armed
 * @param topic     the topic it matches, or null for any
 * @param partition the partition it matches, or null for any
 * @param clientId  the client id it matches, or null for any
 * @param action    what it does, as JSON text: {@code {"error":6}}, {@code "disconnect"}…
 * @param count     how many more requests it will answer
 * @param after     its {@code {"topic":…,"records":…}} condition as JSON text, or null
 */
public record ArmedFault(long id, String api, String topic, Integer partition, String clientId, String action,
        long count, String after) {
    static ArmedFault from(Map<String, Object> json) {
        Long partition = Json.number(json, "partition");
        return new ArmedFault(Json.requiredNumber(json, "id"), Json.string(json, "api"),
                Json.string(json, "topic"), partition == null ? null : partition.intValue(),
                Json.string(json, "client_id"), Json.raw(json, "action"), Json.requiredNumber(json, "count"),
                Json.raw(json, "after"));
    }
}
