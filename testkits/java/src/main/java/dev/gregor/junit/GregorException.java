package dev.gregor.junit;

/**
 * gregor did not start, or its admin plane refused or failed a request. The
 * message says what was asked, what gregor answered and where its log is.
 */
public class GregorException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;

    GregorException(String message) {
        this(message, -1, null);
    }

    GregorException(String message, Throwable cause) {
        this(message, -1, cause);
    }

    GregorException(String message, int status, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    /** The admin plane's HTTP status, or -1 when the failure was not an HTTP answer. */
    public int status() {
        return status;
    }
}
