package gregor.compat;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * One gregor broker process for a test class, registered as a static
 * extension so that it starts before the class's first test and stops after
 * its last:
 *
 * <pre>
 * &#64;RegisterExtension
 * static final GregorBroker broker = new GregorBroker("group.initial.rebalance.delay.ms", "0");
 * </pre>
 *
 * The binary is $GREGOR_BIN, by default {@code <repo>/target/debug/gregor}.
 * It listens on a free loopback port, keeps its data in a temporary
 * directory and writes its output to {@code gregor.log} beside it. The test
 * during which the process exits fails with the log's tail, and those after
 * it fail at once. If any test of the class failed, closing prints the tail
 * and keeps the directory (as does $GREGOR_KEEP_DATA); else it is deleted.
 */
public final class GregorBroker
        implements BeforeAllCallback, BeforeEachCallback, AfterEachCallback, AfterAllCallback,
        TestWatcher, AutoCloseable {
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(30);
    // gregor drains its connections on SIGTERM; past this it is SIGKILLed.
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(20);
    private static final int LOG_TAIL_LINES = 80;

    private final Map<String, String> overrides = new LinkedHashMap<>();
    private final List<String> failedTests = new CopyOnWriteArrayList<>();
    private Path directory;
    private Path dataDir;
    private Path logFile;
    private int port;
    private Process process;
    // The test during which the process exited, once it has.
    private String diedDuring;
    // A start-up failed: its message has the log's tail.
    private boolean keepDirectory;

    /** A broker with the default settings plus OVERRIDES, given as name, value pairs. */
    public GregorBroker(String... overrides) {
        if (overrides.length % 2 != 0) {
            throw new IllegalArgumentException("overrides come as name, value pairs");
        }
        for (int i = 0; i < overrides.length; i += 2) {
            this.overrides.put(overrides[i], overrides[i + 1]);
        }
    }

    /** $GREGOR_BIN, or {@code <repo>/target/debug/gregor}. */
    static Path binary() {
        String configured = System.getenv("GREGOR_BIN");
        if (configured != null && !configured.isEmpty()) {
            return Paths.get(configured);
        }
        // Surefire names the repository (pom.xml); an IDE run starts in compat-tests/java.
        String root = System.getProperty("gregor.repo.root", "../..");
        return Paths.get(root, "target", "debug", "gregor").toAbsolutePath().normalize();
    }

    public String bootstrap() {
        return "127.0.0.1:" + port;
    }

    public int port() {
        return port;
    }

    /** The broker's log.dirs. */
    public Path dataDir() {
        return dataDir;
    }

    /** What every client of this broker needs: bootstrap.servers. */
    public Properties clientConfig() {
        Properties config = new Properties();
        config.put("bootstrap.servers", bootstrap());
        return config;
    }

    public Admin admin() {
        return Admin.create(clientConfig());
    }

    public void start() throws IOException, InterruptedException {
        Path gregor = binary();
        if (!Files.isExecutable(gregor)) {
            throw new IllegalStateException("gregor binary not found or not executable at "
                    + gregor + " (build it, or point GREGOR_BIN at it)");
        }
        directory = Files.createTempDirectory("gregor-junit-");
        dataDir = Files.createDirectory(directory.resolve("data"));
        logFile = directory.resolve("gregor.log");
        port = freePort();
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("listeners", "PLAINTEXT://" + bootstrap());
        settings.put("advertised.listeners", "PLAINTEXT://" + bootstrap());
        settings.put("log.dirs", dataDir.toString());
        settings.put("node.id", "1");
        settings.putAll(overrides);
        List<String> command = new ArrayList<>(List.of(gregor.toString(), "broker"));
        settings.forEach((name, value) -> command.addAll(List.of("--override", name + "=" + value)));
        Files.writeString(logFile, "===== " + String.join(" ", command) + "\n");

        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.environment().putIfAbsent("RUST_LOG", "info");
        builder.environment().putIfAbsent("RUST_BACKTRACE", "1");
        process = builder.start();
        awaitReady();
    }

    /** Until the port accepts and an Admin's describeCluster answers. */
    private void awaitReady() throws InterruptedException {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (!accepts()) {
            checkAlive("during startup");
            if (System.nanoTime() > deadline) {
                keepDirectory = true;
                close();
                throw new IllegalStateException("gregor: port " + port
                        + " not accepting connections after " + READY_TIMEOUT + "\n" + logTail());
            }
            Thread.sleep(100);
        }
        Properties config = clientConfig();
        config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "2000");
        config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        Exception last = null;
        try (Admin admin = Admin.create(config)) {
            while (System.nanoTime() < deadline) {
                checkAlive("during startup");
                try {
                    if (!admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty()) {
                        return;
                    }
                } catch (Exception e) {
                    last = e;
                }
                Thread.sleep(100);
            }
        }
        keepDirectory = true;
        close();
        throw new IllegalStateException("gregor: describeCluster did not answer within "
                + READY_TIMEOUT + " (last: " + last + ")\n" + logTail());
    }

    private boolean accepts() {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private void checkAlive(String when) {
        if (!process.isAlive()) {
            keepDirectory = true;
            throw new IllegalStateException("gregor exited with code " + process.exitValue()
                    + " " + when + "\n" + logTail());
        }
    }

    public String logTail() {
        try {
            List<String> lines = new String(Files.readAllBytes(logFile), StandardCharsets.UTF_8)
                    .lines().toList();
            return String.join("\n", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES),
                    lines.size()));
        } catch (IOException e) {
            return "(no log at " + logFile + ": " + e + ")";
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /** Stops the broker (SIGTERM, then SIGKILL); see the class comment for what it keeps. */
    @Override
    public void close() {
        if (process != null && process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        if (directory == null) {
            return;
        }
        if (!failedTests.isEmpty()) {
            System.err.println("===== gregor log tail (" + logFile + "), after failed "
                    + String.join(", ", failedTests) + ":\n" + logTail());
        } else if (!keepDirectory && System.getenv("GREGOR_KEEP_DATA") == null) {
            deleteRecursively(directory);
        }
        directory = null;
    }

    private static void deleteRecursively(Path path) {
        try (Stream<Path> paths = Files.walk(path)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary directory left behind is no failure of the tests
        }
    }

    // --- JUnit's callbacks -------------------------------------------------------------

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        start();
    }

    /** Fails at once each test after the broker died, rather than at its clients' timeouts. */
    @Override
    public void beforeEach(ExtensionContext context) {
        if (diedDuring == null && !process.isAlive()) {
            diedDuring = "the time before " + context.getDisplayName();
        }
        if (diedDuring != null) {
            throw new IllegalStateException("gregor is not running: it exited with code "
                    + process.exitValue() + " during " + diedDuring);
        }
    }

    /** Fails the test during which the broker died. */
    @Override
    public void afterEach(ExtensionContext context) {
        if (diedDuring == null && !process.isAlive()) {
            diedDuring = context.getDisplayName();
            throw new AssertionError("gregor exited with code " + process.exitValue()
                    + " during " + diedDuring + "\n" + logTail());
        }
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        failedTests.add(context.getParent().map(ExtensionContext::getDisplayName)
                .map(parent -> parent + " ").orElse("") + context.getDisplayName());
    }

    @Override
    public void afterAll(ExtensionContext context) {
        close();
    }
}
