"""Kafka's Java client (kafka-clients 4.4) for the compatibility tests:
compat-tests/java's `JavaClient`, built with Maven on first use (run-all.sh
builds it beforehand), run as a process whose printed facts the tests
assert."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

JAVA_DIR = Path(__file__).resolve().parent.parent / "java"
TARGET = JAVA_DIR / "target"


def _classpath() -> str:
    jar = TARGET / "gregor-compat-java-0.1.0.jar"
    deps = TARGET / "classpath.txt"
    source = JAVA_DIR / "src" / "main" / "java" / "gregor" / "compat" / "JavaClient.java"
    pom = JAVA_DIR / "pom.xml"
    if not (jar.exists() and deps.exists()) or \
            jar.stat().st_mtime < max(source.stat().st_mtime, pom.stat().st_mtime):
        subprocess.run(["mvn", "-q", "-B", "-f", str(pom), "package"],
                       check=True, capture_output=True, timeout=600)
    return f"{jar}:{deps.read_text().strip()}"


class JavaClientError(AssertionError):
    pass


def run(config: dict[str, str], *args: str, timeout: float = 120) -> list[str]:
    """Runs one JavaClient command with `config` as its client properties;
    returns the lines it printed. Raises JavaClientError if it fails."""
    with tempfile.NamedTemporaryFile("w", suffix=".properties", delete=False) as f:
        for key, value in config.items():
            f.write(f"{key}={value}\n")
        path = f.name
    try:
        done = subprocess.run(
            ["java", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", _classpath(),
             "gregor.compat.JavaClient", path, *args],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        Path(path).unlink(missing_ok=True)
    if done.returncode != 0:
        raise JavaClientError(f"JavaClient {' '.join(args)} exited {done.returncode}:\n"
                              f"{done.stderr[-4000:]}")
    return done.stdout.splitlines()


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
