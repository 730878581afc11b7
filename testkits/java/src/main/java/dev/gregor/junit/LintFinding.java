package dev.gregor.junit;

import java.util.Map;

/**
 * One finding of gregor's client-behaviour linter ({@code GET /lint}).
 *
 * @param clientId the client id whose requests it is about
 * @param rule     the rule, e.g. {@code commit-beyond-high-watermark}
 * @param message  what happened, in words
 * @param evidence counts and examples, as JSON text
 * @param fix      the client setting that fixes it
 */
public record LintFinding(String clientId, String rule, String message, String evidence, String fix) {
    static LintFinding from(Map<String, Object> json) {
        return new LintFinding(Json.string(json, "client_id"), Json.string(json, "rule"),
                Json.string(json, "message"), Json.raw(json, "evidence"), Json.string(json, "fix"));
    }
}
