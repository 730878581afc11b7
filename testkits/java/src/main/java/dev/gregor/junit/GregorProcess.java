package dev.gregor.junit;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One {@code gregor broker --dev} process: finds the binary, starts it with
 * an admin listener on a free loopback port, reads the bootstrap address it
 * prints first, and stops it. Its stdout and stderr go to files named after
 * the test class in the build directory, so that a failure can point at them.
 */
final class GregorProcess implements AutoCloseable {
    static final String BINARY_PROPERTY = "gregor.bin";
    static final String BINARY_ENV = "GREGOR_BIN";
    static final String LOG_DIR_PROPERTY = "gregor.logDir";

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(30);
    // gregor drains its connections on SIGTERM; past this it is SIGKILLed.
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(20);
    private static final int LOG_TAIL_LINES = 40;
    // A free port found by binding 0 can be taken by someone else before gregor binds it.
    private static final int START_ATTEMPTS = 3;
    private static final String ADMIN_LISTENER = "admin.listener";

    private final Process process;
    private final Path stdoutFile;
    private final Path stderrFile;
    private final String bootstrapServers;
    private final String adminUrl;
    private final int brokers;
    // Kills gregor if the JVM exits without afterAll (a fork timed out, System.exit).
    private final Thread shutdownHook;
    private volatile boolean stopping;

    private GregorProcess(Process process, Path stdoutFile, Path stderrFile, String bootstrapServers,
            String adminUrl, int brokers) {
        this.process = process;
        this.stdoutFile = stdoutFile;
        this.stderrFile = stderrFile;
        this.bootstrapServers = bootstrapServers;
        this.adminUrl = adminUrl;
        this.brokers = brokers;
        this.shutdownHook = new Thread(process::destroyForcibly, "gregor-shutdown");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /** Starts gregor for the test class NAME and waits until it has printed its address. */
    static GregorProcess start(String name, int brokers, List<String> overrides) {
        if (brokers < 1) {
            throw new GregorException("@GregorTest(brokers = " + brokers + "): at least 1");
        }
        String userAdminListener = null;
        for (String override : overrides) {
            int equals = override.indexOf('=');
            if (equals <= 0) {
                throw new GregorException("@GregorTest override \"" + override + "\" is not key=value");
            }
            if (override.substring(0, equals).trim().equals(ADMIN_LISTENER)) {
                userAdminListener = override.substring(equals + 1).trim();
            }
        }
        Path binary = binary();
        Path logDir = logDirectory();
        Path stdoutFile = logDir.resolve(name + ".gregor.out");
        Path stderrFile = logDir.resolve(name + ".gregor.log");
        for (int attempt = 1; ; attempt++) {
            String adminListener = userAdminListener != null ? userAdminListener
                    : "127.0.0.1:" + freePort();
            List<String> command = new ArrayList<>(List.of(binary.toString(), "broker", "--dev", "--port", "0"));
            if (brokers > 1) {
                command.addAll(List.of("--brokers", Integer.toString(brokers)));
            }
            if (userAdminListener == null) {
                command.addAll(List.of("--override", ADMIN_LISTENER + "=" + adminListener));
            }
            for (String override : overrides) {
                command.addAll(List.of("--override", override.trim()));
            }
            Process process = launch(command, stdoutFile, stderrFile);
            String bootstrap = awaitAddress(process, stdoutFile, stderrFile);
            if (bootstrap != null) {
                return new GregorProcess(process, stdoutFile, stderrFile, bootstrap,
                        "http://" + loopbackIfWildcard(adminListener), brokers);
            }
            String log = tail(stderrFile);
            if (userAdminListener == null && attempt < START_ATTEMPTS && log.contains("Address already in use")) {
                continue;
            }
            throw new GregorException("gregor exited with code " + process.exitValue()
                    + " before printing its address: " + String.join(" ", command)
                    + "\nits stderr (" + stderrFile + ") ends:\n" + log);
        }
    }

    private static Process launch(List<String> command, Path stdoutFile, Path stderrFile) {
        try {
            Files.writeString(stderrFile, "===== " + String.join(" ", command) + "\n");
            Files.deleteIfExists(stdoutFile);
            return new ProcessBuilder(command)
                    .redirectOutput(stdoutFile.toFile())
                    .redirectError(ProcessBuilder.Redirect.appendTo(stderrFile.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
        } catch (IOException e) {
            throw new GregorException("cannot start " + String.join(" ", command) + ": " + e, e);
        }
    }

    /** The first stdout line once written, or null if the process exited first. */
    private static String awaitAddress(Process process, Path stdoutFile, Path stderrFile) {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        try {
            while (true) {
                String stdout = Files.exists(stdoutFile)
                        ? Files.readString(stdoutFile, StandardCharsets.UTF_8) : "";
                int newline = stdout.indexOf('\n');
                if (newline >= 0) {
                    return stdout.substring(0, newline).trim();
                }
                if (!process.isAlive()) {
                    return null;
                }
                if (System.nanoTime() > deadline) {
                    stop(process);
                    throw new GregorException("gregor printed no address within " + READY_TIMEOUT
                            + "; its stderr (" + stderrFile + ") ends:\n" + tail(stderrFile));
                }
                Thread.sleep(20);
            }
        } catch (IOException e) {
            stop(process);
            throw new GregorException("cannot read gregor's stdout " + stdoutFile + ": " + e, e);
        } catch (InterruptedException e) {
            stop(process);
            Thread.currentThread().interrupt();
            throw new GregorException("interrupted while gregor started", e);
        }
    }

    /** The {@code gregor.bin} system property, else $GREGOR_BIN, else {@code gregor} on the PATH. */
    static Path binary() {
        String configured = System.getProperty(BINARY_PROPERTY);
        String source = "system property " + BINARY_PROPERTY;
        if (configured == null || configured.isBlank()) {
            configured = System.getenv(BINARY_ENV);
            source = "$" + BINARY_ENV;
        }
        if (configured != null && !configured.isBlank()) {
            Path path = Paths.get(configured).toAbsolutePath();
            if (!Files.isExecutable(path)) {
                throw new GregorException(source + " names " + path + ", which is not an executable file");
            }
            return path;
        }
        String pathVariable = System.getenv("PATH");
        if (pathVariable != null) {
            for (String directory : pathVariable.split(File.pathSeparator)) {
                if (directory.isEmpty()) {
                    continue;
                }
                Path candidate = Paths.get(directory, "gregor");
                if (Files.isExecutable(candidate) && !Files.isDirectory(candidate)) {
                    return candidate;
                }
            }
        }
        throw new GregorException("no gregor binary: set the system property " + BINARY_PROPERTY
                + " or $" + BINARY_ENV + " to its path, or put gregor on the PATH");
    }

    /**
     * The {@code gregor.logDir} system property, else Maven's {@code target}
     * or Gradle's {@code build} directory under the working directory, else
     * the temporary directory; a {@code gregor} folder in it.
     */
    private static Path logDirectory() {
        String configured = System.getProperty(LOG_DIR_PROPERTY);
        Path directory;
        if (configured != null && !configured.isBlank()) {
            directory = Paths.get(configured);
        } else if (Files.isDirectory(Paths.get("target"))) {
            directory = Paths.get("target", "gregor");
        } else if (Files.isDirectory(Paths.get("build"))) {
            directory = Paths.get("build", "gregor");
        } else {
            directory = Paths.get(System.getProperty("java.io.tmpdir"), "gregor");
        }
        directory = directory.toAbsolutePath().normalize();
        try {
            return Files.createDirectories(directory);
        } catch (IOException e) {
            throw new GregorException("cannot create gregor's log directory " + directory + ": " + e, e);
        }
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new GregorException("cannot find a free port for gregor's admin listener: " + e, e);
        }
    }

    private static String loopbackIfWildcard(String listener) {
        if (listener.startsWith("0.0.0.0:")) {
            return "127.0.0.1" + listener.substring("0.0.0.0".length());
        }
        if (listener.startsWith("[::]:")) {
            return "[::1]" + listener.substring("[::]".length());
        }
        return listener;
    }

    static String tail(Path file) {
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e + ")";
        }
    }

    String bootstrapServers() {
        return bootstrapServers;
    }

    String adminUrl() {
        return adminUrl;
    }

    int brokers() {
        return brokers;
    }

    Path stderrFile() {
        return stderrFile;
    }

    Path stdoutFile() {
        return stdoutFile;
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** True when the process ended without being asked to. */
    boolean exitedOnItsOwn() {
        return !stopping && !process.isAlive();
    }

    int exitValue() {
        return process.exitValue();
    }

    /** Where the log is and whether gregor still runs: what a failure should say. */
    String describe() {
        if (exitedOnItsOwn()) {
            return "gregor exited with code " + process.exitValue() + "; its stderr (" + stderrFile
                    + ") ends:\n" + tail(stderrFile);
        }
        return "gregor's stderr: " + stderrFile;
    }

    /** SIGTERM, then SIGKILL after 20 s. */
    @Override
    public void close() {
        stopping = true;
        stop(process);
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down already: the hook runs anyway, on a dead process
        }
    }

    private static void stop(Process process) {
        if (!process.isAlive()) {
            return;
        }
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
}
