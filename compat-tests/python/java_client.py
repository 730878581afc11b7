"""Kafka's Java client (kafka-clients 4.4) and Kafka Streams 4.4 for the
compatibility tests: compat-tests/java's `JavaClient` and `StreamsApp`,
built with Maven on first use (run-all.sh builds them beforehand), run as
processes whose printed facts the tests assert."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

JAVA_DIR = Path(__file__).resolve().parent.parent / "java"
TARGET = JAVA_DIR / "target"


def _classpath() -> str:
    jar = TARGET / "gregor-compat-java-0.1.0.jar"
    deps = TARGET / "classpath.txt"
    pom = JAVA_DIR / "pom.xml"
    # The jar holds src/main's classes only: a newer JUnit test (src/test)
    # leaves it untouched, and must not send every call through Maven.
    inputs = [pom, *(JAVA_DIR / "src" / "main").rglob("*.java")]
    if not (jar.exists() and deps.exists()) or \
            jar.stat().st_mtime < max(path.stat().st_mtime for path in inputs):
        subprocess.run(["mvn", "-q", "-B", "-f", str(pom), "-DskipTests", "package"],
                       check=True, capture_output=True, timeout=600)
    return f"{jar}:{deps.read_text().strip()}"


def classpath() -> str:
    """The classpath of compat-tests/java's classes and their dependencies
    (built first if missing or older than the sources), for a `java`
    process a test runs itself (group_harness.JavaMember)."""
    return _classpath()


class JavaClientError(AssertionError):
    pass


def run(config: dict[str, str], *args: str, timeout: float = 120,
        main_class: str = "gregor.compat.JavaClient",
        java_options: tuple[str, ...] = ("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",)
        ) -> list[str]:
    """Runs one JavaClient command (or another `main_class` of
    compat-tests/java taking a properties file first) with `config` as its
    client properties; returns the lines it printed. Raises JavaClientError
    if it fails."""
    with tempfile.NamedTemporaryFile("w", suffix=".properties", delete=False) as f:
        for key, value in config.items():
            f.write(f"{key}={value}\n")
        path = f.name
    try:
        done = subprocess.run(
            ["java", *java_options, "-cp", _classpath(), main_class, path, *args],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        Path(path).unlink(missing_ok=True)
    if done.returncode != 0:
        name = main_class.rsplit(".", 1)[-1]
        raise JavaClientError(f"{name} {' '.join(args)} exited {done.returncode}:\n"
                              f"{done.stdout[-2000:]}\n{done.stderr[-6000:]}")
    return done.stdout.splitlines()


def run_streams(config: dict[str, str], *args: str, timeout: float = 120) -> list[str]:
    """Runs compat-tests/java's `StreamsApp` (Kafka Streams; see its
    Javadoc for the arguments) with `config` as its properties; returns the
    lines it printed. $GREGOR_STREAMS_LOG_LEVEL (warn by default; info,
    debug) sets how much of Streams' log lands in a failure's message."""
    level = os.environ.get("GREGOR_STREAMS_LOG_LEVEL", "warn")
    return run(config, *args, timeout=timeout, main_class="gregor.compat.StreamsApp",
               java_options=(f"-Dorg.slf4j.simpleLogger.defaultLogLevel={level}",
                             "-Dorg.slf4j.simpleLogger.showDateTime=true"))


class StreamsProcess:
    """compat-tests/java's `StreamsApp` running in the background, for tests
    that crash it (SIGKILL) or stop it when its output is complete (its
    config's `gregor.stop.file`)."""

    def __init__(self, config: dict[str, str], *args: str):
        with tempfile.NamedTemporaryFile("w", suffix=".properties", delete=False) as f:
            for key, value in config.items():
                f.write(f"{key}={value}\n")
            self._config = Path(f.name)
        self._out = tempfile.TemporaryFile("w+")
        self._err = tempfile.TemporaryFile("w+")
        level = os.environ.get("GREGOR_STREAMS_LOG_LEVEL", "warn")
        self.process = subprocess.Popen(
            ["java", f"-Dorg.slf4j.simpleLogger.defaultLogLevel={level}",
             "-cp", _classpath(), "gregor.compat.StreamsApp", str(self._config), *args],
            stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL)

    def lines(self) -> list[str]:
        self._out.seek(0)
        return self._out.read().splitlines()

    def output(self) -> str:
        """The tail of what it printed, both streams."""
        self._err.seek(0)
        return "\n".join(self.lines()[-40:]) + "\n" + self._err.read()[-6000:]

    def kill(self) -> None:
        """SIGKILL: a crash, nothing committed or closed."""
        self.process.kill()
        self.process.wait(30)
        self._config.unlink(missing_ok=True)

    def wait(self, timeout: float = 120) -> list[str]:
        """Waits for it to exit; returns what it printed. Raises
        JavaClientError if it failed."""
        code = self.process.wait(timeout)
        self._config.unlink(missing_ok=True)
        if code != 0:
            raise JavaClientError(f"StreamsApp exited {code}:\n{self.output()}")
        return self.lines()


def run_tool(main_class: str, *args: str, stdin: str | None = None,
             timeout: float = 120) -> str:
    """Runs one of Kafka's command-line tools (the class a `kafka-*.sh`
    script runs, e.g. `org.apache.kafka.tools.TopicCommand`) as the script
    would; returns what it printed. Raises JavaClientError if it fails."""
    done = subprocess.run(
        ["java", "-cp", _classpath(), main_class, *args],
        input=stdin, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise JavaClientError(f"{main_class} {' '.join(args)} exited {done.returncode}:\n"
                              f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout
