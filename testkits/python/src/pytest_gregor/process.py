"""Running `gregor broker --dev` as a child process: finding the binary,
starting it with an admin listener on a free loopback port, reading the
bootstrap address it prints first, keeping its output in a log file, and
stopping it with SIGTERM (SIGKILL if it has not exited 20 s later).

A broker that is still running when the interpreter exits is stopped then,
so that an interrupted test run leaves no broker behind."""

from __future__ import annotations

import atexit
import itertools
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Type, TypeVar, Union

from .admin_http import AdminHttp
from .errors import GregorError, GregorStartError
from .wait import wait_for

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
LOG_TAIL_LINES = 60
# A free port picked for the admin listener can be taken by someone else
# before the broker binds it: the start is retried with another.
START_ATTEMPTS = 3

OverrideValue = Union[str, int, float, bool]

P = TypeVar("P", bound="GregorProcess")

_running: List["GregorProcess"] = []
_names = itertools.count(1)


def find_binary(option: Optional[str] = None) -> str:
    """The gregor executable: $GREGOR_BIN, else `option` (pytest's
    --gregor-bin), else `gregor` on PATH. A bare name is looked up on PATH."""
    for source, wanted in (("GREGOR_BIN", os.environ.get("GREGOR_BIN")),
                           ("--gregor-bin", option)):
        if wanted:
            found = shutil.which(wanted)
            if found is None:
                raise GregorStartError(f"{source} names {wanted}, which is not an executable file")
            return found
    found = shutil.which("gregor")
    if found is None:
        raise GregorStartError("no gregor binary: set GREGOR_BIN, pass --gregor-bin to pytest, "
                               "or put gregor on PATH")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def setting(value: OverrideValue) -> str:
    """A Python value as a broker setting: booleans are Kafka's true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def running_processes() -> List["GregorProcess"]:
    """The brokers started and not yet stopped, oldest first."""
    return list(_running)


class GregorProcess:
    """One `gregor broker --dev` process with its admin listener: the base of
    GregorBroker (one broker) and GregorCluster (several in one process)."""

    kind = "broker"
    # An admin endpoint that answers once the listener serves.
    ready_path = "/health"

    def __init__(self, process: subprocess.Popen, output: threading.Thread,
                 command: Sequence[str], bootstrap: str, admin_url: str, log_path: Path, name: str):
        self._process = process
        self._output = output
        self.command = list(command)
        #: The value for `bootstrap.servers`.
        self.bootstrap = bootstrap
        #: The admin listener, e.g. "http://127.0.0.1:40123".
        self.admin_url = admin_url
        #: The broker's stderr and stdout: kept after it stops.
        self.log_path = log_path
        self.name = name
        self._admin = AdminHttp(admin_url)
        self._stop_note = ""
        _running.append(self)

    wait_for = staticmethod(wait_for)

    @classmethod
    def _launch(cls: Type[P], binary: str, extra_args: Sequence[str],
                overrides: Optional[Mapping[str, OverrideValue]], emulate_kafka: Optional[str],
                log_dir: Optional[Union[str, Path]], startup_timeout: float) -> P:
        settings: Dict[str, str] = {key: setting(value) for key, value in (overrides or {}).items()}
        chosen_admin = "admin.listener" in settings
        if log_dir is None:
            log_dir = tempfile.mkdtemp(prefix="gregor-logs-")
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        name = f"{cls.kind}-{next(_names)}"
        log_path = log_dir / f"{name}.log"
        attempt = 0
        while True:
            attempt += 1
            if not chosen_admin:
                settings["admin.listener"] = f"127.0.0.1:{free_port()}"
            command = [binary, "broker", "--dev", "--port", "0", *extra_args]
            if emulate_kafka is not None:
                command += ["--emulate-kafka", emulate_kafka]
            for key, value in settings.items():
                command += ["--override", f"{key}={value}"]
            try:
                process, bootstrap, output = _start(command, log_path, startup_timeout)
                break
            except _PortTaken:
                if chosen_admin or attempt == START_ATTEMPTS:
                    raise GregorStartError(f"{name}: a port it needed was taken; "
                                           f"log: {log_path}\n{_tail(log_path)}") from None
        host, port = settings["admin.listener"].rsplit(":", 1)
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        broker = cls(process, output, command, bootstrap, f"http://{host}:{port}", log_path, name)
        try:
            broker._wait_ready(startup_timeout)
        except BaseException:
            broker.shutdown()
            raise
        return broker

    def _wait_ready(self, timeout: float) -> None:
        def serving() -> bool:
            if not self.running:
                raise GregorStartError(f"{self.name} exited with code {self.returncode} while "
                                       f"starting; log: {self.log_path}\n{self.log_tail()}")
            try:
                self._admin.get(self.ready_path)
                return True
            except GregorError:
                return False

        try:
            wait_for(serving, timeout, f"{self.name}'s admin listener at {self.admin_url}", 0.05)
        except GregorStartError:
            raise
        except GregorError as late:
            raise GregorStartError(f"{late}; log: {self.log_path}\n{self.log_tail()}") from None

    # -- the process ---------------------------------------------------------

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    @property
    def returncode(self) -> Optional[int]:
        """The exit code once stopped (negative: the signal that ended it)."""
        return self._process.poll()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of the broker's log (its stderr and stdout)."""
        return _tail(self.log_path, lines)

    def shutdown(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """Stops the process with SIGTERM, or SIGKILL if it has not exited
        after `timeout` seconds; returns its exit code (0 after a clean stop).
        A dev broker removes its data and prints its lint findings to the log
        as it stops. Calling it again returns the exit code again."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._stop_note = f"did not exit within {timeout:g} s of SIGTERM: killed"
                self._process.kill()
                self._process.wait()
        self._output.join(5)
        if self in _running:
            _running.remove(self)
        return self._process.returncode

    def describe_exit(self) -> str:
        """Why the broker stopped, for reports."""
        if self._stop_note:
            return f"{self.name} {self._stop_note}"
        return f"{self.name} exited with code {self.returncode}"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited {self.returncode}"
        return (f"<{type(self).__name__} {self.name} {self.bootstrap} "
                f"admin={self.admin_url} {state}>")


class _PortTaken(Exception):
    pass


def _start(command: List[str], log_path: Path, timeout: float):
    """Starts the process; returns it, the first line it printed (the
    bootstrap address) and the thread copying the rest of its stdout to the
    log. Raises _PortTaken if it could not bind a port."""
    with open(log_path, "ab") as log:
        attempt_start = log.tell()
        log.write(f"$ {' '.join(command)}\n".encode())
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=log)
    first_line: "queue.Queue[bytes]" = queue.Queue()

    def drain() -> None:
        # Everything after the first line goes to the log, so that a broker
        # printing to stdout never blocks on a full pipe.
        with open(log_path, "ab") as rest:
            stream = process.stdout
            first_line.put(stream.readline())
            for line in iter(stream.readline, b""):
                rest.write(line)
        stream.close()

    output = threading.Thread(target=drain, name=f"gregor-stdout-{process.pid}", daemon=True)
    output.start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = first_line.get(timeout=0.05)
            break
        except queue.Empty:
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise GregorStartError(f"printed no address within {timeout:g} s; log: "
                                       f"{log_path}\n{_tail(log_path)}") from None
    bootstrap = line.decode(errors="replace").strip()
    if not bootstrap:
        code = process.wait(STOP_TIMEOUT_S)
        with open(log_path, "rb") as log:
            log.seek(attempt_start)
            if b"Address already in use" in log.read():
                raise _PortTaken()
        raise GregorStartError(f"{' '.join(command)} exited with code {code} before serving; "
                               f"log: {log_path}\n{_tail(log_path)}")
    return process, bootstrap, output


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as log:
            return b"".join(deque(log, maxlen=lines)).decode(errors="replace")
    except OSError as unreadable:
        return f"(cannot read {path}: {unreadable})"


@atexit.register
def _stop_leftovers() -> None:
    for process in running_processes():
        process.shutdown()
