package dev.gregor.junit;

import java.util.Map;

/**
 * One broker of a dev cluster as its admin plane sees it ({@code GET /brokers}).
 *
 * @param nodeId     its node id (1, 2, 3…)
 * @param address    its host:port
 * @param running    false once killed or stopped, until restarted
 * @param isolated   cut off from the other brokers (isolate or pause), until healed
 * @param clientsCut {@code "refuse"} or {@code "black_hole"} while cut off from its clients, else null
 */
public record BrokerNode(int nodeId, String address, boolean running, boolean isolated, String clientsCut) {
    static BrokerNode from(Map<String, Object> json) {
        return new BrokerNode((int) Json.requiredNumber(json, "node_id"), Json.string(json, "address"),
                Json.bool(json, "running"), Json.bool(json, "isolated"), Json.string(json, "clients_cut"));
    }
}
