package dev.gregor.junit;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * The HTTP side of gregor's admin listener. Requests that change something
 * say {@code Content-Type: application/json}, which gregor requires of them
 * (else 415). A status outside 2xx becomes a {@link GregorException} with
 * gregor's answer and where its log is.
 */
final class AdminPlane {
    // A cluster's restart waits for the broker to start again.
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);

    private final String baseUrl;
    private final Supplier<String> logHint;
    private final String unservedHint;
    private final HttpClient http = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    /**
     * UNSERVED_HINT ends the message of a request this gregor has no route
     * for (a dev cluster has no request fault plane, a single broker no
     * {@code /brokers}).
     */
    AdminPlane(String baseUrl, Supplier<String> logHint, String unservedHint) {
        this.baseUrl = baseUrl;
        this.logHint = logHint;
        this.unservedHint = unservedHint;
    }

    String get(String path) {
        return send("GET", path, null);
    }

    String post(String path, String body) {
        return send("POST", path, body);
    }

    String delete(String path) {
        return send("DELETE", path, null);
    }

    /** Until GET PATH answers 200, for at most TIMEOUT. */
    void awaitAnswer(String path, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        GregorException last;
        while (true) {
            try {
                get(path);
                return;
            } catch (GregorException e) {
                last = e;
            }
            if (System.nanoTime() > deadline) {
                throw new GregorException("gregor's admin plane " + baseUrl + " did not answer GET " + path
                        + " within " + timeout + ": " + last.getMessage(), last);
            }
            sleep(50);
        }
    }

    private String send(String method, String path, String body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl + path))
                .timeout(REQUEST_TIMEOUT);
        if (method.equals("GET")) {
            request.GET();
        } else {
            request.header("Content-Type", "application/json")
                    .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                            : HttpRequest.BodyPublishers.ofString(body));
        }
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new GregorException(method + " " + baseUrl + path + " failed: " + e + "\n" + logHint.get(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GregorException(method + " " + baseUrl + path + " interrupted", e);
        }
        int status = response.statusCode();
        if (status == 404 && response.body().trim().equals("not found")) {
            throw new UnsupportedOperationException("this gregor does not serve " + method + " " + path
                    + ": " + unservedHint);
        }
        if (status / 100 != 2) {
            throw new GregorException(method + " " + path + (body == null ? "" : " " + body) + " answered "
                    + status + ": " + response.body().trim() + "\n" + logHint.get(), status, null);
        }
        return response.body();
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GregorException("interrupted", e);
        }
    }
}
