"""The Go Kafka clients for the compatibility tests -- franz-go, Sarama and
segmentio/kafka-go: compat-tests/go's `gregor-go-client`, built with
`go build` on first use (and again whenever a source, go.mod or go.sum is
newer than the binary) into compat-tests/go/bin/, run as a process whose
printed facts the tests assert.

The build takes its modules from the module cache only (GOPROXY=off):
run-all.sh fills it with `go mod download` beforehand."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

GO_DIR = Path(__file__).resolve().parent.parent / "go"
BINARY = GO_DIR / "bin" / "gregor-go-client"

# The libraries' names as the command line takes them.
FRANZ, SARAMA, KAFKA_GO = "franz", "sarama", "kafka-go"
LIBRARIES = (FRANZ, SARAMA, KAFKA_GO)


class GoClientError(AssertionError):
    pass


def binary() -> Path:
    sources = [*GO_DIR.glob("*.go"), GO_DIR / "go.mod", GO_DIR / "go.sum"]
    newest = max(p.stat().st_mtime for p in sources)
    if BINARY.exists() and BINARY.stat().st_mtime >= newest:
        return BINARY
    BINARY.parent.mkdir(exist_ok=True)
    partial = BINARY.with_name(f"{BINARY.name}.{os.getpid()}.tmp")
    env = {**os.environ, "GOPROXY": "off", "GOTOOLCHAIN": "local"}
    try:
        done = subprocess.run(
            ["go", "build", "-mod=readonly", "-buildvcs=false", "-o", str(partial), "."],
            cwd=GO_DIR, env=env, capture_output=True, text=True, timeout=900,
            stdin=subprocess.DEVNULL)
    except FileNotFoundError as e:
        raise GoClientError("`go` is not installed (run-all.sh installs golang-go)") from e
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise GoClientError(f"go build in {GO_DIR} failed (modules missing? run "
                            f"`go mod download` there):\n{done.stderr[-4000:]}")
    partial.replace(BINARY)
    return BINARY


@dataclass
class Outcome:
    code: int
    lines: list[str]
    stderr: str


def call(library: str, bootstrap: str, *args: str, timeout: float = 60,
         **flags: str) -> Outcome:
    """Runs `gregor-go-client` with `library` and the command `args`;
    `flags` become its flags (security_protocol="SASL_SSL" is
    -security-protocol SASL_SSL). Returns whatever it did."""
    argv = [str(binary()), "-bootstrap", bootstrap]
    for name, value in flags.items():
        argv += [f"-{name.replace('_', '-')}", str(value)]
    argv += [library, *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return Outcome(done.returncode, done.stdout.splitlines(), done.stderr)


def run(library: str, bootstrap: str, *args: str, timeout: float = 60,
        **flags: str) -> list[str]:
    """As `call`; returns the lines it printed, or raises GoClientError if it
    failed."""
    outcome = call(library, bootstrap, *args, timeout=timeout, **flags)
    if outcome.code != 0:
        raise GoClientError(
            f"gregor-go-client {library} {' '.join(args)} exited {outcome.code}:\n"
            f"stdout: {outcome.lines}\n{outcome.stderr[-4000:]}")
    return outcome.lines
