package dev.gregor.junit;

/** How a broker is cut off from its clients (not from the other brokers). */
public enum ClientCut {
    /** Connections close at their next request. */
    REFUSE("refuse"),
    /** Requests go unanswered until the cut ends, and are answered then. */
    BLACK_HOLE("black_hole");

    private final String mode;

    ClientCut(String mode) {
        this.mode = mode;
    }

    String json() {
        return "{\"mode\":" + Json.quote(mode) + "}";
    }
}
