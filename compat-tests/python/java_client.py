"""Kafka's Java client (kafka-clients 4.4) and Kafka Streams 4.4 for the
compatibility tests: compat-tests/java's `JavaClient` and `StreamsApp`,
built with Maven on first use (run-all.sh builds them beforehand), run as
processes whose printed facts the tests assert."""

from __future__ import annotations

import hashlib
import os
import shutil
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


# The suite starts a few hundred JVMs. Two flags halve what each costs on a
# 2-core machine: the classes the clients load come from a class-data
# sharing archive (made by the first run, see _java), and a short-lived
# command compiles with C1 only. JVM warnings go to stderr, never into the
# stdout the tests read.
_LOGGING = ("-Xlog:disable", "-Xlog:all=warning:stderr")
_SHORT_LIVED = ("-XX:TieredStopAtLevel=1",)
_archive_attempted = False


def _archive(cp: str) -> Path:
    """The class-data sharing archive for this classpath, this JVM and this
    build of the jar (any change gives another name; a stale one is never
    used)."""
    jar = TARGET / "gregor-compat-java-0.1.0.jar"
    java = os.path.realpath(shutil.which("java") or "java")
    key = f"{cp}\0{java}\0{jar.stat().st_mtime_ns}".encode()
    return TARGET / f"classes-{hashlib.sha256(key).hexdigest()[:16]}.jsa"


def jvm_options(cp: str) -> list[str]:
    """Options for a long-running `java` process of the suite (Streams, a
    group member): the shared archive if there is one, full JIT."""
    archive = _archive(cp)
    return [*_LOGGING, *([f"-XX:SharedArchiveFile={archive}"] if archive.exists() else [])]


def _java(main_class: str, args: list[str], java_options: tuple[str, ...] = (),
          **kwargs) -> subprocess.CompletedProcess:
    """Runs a short-lived `java` command. The first run without an archive
    writes one at its exit (from the classes it loaded), put in place
    only once complete."""
    global _archive_attempted
    cp = _classpath()
    archive = _archive(cp)
    sharing, dumping = [], None
    if archive.exists():
        sharing = [f"-XX:SharedArchiveFile={archive}"]
    elif not _archive_attempted:
        _archive_attempted = True
        dumping = archive.with_suffix(f".{os.getpid()}.tmp")
        sharing = [f"-XX:ArchiveClassesAtExit={dumping}"]
    try:
        return subprocess.run(["java", *_LOGGING, *_SHORT_LIVED, *sharing, *java_options,
                               "-cp", cp, main_class, *args], **kwargs)
    finally:
        if dumping is not None and dumping.exists():
            os.replace(dumping, archive)


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
        done = _java(main_class, [path, *args], java_options, capture_output=True, text=True,
                     timeout=timeout, stdin=subprocess.DEVNULL)
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
        cp = _classpath()
        self.process = subprocess.Popen(
            ["java", *jvm_options(cp), f"-Dorg.slf4j.simpleLogger.defaultLogLevel={level}",
             "-cp", cp, "gregor.compat.StreamsApp", str(self._config), *args],
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
    done = _java(main_class, list(args), input=stdin, capture_output=True, text=True,
                 timeout=timeout)
    if done.returncode != 0:
        raise JavaClientError(f"{main_class} {' '.join(args)} exited {done.returncode}:\n"
                              f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout
