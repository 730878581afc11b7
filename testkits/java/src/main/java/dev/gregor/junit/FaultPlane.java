package dev.gregor.junit;

import java.util.List;

/**
 * A single broker's request fault plane: exact faults on the next N
 * matching requests, never "about 10%". Armed faults stay until their count
 * runs out or {@link #clear()}; the extension does not clear them between
 * tests, so a test that arms one should use its own topic or client id, or
 * clear.
 */
public final class FaultPlane {
    private final AdminPlane admin;

    FaultPlane(AdminPlane admin) {
        this.admin = admin;
    }

    /**
     * Arms ACTION_JSON on the next COUNT requests of API, e.g.
     * {@code arm("Produce", "{\"error\":6}", 2)} or
     * {@code arm("Fetch", "disconnect", 1)}.
     */
    public ArmedFault arm(String api, String actionJson, int count) {
        return arm(Fault.on(api).action(actionJson).count(count));
    }

    /** Arms FAULT, with its topic, partition, client id and {@code after} condition. */
    public ArmedFault arm(Fault fault) {
        return ArmedFault.from(Json.parseObject(admin.post("/faults", fault.toJson())));
    }

    /** The armed faults with their remaining counts, as gregor's JSON. */
    public String list() {
        return admin.get("/faults");
    }

    /** The armed faults with their remaining counts. */
    public List<ArmedFault> armed() {
        return Json.parseArrayOfObjects(list()).stream().map(ArmedFault::from).toList();
    }

    /** Disarms every fault. */
    public void clear() {
        admin.delete("/faults");
    }
}
