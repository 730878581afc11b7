"""Consumer-group test harness shared by test_groups_*.py.

* ``Member``: one group consumer running in its own Python subprocess (so it
  can be SIGKILLed like a crashed application). The child prints one JSON
  object per line on stdout for every event (rebalance callbacks, assignment
  changes, consumed records, errors) and takes commands on stdin (``close``,
  ``commit``, ``exit``). The parent collects the events in a reader thread.
* ownership checks: from the rebalance-callback timestamps of all members,
  verify that no partition was ever owned by two members at the same time.
* ``settle``: wait until the members' current assignments are disjoint, cover
  the expected partitions and have the expected sizes.
* ``JavaMember``: the same for Kafka's Java client (compat-tests/java
  JavaClient's ``member`` command), with the same events and commands.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

# ---------------------------------------------------------------------------
# child programs
# ---------------------------------------------------------------------------

_COMMON_CHILD = r'''
import json, os, queue, sys, threading, time
ARGS = json.loads(sys.argv[1])
_out_lock = threading.Lock()
def emit(**kw):
    kw["t"] = time.time()
    line = json.dumps(kw)
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
CMDS = queue.Queue()
def _reader():
    for line in sys.stdin:
        line = line.strip()
        if line:
            CMDS.put(line)
    CMDS.put("eof")
threading.Thread(target=_reader, daemon=True).start()
def next_cmd():
    try:
        return CMDS.get_nowait()
    except queue.Empty:
        return None
'''

CONFLUENT_MEMBER = _COMMON_CHILD + r'''
import struct
from confluent_kafka import Consumer, KafkaError, KafkaException

def parts(ps):
    return sorted([p.topic, p.partition] for p in ps)

def generation(c):
    # librdkafka's serialized consumer group metadata: b"CGMDv2:" + int32
    # generation id (native byte order) + group id, member id, instance id.
    try:
        md = c.consumer_group_metadata()
    except Exception:
        return None
    if not isinstance(md, bytes) or not md.startswith(b"CGMDv2:"):
        return None
    return struct.unpack_from("=i", md, 7)[0]

def on_assign(c, ps): emit(ev="assign", parts=parts(ps))
def on_revoke(c, ps): emit(ev="revoke", parts=parts(ps))
def on_lost(c, ps): emit(ev="lost", parts=parts(ps))

conf = dict(ARGS["conf"])
conf["error_cb"] = lambda e: emit(ev="error_cb", code=e.code(), name=e.name(), fatal=e.fatal(), str=e.str())
c = Consumer(conf)
c.subscribe(ARGS["topics"], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
emit(ev="started", pid=os.getpid())
last = None
fatal = False
while True:
    if not fatal:
        try:
            m = c.poll(0.1)
        except KafkaException as ex:
            e = ex.args[0]
            emit(ev="error", code=e.code(), name=e.name(), fatal=e.fatal(), str=e.str())
            fatal = True
            m = None
        if m is not None:
            if m.error():
                e = m.error()
                emit(ev="error", code=e.code(), name=e.name(), fatal=e.fatal(), str=e.str())
                if e.code() == KafkaError._FATAL:
                    fatal = True
            else:
                v = m.value()
                emit(ev="msg", topic=m.topic(), p=m.partition(), o=m.offset(),
                     v=None if v is None else v.decode("utf-8", "replace"))
        try:
            a = (parts(c.assignment()), generation(c), c.memberid())
        except KafkaException:
            a = last
        if a != last:
            emit(ev="assignment", parts=a[0], gen=a[1], member=a[2])
            last = a
    else:
        time.sleep(0.1)
    cmd = next_cmd()
    if cmd is None:
        continue
    if cmd == "close":
        try:
            c.close()
        except Exception as ex:
            emit(ev="close_error", str=str(ex))
        emit(ev="closed")
        break
    elif cmd == "commit":
        try:
            c.commit(asynchronous=False)
            emit(ev="committed")
        except KafkaException as ex:
            emit(ev="commit_error", code=ex.args[0].code(), str=str(ex))
    elif cmd == "info":
        emit(ev="info", member=c.memberid(), gen=generation(c), parts=parts(c.assignment()))
    elif cmd in ("exit", "eof"):
        os._exit(0)
'''

KAFKA_PYTHON_MEMBER = _COMMON_CHILD + r'''
import logging
from kafka import KafkaConsumer
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
import kafka.errors as Errors

logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                    format="%(asctime)s %(name)s %(levelname)s %(message)s")
ASSIGNORS = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor,
             "sticky": StickyPartitionAssignor, "cooperative-sticky": CooperativeStickyAssignor}

def parts(ps):
    return sorted([p.topic, p.partition] for p in ps)

class Listener(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked): emit(ev="revoke", parts=parts(revoked))
    def on_partitions_assigned(self, assigned): emit(ev="assign", parts=parts(assigned))
    def on_partitions_lost(self, lost): emit(ev="lost", parts=parts(lost))

conf = dict(ARGS["conf"])
if "partition_assignment_strategy" in conf:
    conf["partition_assignment_strategy"] = [ASSIGNORS[n] for n in conf["partition_assignment_strategy"]]

def group_md(c):
    try:
        md = c._coordinator.group_metadata()
        return md.generation_id, md.member_id
    except Exception:
        return None, None

c = KafkaConsumer(**conf)
c.subscribe(ARGS["topics"], listener=Listener())
# Metadata before the first join: see conftest.kafka_python_knows.
for topic in ARGS["topics"]:
    c.partitions_for_topic(topic)
emit(ev="started", pid=os.getpid())
last = None
failed = False
while True:
    if not failed:
        try:
            recs = c.poll(timeout_ms=250)
        except Exception as ex:
            emit(ev="error", type=type(ex).__name__, str=str(ex),
                 errno=getattr(ex, "errno", None))
            if isinstance(ex, Errors.FencedInstanceIdError):
                failed = True
            recs = {}
        for tp, ms in recs.items():
            for m in ms:
                v = m.value
                emit(ev="msg", topic=m.topic, p=m.partition, o=m.offset,
                     v=None if v is None else v.decode("utf-8", "replace"))
        a = (parts(c.assignment()),) + group_md(c)
        if a != last:
            emit(ev="assignment", parts=a[0], gen=a[1], member=a[2])
            last = a
    else:
        time.sleep(0.1)
    cmd = next_cmd()
    if cmd is None:
        continue
    if cmd == "close":
        try:
            c.close()
        except Exception as ex:
            emit(ev="close_error", str=repr(ex))
        emit(ev="closed")
        break
    elif cmd == "commit":
        try:
            c.commit()
            emit(ev="committed")
        except Exception as ex:
            emit(ev="commit_error", type=type(ex).__name__, str=str(ex))
    elif cmd == "info":
        gen, member = group_md(c)
        emit(ev="info", member=member, gen=gen, parts=parts(c.assignment()))
    elif cmd in ("exit", "eof"):
        os._exit(0)
'''

AIOKAFKA_MEMBER = _COMMON_CHILD + r'''
import asyncio, logging
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
import aiokafka.errors as Errors

logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                    format="%(asctime)s %(name)s %(levelname)s %(message)s")
ASSIGNORS = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}

def parts(ps):
    return sorted([p.topic, p.partition] for p in ps)

class Listener(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked): emit(ev="revoke", parts=parts(revoked))
    def on_partitions_assigned(self, assigned): emit(ev="assign", parts=parts(assigned))

async def main():
    conf = dict(ARGS["conf"])
    if "partition_assignment_strategy" in conf:
        conf["partition_assignment_strategy"] = tuple(ASSIGNORS[n] for n in conf["partition_assignment_strategy"])
    c = AIOKafkaConsumer(**conf)
    c.subscribe(ARGS["topics"], listener=Listener())
    await c.start()
    emit(ev="started", pid=os.getpid())
    last = None
    failed = False
    def group_md():
        co = c._coordinator
        return getattr(co, "generation", None), getattr(co, "member_id", None)
    while True:
        if not failed:
            try:
                res = await c.getmany(timeout_ms=200)
            except Exception as ex:
                emit(ev="error", type=type(ex).__name__, str=str(ex))
                if isinstance(ex, Errors.KafkaError) and "Fenced" in type(ex).__name__:
                    failed = True
                res = {}
            for tp, ms in res.items():
                for m in ms:
                    v = m.value
                    emit(ev="msg", topic=m.topic, p=m.partition, o=m.offset,
                         v=None if v is None else v.decode("utf-8", "replace"))
            a = (parts(c.assignment()),) + group_md()
            if a != last:
                emit(ev="assignment", parts=a[0], gen=a[1], member=a[2])
                last = a
        else:
            await asyncio.sleep(0.1)
        cmd = next_cmd()
        if cmd is None:
            continue
        if cmd == "close":
            try:
                await c.stop()
            except Exception as ex:
                emit(ev="close_error", str=repr(ex))
            emit(ev="closed")
            return
        elif cmd == "commit":
            try:
                await c.commit()
                emit(ev="committed")
            except Exception as ex:
                emit(ev="commit_error", type=type(ex).__name__, str=str(ex))
        elif cmd in ("exit", "eof"):
            os._exit(0)

asyncio.run(main())
'''

SCRIPTS = {"confluent": CONFLUENT_MEMBER, "kafka-python": KAFKA_PYTHON_MEMBER, "aiokafka": AIOKAFKA_MEMBER}


# ---------------------------------------------------------------------------
# Member: the parent side of one child consumer
# ---------------------------------------------------------------------------

class Member:
    def __init__(self, name: str, kind: str, conf: dict, topics: list[str], log_dir: Path):
        self.name = name
        self.kind = kind
        self.topics = list(topics)
        self.events: list[dict] = []
        self.cond = threading.Condition()
        self.stderr_path = Path(log_dir) / f"{name}.{int(time.time() * 1000)}.stderr"
        self._stderr = open(self.stderr_path, "wb")
        args = json.dumps({"conf": conf, "topics": self.topics})
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPTS[kind], args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            text=True, bufsize=1, env=env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.ended = False

    def _read(self):
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"ev": "garbage", "line": line, "t": time.time()}
            ev["who"] = self.name
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()
        with self.cond:
            self.events.append({"ev": "eof", "t": time.time(), "who": self.name})
            self.cond.notify_all()

    # -- commands ---------------------------------------------------------
    def send(self, cmd: str) -> None:
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def close(self, timeout: float = 30.0) -> None:
        """Ask the child to close its consumer cleanly (LeaveGroup for dynamic members)."""
        n = len(self.snapshot())
        self.send("close")
        self.wait_event(lambda e: e["ev"] == "closed", timeout, "clean close", start=n)
        self.proc.wait(timeout)
        self.ended = True

    def kill(self) -> float:
        """SIGKILL the child; returns the kill time (time.time())."""
        t = time.time()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        with self.cond:
            self.events.append({"ev": "killed", "t": t, "who": self.name})
            self.cond.notify_all()
        self.ended = True
        return t

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self._stderr.close()

    # -- observation --------------------------------------------------------
    def snapshot(self) -> list[dict]:
        with self.cond:
            return list(self.events)

    def wait_event(self, pred, timeout: float, what: str, start: int = 0) -> dict:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev in self.events[start:]:
                    if pred(ev):
                        return ev
                if any(ev["ev"] == "eof" for ev in self.events[start:]):
                    raise AssertionError(
                        f"{self.name}: process ended (exit code {self.proc.poll()}) while waiting "
                        f"for {what}; last events: {self._tail()}\nstderr: {self.stderr_tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{self.name}: timed out after {timeout}s waiting for {what}; "
                        f"last events: {self._tail()}\nstderr: {self.stderr_tail()}")
                self.cond.wait(min(left, 0.2))

    def _tail(self, n: int = 15):
        return [{k: v for k, v in e.items() if k != "v"}
                for e in self.events if e["ev"] != "msg"][-n:]

    def stderr_tail(self, n: int = 30) -> str:
        try:
            lines = self.stderr_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    @property
    def assignment(self) -> frozenset:
        """The child's current assignment (from its latest ``assignment`` event)."""
        for ev in reversed(self.snapshot()):
            if ev["ev"] == "assignment":
                return frozenset((t, p) for t, p in ev["parts"])
            if ev["ev"] in ("closed", "killed", "eof"):
                return frozenset()
        return frozenset()

    def last(self, kind: str) -> dict | None:
        for ev in reversed(self.snapshot()):
            if ev["ev"] == kind:
                return ev
        return None

    def of(self, *kinds: str, since: float = 0.0) -> list[dict]:
        return [e for e in self.snapshot() if e["ev"] in kinds and e["t"] >= since]

    def consumed(self) -> set:
        return {(e["topic"], e["p"], e["o"]) for e in self.snapshot() if e["ev"] == "msg"}

    def errors(self) -> list[dict]:
        return [e for e in self.snapshot() if e["ev"] in ("error", "error_cb", "commit_error")]

    def __repr__(self):
        return f"<Member {self.name} {sorted(self.assignment)}>"


class JavaMember(Member):
    """One group member running Kafka's Java client (kafka-clients 4.4,
    compat-tests/java JavaClient's ``member`` command) in its own JVM: it
    prints the same JSON events as the Python children (``assign``,
    ``revoke``, ``lost``, ``assignment`` with ``gen``/``member``, ``msg``,
    ``error``, ``closed``) and takes the same commands (``close``,
    ``commit``, ``info``, ``exit``). ``conf`` holds the Java client's
    properties (group.id, group.protocol, ...). The JVM ends by itself after
    ``max_seconds``."""

    def __init__(self, name: str, conf: dict, topics: list[str], log_dir: Path,
                 max_seconds: int = 170):
        import java_client
        self.name = name
        self.kind = "java"
        self.topics = list(topics)
        self.events = []
        self.cond = threading.Condition()
        stamp = int(time.time() * 1000)
        self.stderr_path = Path(log_dir) / f"{name}.{stamp}.stderr"
        self._stderr = open(self.stderr_path, "wb")
        properties = Path(log_dir) / f"{name}.{stamp}.properties"
        properties.write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
        cp = java_client.classpath()
        self.proc = subprocess.Popen(
            ["java", *java_client.jvm_options(cp), "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
             "-Dorg.slf4j.simpleLogger.showDateTime=true",
             "-cp", cp, "gregor.compat.JavaClient", str(properties),
             "member", ",".join(self.topics), str(max_seconds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            text=True, bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.ended = False


@pytest.fixture
def members(tmp_path):
    """Factory for child consumers; all are killed at teardown. On failure the
    tails of their stderr are printed (captured into the report)."""
    made: list[Member] = []

    class Factory:
        def __call__(self, name: str, kind: str, conf: dict, topics: list[str]) -> Member:
            """`kind` "java" is a JavaMember, whose `conf` is the Java
            client's properties."""
            m = (JavaMember(name, conf, topics, tmp_path) if kind == "java"
                 else Member(name, kind, conf, topics, tmp_path))
            made.append(m)
            return m

        @property
        def all(self):
            return list(made)

    yield Factory()
    for m in made:
        m.cleanup()
    for m in made:
        tail = m.stderr_tail(20)
        if tail:
            print(f"--- stderr of {m.name} ({m.kind}) ---\n{tail}")


# ---------------------------------------------------------------------------
# group-level checks
# ---------------------------------------------------------------------------

def current_assignments(ms: list[Member]) -> dict[str, frozenset]:
    return {m.name: m.assignment for m in ms}


def settle(ms: list[Member], expected: set, sizes: list[int] | None = None,
           timeout: float = 45.0, what: str = "a settled assignment", hold: float = 0.0) -> dict:
    """Wait until the members' assignments are pairwise disjoint, their union is
    ``expected`` and (if given) their sorted sizes equal ``sizes``. With
    ``hold`` the condition must stay true that long (no further rebalance)."""
    deadline = time.monotonic() + timeout
    held_since = None
    last = None
    while True:
        for m in ms:
            if not m.ended and m.last("eof") is not None:
                raise AssertionError(
                    f"{m.name} exited (code {m.proc.poll()}) while waiting for {what}; "
                    f"last events: {m._tail()}\nstderr: {m.stderr_tail()}")
        cur = current_assignments(ms)
        last = cur
        union = set()
        disjoint = True
        for a in cur.values():
            if union & a:
                disjoint = False
            union |= a
        ok = disjoint and union == set(expected) and (
            sizes is None or sorted(len(a) for a in cur.values()) == sorted(sizes))
        now = time.monotonic()
        if ok:
            if held_since is None:
                held_since = now
            if now - held_since >= hold:
                return cur
        else:
            held_since = None
        if now >= deadline:
            details = "\n".join(f"  {m.name}: {sorted(m.assignment)} errors={m.errors()[-3:]}"
                                for m in ms)
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}: expected {len(expected)} "
                f"partitions split {sizes}; got\n{details}\n"
                f"recent events: {[m._tail(6) for m in ms]}")
        time.sleep(0.1)


def ownership_violations(all_members: list[Member]) -> list[str]:
    """Replay every member's rebalance callbacks (assign / revoke / lost) and
    its end (closed / killed / eof) in wall-clock order; report every moment a
    partition was assigned to a member while another member still owned it."""
    timeline = []
    for m in all_members:
        for e in m.snapshot():
            if e["ev"] in ("assign", "revoke", "lost", "closed", "killed", "eof"):
                timeline.append((e["t"], m.name, e))
    timeline.sort(key=lambda x: x[0])
    owner: dict = {}
    owned: dict[str, set] = {}
    out = []
    for t, who, e in timeline:
        mine = owned.setdefault(who, set())
        if e["ev"] == "assign":
            for tp in map(tuple, e["parts"]):
                o = owner.get(tp)
                if o is not None and o != who:
                    out.append(f"t={t:.3f}: {tp} assigned to {who} while still owned by {o}")
                owner[tp] = who
                mine.add(tp)
        elif e["ev"] in ("revoke", "lost"):
            for tp in map(tuple, e["parts"]):
                mine.discard(tp)
                if owner.get(tp) == who:
                    del owner[tp]
        else:
            for tp in list(mine):
                if owner.get(tp) == who:
                    del owner[tp]
            mine.clear()
    return out


def consumed_union(all_members: list[Member]) -> set:
    out = set()
    for m in all_members:
        out |= m.consumed()
    return out


def wait_all_consumed(all_members: list[Member], produced: set, timeout: float = 40.0):
    deadline = time.monotonic() + timeout
    while True:
        missing = produced - consumed_union(all_members)
        if not missing:
            return
        if time.monotonic() >= deadline:
            sample = sorted(missing)[:10]
            raise AssertionError(
                f"{len(missing)} of {len(produced)} produced records never consumed "
                f"within {timeout}s, e.g. {sample}")
        time.sleep(0.2)


# ---------------------------------------------------------------------------
# Raw group-protocol codec (schema driven, a tiny subset of Kafka's JSON specs)
# ---------------------------------------------------------------------------

import struct  # noqa: E402

from kafka_wire import (Reader, compact_bytes, compact_string, connect, frame, i8, i16, i32,  # noqa: E402
                        i64, nbytes, recv_frame, request_header, string, uvarint)

# field: (name, type, min_version, max_version) ; type is a primitive name, or
# ("array", fields_or_primitive) / ("narray", fields_or_primitive) (nullable from
# the version given as 5th element)
INF = 1 << 15


def _f(name, typ, vmin=0, vmax=INF, nullable_from=INF):
    return (name, typ, vmin, vmax, nullable_from)


API = {}


def _api(key, name, flexible_from, request, response):
    API[name] = {"key": key, "flex": flexible_from, "req": request, "resp": response}


_api(10, "FindCoordinator", 3,
     [_f("key", "string", 0, 3), _f("key_type", "int8", 1), _f("coordinator_keys", ("array", "string"), 4)],
     [_f("throttle_time_ms", "int32", 1), _f("error_code", "int16", 0, 3),
      _f("error_message", "string", 1, 3, 1), _f("node_id", "int32", 0, 3),
      _f("host", "string", 0, 3), _f("port", "int32", 0, 3),
      _f("coordinators", ("array", [_f("key", "string"), _f("node_id", "int32"), _f("host", "string"),
                                    _f("port", "int32"), _f("error_code", "int16"),
                                    _f("error_message", "string", 0, INF, 0)]), 4)])
_api(11, "JoinGroup", 6,
     [_f("group_id", "string"), _f("session_timeout_ms", "int32"), _f("rebalance_timeout_ms", "int32", 1),
      _f("member_id", "string"), _f("group_instance_id", "string", 5, INF, 5),
      _f("protocol_type", "string"),
      _f("protocols", ("array", [_f("name", "string"), _f("metadata", "bytes")])),
      _f("reason", "string", 8, INF, 8)],
     [_f("throttle_time_ms", "int32", 2), _f("error_code", "int16"), _f("generation_id", "int32"),
      _f("protocol_type", "string", 7, INF, 7), _f("protocol_name", "string", 0, INF, 7),
      _f("leader", "string"), _f("skip_assignment", "bool", 9), _f("member_id", "string"),
      _f("members", ("array", [_f("member_id", "string"), _f("group_instance_id", "string", 5, INF, 5),
                               _f("metadata", "bytes")]))])
_api(12, "Heartbeat", 4,
     [_f("group_id", "string"), _f("generation_id", "int32"), _f("member_id", "string"),
      _f("group_instance_id", "string", 3, INF, 3)],
     [_f("throttle_time_ms", "int32", 1), _f("error_code", "int16")])
_api(13, "LeaveGroup", 4,
     [_f("group_id", "string"), _f("member_id", "string", 0, 2),
      _f("members", ("array", [_f("member_id", "string"), _f("group_instance_id", "string", 0, INF, 0),
                               _f("reason", "string", 5, INF, 5)]), 3)],
     [_f("throttle_time_ms", "int32", 1), _f("error_code", "int16"),
      _f("members", ("array", [_f("member_id", "string"), _f("group_instance_id", "string", 0, INF, 0),
                               _f("error_code", "int16")]), 3)])
_api(14, "SyncGroup", 4,
     [_f("group_id", "string"), _f("generation_id", "int32"), _f("member_id", "string"),
      _f("group_instance_id", "string", 3, INF, 3), _f("protocol_type", "string", 5, INF, 5),
      _f("protocol_name", "string", 5, INF, 5),
      _f("assignments", ("array", [_f("member_id", "string"), _f("assignment", "bytes")]))],
     [_f("throttle_time_ms", "int32", 1), _f("error_code", "int16"),
      _f("protocol_type", "string", 5, INF, 5), _f("protocol_name", "string", 5, INF, 5),
      _f("assignment", "bytes")])
_api(8, "OffsetCommit", 8,
     [_f("group_id", "string"), _f("generation_id", "int32", 1), _f("member_id", "string", 1),
      _f("group_instance_id", "string", 7, INF, 7), _f("retention_time_ms", "int64", 2, 4),
      _f("topics", ("array", [_f("name", "string"), _f("partitions", ("array", [
          _f("partition_index", "int32"), _f("committed_offset", "int64"),
          _f("committed_leader_epoch", "int32", 6), _f("commit_timestamp", "int64", 1, 1),
          _f("committed_metadata", "string", 0, INF, 0)]))]))],
     [_f("throttle_time_ms", "int32", 3),
      _f("topics", ("array", [_f("name", "string"), _f("partitions", ("array", [
          _f("partition_index", "int32"), _f("error_code", "int16")]))]))])
_OFFSET_FETCH_PART = [_f("partition_index", "int32"), _f("committed_offset", "int64"),
                      _f("committed_leader_epoch", "int32", 5), _f("metadata", "string", 0, INF, 0),
                      _f("error_code", "int16")]
_api(9, "OffsetFetch", 6,
     [_f("group_id", "string", 0, 7),
      _f("topics", ("array", [_f("name", "string"), _f("partition_indexes", ("array", "int32"))]), 0, 7, 2),
      _f("groups", ("array", [_f("group_id", "string"),
                              _f("topics", ("array", [_f("name", "string"),
                                                      _f("partition_indexes", ("array", "int32"))]),
                                 0, INF, 0)]), 8),
      _f("require_stable", "bool", 7)],
     [_f("throttle_time_ms", "int32", 3),
      _f("topics", ("array", [_f("name", "string"), _f("partitions", ("array", _OFFSET_FETCH_PART))]), 0, 7),
      _f("error_code", "int16", 2, 7),
      _f("groups", ("array", [_f("group_id", "string"),
                              _f("topics", ("array", [_f("name", "string"),
                                                      _f("partitions", ("array", _OFFSET_FETCH_PART))])),
                              _f("error_code", "int16")]), 8)])
_api(15, "DescribeGroups", 5,
     [_f("groups", ("array", "string")), _f("include_authorized_operations", "bool", 3)],
     [_f("throttle_time_ms", "int32", 1),
      _f("groups", ("array", [_f("error_code", "int16"), _f("error_message", "string", 6, INF, 6),
                              _f("group_id", "string"), _f("group_state", "string"),
                              _f("protocol_type", "string"), _f("protocol_data", "string"),
                              _f("members", ("array", [_f("member_id", "string"),
                                                       _f("group_instance_id", "string", 4, INF, 4),
                                                       _f("client_id", "string"), _f("client_host", "string"),
                                                       _f("member_metadata", "bytes"),
                                                       _f("member_assignment", "bytes")])),
                              _f("authorized_operations", "int32", 3)]))])
_api(16, "ListGroups", 3,
     [_f("states_filter", ("array", "string"), 4), _f("types_filter", ("array", "string"), 5)],
     [_f("throttle_time_ms", "int32", 1), _f("error_code", "int16"),
      _f("groups", ("array", [_f("group_id", "string"), _f("protocol_type", "string"),
                              _f("group_state", "string", 4), _f("group_type", "string", 5)]))])
_CGHB_PARTS = ("array", [_f("topic_id", "uuid"), _f("partitions", ("array", "int32"))])
_api(68, "ConsumerGroupHeartbeat", 0,
     [_f("group_id", "string"), _f("member_id", "string"), _f("member_epoch", "int32"),
      _f("instance_id", "string", 0, INF, 0), _f("rack_id", "string", 0, INF, 0),
      _f("rebalance_timeout_ms", "int32"),
      _f("subscribed_topic_names", ("array", "string"), 0, INF, 0),
      _f("subscribed_topic_regex", "string", 1, INF, 0),
      _f("server_assignor", "string", 0, INF, 0),
      _f("topic_partitions", _CGHB_PARTS, 0, INF, 0)],
     [_f("throttle_time_ms", "int32"), _f("error_code", "int16"),
      _f("error_message", "string", 0, INF, 0), _f("member_id", "string", 0, INF, 0),
      _f("member_epoch", "int32"), _f("heartbeat_interval_ms", "int32"),
      _f("assignment", "cghb_assignment")])
_api(42, "DeleteGroups", 2,
     [_f("groups_names", ("array", "string"))],
     [_f("throttle_time_ms", "int32"),
      _f("results", ("array", [_f("group_id", "string"), _f("error_code", "int16")]))])
# ConsumerGroupDescribe (KIP-848): v1 adds each member's type (0 classic, 1
# consumer; KIP-1099). Assignments are structs: ("struct", fields).
_CGD_ASSIGNMENT = ("struct", [_f("topic_partitions", ("array", [
    _f("topic_id", "uuid"), _f("topic_name", "string"), _f("partitions", ("array", "int32"))]))])
_api(69, "ConsumerGroupDescribe", 0,
     [_f("group_ids", ("array", "string")), _f("include_authorized_operations", "bool")],
     [_f("throttle_time_ms", "int32"),
      _f("groups", ("array", [
          _f("error_code", "int16"), _f("error_message", "string", 0, INF, 0),
          _f("group_id", "string"), _f("group_state", "string"), _f("group_epoch", "int32"),
          _f("assignment_epoch", "int32"), _f("assignor_name", "string"),
          _f("members", ("array", [
              _f("member_id", "string"), _f("instance_id", "string", 0, INF, 0),
              _f("rack_id", "string", 0, INF, 0), _f("member_epoch", "int32"),
              _f("client_id", "string"), _f("client_host", "string"),
              _f("subscribed_topic_names", ("array", "string")),
              _f("subscribed_topic_regex", "string", 0, INF, 0),
              _f("assignment", _CGD_ASSIGNMENT), _f("target_assignment", _CGD_ASSIGNMENT),
              _f("member_type", "int8", 1)])),
          _f("authorized_operations", "int32")]))])
_api(47, "OffsetDelete", INF,
     [_f("group_id", "string"),
      _f("topics", ("array", [_f("name", "string"), _f("partitions", ("array", [_f("partition_index", "int32")]))]))],
     [_f("error_code", "int16"), _f("throttle_time_ms", "int32"),
      _f("topics", ("array", [_f("name", "string"), _f("partitions", ("array", [
          _f("partition_index", "int32"), _f("error_code", "int16")]))]))])


def _enc_value(typ, v, version, flex, nullable):
    if isinstance(typ, tuple) and typ[0] == "struct":
        return _enc_struct(typ[1], v or {}, version, flex)
    if isinstance(typ, tuple):
        kind, inner = typ
        if v is None:
            assert nullable, "null array in a non-nullable field"
            return uvarint(0) if flex else i32(-1)
        out = uvarint(len(v) + 1) if flex else i32(len(v))
        for item in v:
            if isinstance(inner, list):
                out += _enc_struct(inner, item, version, flex)
            else:
                out += _enc_value(inner, item, version, flex, False)
        return out
    if typ == "uuid":
        return v or bytes(16)
    if typ == "int8":
        return i8(v or 0)
    if typ == "bool":
        return i8(1 if v else 0)
    if typ == "int16":
        return i16(v or 0)
    if typ == "int32":
        return i32(v or 0)
    if typ == "int64":
        return i64(v or 0)
    if typ == "string":
        if v is None and not nullable:
            v = ""
        return compact_string(v) if flex else string(v)
    if typ == "bytes":
        if v is None and not nullable:
            v = b""
        return compact_bytes(v) if flex else nbytes(v)
    raise ValueError(typ)


def _enc_struct(fields, values: dict, version, flex):
    out = b""
    for name, typ, vmin, vmax, nfrom in fields:
        if not (vmin <= version <= vmax):
            continue
        v = values.get(name)
        if v is None and isinstance(typ, tuple) and version < nfrom:
            v = []
        out += _enc_value(typ, v, version, flex, version >= nfrom)
    if flex:
        out += uvarint(0)
    return out


def _dec_value(r: Reader, typ, version, flex):
    if isinstance(typ, tuple) and typ[0] == "struct":
        return _dec_struct(r, typ[1], version, flex)
    if isinstance(typ, tuple):
        kind, inner = typ
        n = r.uvarint() - 1 if flex else r.i32()
        if n < 0:
            return None
        out = []
        for _ in range(n):
            if isinstance(inner, list):
                out.append(_dec_struct(r, inner, version, flex))
            else:
                out.append(_dec_value(r, inner, version, flex))
        return out
    if typ == "uuid":
        return r.take(16)
    if typ == "cghb_assignment":
        # a nullable struct: int8 -1 for null, else the struct
        if r.i8() < 0:
            return None
        return _dec_struct(r, [_f("topic_partitions", _CGHB_PARTS)], version, flex)
    if typ == "int8":
        return r.i8()
    if typ == "bool":
        return bool(r.i8())
    if typ == "int16":
        return r.i16()
    if typ == "int32":
        return r.i32()
    if typ == "int64":
        return r.i64()
    if typ == "string":
        return r.compact_string() if flex else r.string()
    if typ == "bytes":
        if flex:
            n = r.uvarint()
            return None if n == 0 else r.take(n - 1)
        n = r.i32()
        return None if n < 0 else r.take(n)
    raise ValueError(typ)


def _dec_struct(r: Reader, fields, version, flex) -> dict:
    out = {}
    for name, typ, vmin, vmax, nfrom in fields:
        if vmin <= version <= vmax:
            out[name] = _dec_value(r, typ, version, flex)
    if flex:
        r.skip_tags()
    return out


class GroupWire:
    """One raw connection speaking the group APIs at explicit versions."""

    def __init__(self, host: str, port: int, client_id: str = "gregor-compat-raw"):
        self.sock = connect(host, port)
        self.corr = 0
        self.client_id = client_id

    def call(self, api: str, version: int, **values) -> dict:
        spec = API[api]
        flex = version >= spec["flex"]
        self.corr += 1
        hdr = request_header(spec["key"], version, self.corr, client_id=self.client_id, flexible=flex)
        self.sock.sendall(frame(hdr + _enc_struct(spec["req"], values, version, flex)))
        r = Reader(recv_frame(self.sock))
        corr = r.i32()
        assert corr == self.corr, f"correlation id {corr} != {self.corr}"
        if flex:
            r.skip_tags()
        out = _dec_struct(r, spec["resp"], version, flex)
        assert r.remaining == 0, f"{api} v{version}: {r.remaining} trailing bytes in response"
        return out

    def close(self):
        self.sock.close()


def consumer_subscription(topics: list[str], userdata: bytes = b"") -> bytes:
    """ConsumerProtocolSubscription v0."""
    return i16(0) + i32(len(topics)) + b"".join(string(t) for t in topics) + nbytes(userdata)


def consumer_assignment(assignment: dict[str, list[int]]) -> bytes:
    """ConsumerProtocolAssignment v0."""
    out = i16(0) + i32(len(assignment))
    for t, ps in assignment.items():
        out += string(t) + i32(len(ps)) + b"".join(i32(p) for p in ps)
    return out + nbytes(b"")


def decode_assignment(data: bytes) -> dict[str, list[int]]:
    r = Reader(data)
    r.i16()
    out = {}
    for _ in range(r.i32()):
        t = r.string()
        out[t] = [r.i32() for _ in range(r.i32())]
    return out


# ---------------------------------------------------------------------------
# Broker settings, topics and records for the group suites
# ---------------------------------------------------------------------------

# KIP-848 groups with short timeouts, so that a killed member's session ends
# within seconds.
SESSION_MS = 6000
HEARTBEAT_MS = 1000
FAST_CONSUMER_GROUPS = {
    "group.initial.rebalance.delay.ms": "0",
    "group.consumer.session.timeout.ms": str(SESSION_MS),
    "group.consumer.min.session.timeout.ms": str(SESSION_MS),
    "group.consumer.heartbeat.interval.ms": str(HEARTBEAT_MS),
    "group.consumer.min.heartbeat.interval.ms": str(HEARTBEAT_MS),
}


# ---------------------------------------------------------------------------
# Topics and records
# ---------------------------------------------------------------------------

def create_topic(bootstrap, name, partitions):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=10).values():
        f.result(15)


def produce_round(bootstrap, topic, partitions, tag, per_partition=10) -> set:
    """`per_partition` records into each partition (acks=all); returns their
    (topic, partition, offset)."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    out = set()

    def dr(err, msg):
        assert err is None, err
        out.add((msg.topic(), msg.partition(), msg.offset()))

    for part in range(partitions):
        for i in range(per_partition):
            p.produce(topic, value=f"{tag}-{part}-{i}".encode(), partition=part, on_delivery=dr)
    assert p.flush(30) == 0
    assert len(out) == partitions * per_partition
    return out
