"""Issue #16 point 9: the fault campaign (campaign/), in two parts.

- The checker, on small hand-written histories: a clean one passes, and
  each kind of anomaly it claims to find is found (so a campaign reporting
  zero is worth something); and the nemesis's network cuts really cut.
- A short campaign against a real three-broker cluster in network
  namespaces: idempotent and transactional producers and a read_committed
  consumer group (confluent-kafka and kafka-python) while the nemesis
  kills, pauses, restarts and partitions; zero anomalies. Its length is
  GREGOR_CAMPAIGN_ROUNDS (default 6, one round of each fault); the long
  run is `python -m campaign --rounds 100` (see docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from campaign.checker import ANOMALIES, anomaly_count, check
from campaign.network import CLIENTS, Network, unavailable_reason

ROUNDS = int(os.environ.get("GREGOR_CAMPAIGN_ROUNDS", "6"))

IDEM = "campaign-idempotent"
TXN = "campaign-transactional"


# ---------------------------------------------------------------------------
# the checker on hand-written histories
# ---------------------------------------------------------------------------

class Story:
    """A history built event by event, with a clock that moves on its own."""

    def __init__(self):
        self.events: list[dict] = []

    def add(self, type: str, **fields) -> "Story":
        self.events.append({"t": float(len(self.events)), "type": type, **fields})
        return self

    def ack(self, value, partition, offset):
        return self.add("ack", client="p", topic=IDEM, partition=partition, offset=offset,
                        value=value)

    def txn(self, name, values, partitions, outcome, intent="commit"):
        self.add("txn_begin", client="t", txn=name, topic=TXN, values=values,
                 partitions=partitions, intent=intent)
        return self.add("txn_end", client="t", txn=name, intent=intent, outcome=outcome,
                        error=None)

    def final(self, topic, partition, offset, value):
        return self.add("final", topic=topic, partition=partition, offset=offset, value=value)

    def assign(self, client, *tps):
        return self.add("assign", client=client, partitions=[list(tp) for tp in tps])

    def consume(self, client, topic, partition, offset, value):
        return self.add("consume", client=client, topic=topic, partition=partition,
                        offset=offset, value=value)

    def commit(self, client, topic, partition, offset):
        return self.add("commit", client=client, offsets=[[topic, partition, offset]])

    def committed_at_end(self, topic, partition, offset):
        return self.add("final_committed", topic=topic, partition=partition, offset=offset)

    def found(self) -> dict:
        report = check(self.events)
        return {kind: n for kind, n in report["anomalies"].items() if n}


def clean() -> Story:
    """Two acknowledged records, a committed and an aborted transaction,
    one consumer that reads and commits everything."""
    s = Story()
    s.ack("a0", 0, 0).ack("a1", 0, 1)
    s.txn("x", ["x0", "x1"], [0, 0], "committed")
    s.txn("y", ["y0"], [0], "aborted", intent="abort")
    s.final(IDEM, 0, 0, "a0").final(IDEM, 0, 1, "a1")
    s.final(TXN, 0, 0, "x0").final(TXN, 0, 1, "x1")       # y0 at 3, markers at 2 and 4
    s.assign("c", (IDEM, 0), (TXN, 0))
    s.consume("c", IDEM, 0, 0, "a0").consume("c", IDEM, 0, 1, "a1")
    s.consume("c", TXN, 0, 0, "x0").consume("c", TXN, 0, 1, "x1")
    s.commit("c", IDEM, 0, 2).commit("c", TXN, 0, 5)
    s.committed_at_end(IDEM, 0, 2).committed_at_end(TXN, 0, 5)
    return s


def without(story: Story, **match) -> Story:
    trimmed = Story()
    trimmed.events = [e for e in story.events
                      if not all(e.get(k) == v for k, v in match.items())]
    return trimmed


def test_a_clean_history_has_no_anomaly():
    report = check(clean().events)
    assert anomaly_count(report) == 0, report["examples"]
    assert set(report["anomalies"]) == set(ANOMALIES)
    assert report["operations"]["acknowledged"] == 2
    assert report["operations"]["transactions"] == {"aborted": 1, "committed": 1}


def test_an_acknowledged_record_missing_from_the_log_is_lost():
    s = without(clean(), type="final", value="a1")
    s = without(s, type="consume", value="a1")
    assert s.found() == {"lost": 1}


def test_an_acknowledged_record_at_another_offset_is_misplaced():
    s = clean()
    s.events = [dict(e, offset=5) if e["type"] == "ack" and e["value"] == "a1" else e
                for e in s.events]
    assert s.found() == {"misplaced": 1}


def test_a_value_twice_in_the_log_is_a_duplicate():
    s = clean().final(IDEM, 0, 2, "a1")
    assert s.found() == {"duplicates": 1}


def test_an_aborted_transaction_read_committed_is_an_aborted_read():
    s = clean().final(TXN, 0, 3, "y0").consume("c", TXN, 0, 3, "y0")
    assert s.found() == {"aborted_reads": 2}               # the final read and the consumer


def test_a_consumer_given_records_of_a_transaction_absent_from_the_log_read_aborted_data():
    s = clean().txn("z", ["z0"], [0], "unknown").consume("c", TXN, 0, 6, "z0")
    assert s.found() == {"aborted_reads": 1, "inconsistent_reads": 1}


def test_part_of_a_committed_transaction_missing_is_torn_and_lost():
    s = without(clean(), type="final", value="x1")
    s = without(s, type="consume", value="x1")
    assert s.found() == {"torn_transactions": 1, "lost": 1}


def test_part_of_a_transaction_of_unknown_outcome_is_torn():
    s = clean().txn("z", ["z0", "z1"], [1, 1], "unknown").final(TXN, 1, 0, "z0")
    assert s.found() == {"torn_transactions": 1}


def test_a_consumed_record_the_log_no_longer_holds_is_an_inconsistent_read():
    s = clean().consume("c", IDEM, 0, 2, "a9")
    assert s.found() == {"inconsistent_reads": 1}


def test_offsets_going_backwards_within_an_assignment_are_nonmonotonic():
    s = clean().consume("c", IDEM, 0, 0, "a0")
    assert s.found() == {"nonmonotonic": 1}


def three_records() -> Story:
    s = Story()
    for offset in range(3):
        s.ack(f"a{offset}", 0, offset).final(IDEM, 0, offset, f"a{offset}")
    return s.assign("c", (IDEM, 0))


def test_a_consumer_jumping_over_a_record_skips_it():
    s = three_records().consume("c", IDEM, 0, 0, "a0").consume("c", IDEM, 0, 2, "a2")
    assert s.found() == {"skipped": 1}


def test_a_record_below_the_final_committed_offset_that_no_consumer_got_is_skipped():
    s = three_records().consume("c", IDEM, 0, 1, "a1").consume("c", IDEM, 0, 2, "a2")
    s.commit("c", IDEM, 0, 3).committed_at_end(IDEM, 0, 3)
    assert s.found() == {"skipped": 1}


def test_resuming_below_an_acknowledged_commit_loses_committed_offsets():
    s = clean().assign("d", (IDEM, 0)).consume("d", IDEM, 0, 0, "a0")
    assert s.found() == {"committed_offsets_lost": 1}


def test_a_final_committed_offset_below_an_acknowledged_commit_is_lost():
    s = without(clean(), type="final_committed", topic=TXN)
    s.committed_at_end(TXN, 0, 2)
    assert s.found() == {"committed_offsets_lost": 1}


@pytest.mark.parametrize("event, kind", [
    ({"type": "broker_crashed", "node": 2, "exit_code": -6}, "crashes"),
    ({"type": "client_crashed", "client": "p", "error": "boom"}, "client_crashes"),
    ({"type": "client_stuck", "client": "p", "waited": 200}, "client_crashes"),
    ({"type": "stalled", "clients": ["p"], "waited": 60}, "stalled"),
    ({"type": "unfinished", "what": "final read", "error": "LSO stuck"}, "unfinished"),
    ({"type": "replicas", "topic": IDEM, "identical": False}, "diverged_replicas"),
])
def test_run_level_failures_are_reported(event, kind):
    s = clean()
    s.add(**event)
    assert s.found() == {kind: 1}


# ---------------------------------------------------------------------------
# the network faults are real
# ---------------------------------------------------------------------------

ECHO_SERVER = """
import socket, sys
server = socket.create_server((sys.argv[1], 7000))
print("listening", flush=True)
while True:
    connection, _ = server.accept()
    connection.sendall(b"hello")
    connection.close()
"""

REACHES = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], 7000), timeout=1) as s:
        sys.exit(0 if s.recv(5) == b"hello" else 1)
except OSError:
    sys.exit(1)
"""


def test_a_cut_link_drops_traffic_both_ways_and_heals():
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with Network([1, 2]) as network:
        server = subprocess.Popen([*network.launcher(1), sys.executable, "-c", ECHO_SERVER,
                                   network.host(1)], stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout.readline().strip() == "listening"

            def reaches(source) -> bool:
                prefix = [] if source == CLIENTS else network.launcher(source)
                return subprocess.run([*prefix, sys.executable, "-c", REACHES,
                                       network.host(1)]).returncode == 0

            assert reaches(2) and reaches(CLIENTS)
            network.cut(1, 2)
            assert not reaches(2) and reaches(CLIENTS)
            network.cut(CLIENTS, 1)
            assert not reaches(2) and not reaches(CLIENTS)
            network.heal()
            assert reaches(2) and reaches(CLIENTS)
        finally:
            server.kill()
            server.wait()


# ---------------------------------------------------------------------------
# a short campaign against a real cluster
# ---------------------------------------------------------------------------

@pytest.mark.timeout(120 + ROUNDS * 20)
def test_short_fault_campaign_finds_no_anomaly(tmp_path):
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    from campaign.runner import run
    # Faults held 1-4 s: some end before broker.session.timeout.ms (3 s),
    # so a killed broker comes back still leading, some after it.
    report = run(ROUNDS, tmp_path, seed=int(os.environ.get("GREGOR_CAMPAIGN_SEED", "1")),
                 hold_s=(1.0, 4.0))
    print(json.dumps(report, indent=2))
    assert report["rounds"] == ROUNDS
    assert report["operations"]["acknowledged"] > 0
    assert report["operations"]["transactions"].get("committed", 0) > 0
    assert report["operations"]["transactions"].get("aborted", 0) > 0
    assert report["operations"]["consumed"] > 0
    assert anomaly_count(report) == 0, (
        f"history in {tmp_path / 'history.jsonl'}:\n"
        + json.dumps(report["examples"], indent=1)[:20000])
