"""kcat (librdkafka CLI) against gregor."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time

import pytest

KCAT = shutil.which("kcat") or shutil.which("kafkacat")
TIMEOUT_S = 30

LINES = [
    ("k1", "v1"),
    ("k2", "hello world"),
    ("k3", "unicode \u00e9\u00e8\u2603"),
    ("k4", "x" * 2000),
    ("k5", "last"),
]


@pytest.fixture(scope="module", autouse=True)
def _need_kcat():
    if KCAT is None:
        pytest.fail("kcat is not installed (apt-get install -y kcat)", pytrace=False)


def kcat(broker, *args, input: bytes | None = None, timeout: float = TIMEOUT_S,
         check: bool = True) -> subprocess.CompletedProcess:
    cmd = [KCAT, "-b", broker.bootstrap, *args]
    try:
        res = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(
            f"kcat hung for {timeout}s: {cmd}\nstdout={e.stdout!r}\nstderr={e.stderr!r}") from None
    if check:
        assert res.returncode == 0, (
            f"kcat exited {res.returncode}: {cmd}\nstdout={res.stdout!r}\nstderr={res.stderr!r}")
    return res


def produce_lines(broker, topic, lines=LINES, headers=("hdr=val",)):
    hdr_args = []
    for h in headers:
        hdr_args += ["-H", h]
    data = "".join(f"{k}:{v}\n" for k, v in lines).encode()
    kcat(broker, "-P", "-t", topic, "-p", "0", "-K:", *hdr_args, input=data)


def test_metadata_list(broker, topic):
    produce_lines(broker, topic, LINES[:1])
    out = kcat(broker, "-L").stdout.decode()
    assert re.search(r"^\s*1 brokers:\s*$", out, re.M), out
    assert re.search(rf"^\s*broker 1 at {re.escape(broker.host)}:{broker.port}\b", out, re.M), out
    assert re.search(rf'^\s*topic "{re.escape(topic)}" with 1 partitions:\s*$', out, re.M), out
    # the topic's partition line follows its topic line
    block = out.split(f'topic "{topic}"', 1)[1].splitlines()[1]
    assert re.match(r"^\s*partition 0, leader 1, replicas: 1, isrs: 1\s*$", block), block


def test_metadata_list_json_single_topic(broker, topic):
    produce_lines(broker, topic, LINES[:1])
    md = json.loads(kcat(broker, "-L", "-J", "-t", topic).stdout)
    assert md["brokers"] == [{"id": 1, "name": f"{broker.host}:{broker.port}"}]
    assert md["originating_broker"]["id"] == 1
    topics = {t["topic"]: t for t in md["topics"]}
    assert list(topics) == [topic]
    t = topics[topic]
    assert "error" not in t, t
    assert len(t["partitions"]) == 1
    p = t["partitions"][0]
    assert p["partition"] == 0 and p["leader"] == 1
    assert [r["id"] for r in p["replicas"]] == [1]
    assert [r["id"] for r in p["isrs"]] == [1]


def test_produce_consume_roundtrip_with_headers(broker, topic):
    produce_lines(broker, topic, LINES, headers=("hdr=val", "trace=abc-123"))
    fmt = "p=%p o=%o k=%k v=%s h=%h\\n"
    out = kcat(broker, "-C", "-t", topic, "-o", "beginning", "-e", "-f", fmt).stdout.decode()
    expected = [f"p=0 o={i} k={k} v={v} h=hdr=val,trace=abc-123" for i, (k, v) in enumerate(LINES)]
    assert out.splitlines() == expected


def test_consume_json_envelope(broker, topic):
    before = int(time.time() * 1000)
    produce_lines(broker, topic, LINES[:3])
    after = int(time.time() * 1000)
    out = kcat(broker, "-C", "-t", topic, "-o", "beginning", "-e", "-J").stdout.decode()
    msgs = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [m["offset"] for m in msgs] == [0, 1, 2]
    assert [m["key"] for m in msgs] == [k for k, _ in LINES[:3]]
    assert [m["payload"] for m in msgs] == [v for _, v in LINES[:3]]
    for m in msgs:
        assert m["topic"] == topic and m["partition"] == 0
        assert m["headers"] == ["hdr", "val"]
        assert m["tstype"] == "create"
        assert before - 1000 <= m["ts"] <= after + 1000, (before, m["ts"], after)
        assert m["broker"] == 1


def test_consume_exits_at_end_of_partition(broker, topic):
    produce_lines(broker, topic, LINES[:2])
    t0 = time.monotonic()
    res = kcat(broker, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%s\\n", timeout=20)
    assert res.stdout.decode().splitlines() == ["v1", "hello world"]
    assert time.monotonic() - t0 < 20
    # -e from the end: nothing to read, exits anyway
    res = kcat(broker, "-C", "-t", topic, "-o", "end", "-e", "-f", "%s\\n", timeout=20)
    assert res.stdout == b""


def test_consume_from_offset_one_count_one(broker, topic):
    produce_lines(broker, topic, LINES)
    out = kcat(broker, "-C", "-t", topic, "-p", "0", "-o", "1", "-c", "1",
               "-f", "o=%o k=%k v=%s\\n").stdout.decode()
    assert out.splitlines() == ["o=1 k=k2 v=hello world"]
    out = kcat(broker, "-C", "-t", topic, "-p", "0", "-o", "3", "-e",
               "-f", "o=%o k=%k\\n").stdout.decode()
    assert out.splitlines() == ["o=3 k=k4", "o=4 k=k5"]


def test_second_produce_appends(broker, topic):
    produce_lines(broker, topic, LINES[:2])
    produce_lines(broker, topic, LINES[2:4], headers=())
    out = kcat(broker, "-C", "-t", topic, "-o", "beginning", "-e",
               "-f", "o=%o k=%k h=%h\\n").stdout.decode()
    assert out.splitlines() == ["o=0 k=k1 h=hdr=val", "o=1 k=k2 h=hdr=val", "o=2 k=k3 h=", "o=3 k=k4 h="]
