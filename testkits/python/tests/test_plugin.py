"""pytest-gregor's own tests: every helper against the real binary (no Kafka
client needed), and what the plugin does around a test — the broker log on
a failing test's report, an error at teardown for a broker that died, a
clear message for a missing binary.

    GREGOR_BIN=target/debug/gregor pytest testkits/python/tests
"""

from __future__ import annotations

import os
import signal
import socket

import pytest

from pytest_gregor import (GregorAdminError, GregorBroker, GregorCluster, GregorStartError,
                           GregorTimeout, find_binary, wait_for)

pytest_plugins = ["pytester"]


def test_a_broker_arms_lists_and_clears_faults(gregor_broker: GregorBroker):
    armed = gregor_broker.arm(api="Produce", action={"error": 6}, count=2, topic="orders",
                              partition=0, client_id="app")
    scheduled = gregor_broker.arm(api=1, action="disconnect",
                                  after={"topic": "orders", "records": 5})
    assert (armed["api"], armed["action"], armed["count"], armed["topic"], armed["partition"],
            armed["client_id"]) == ("Produce", {"error": 6}, 2, "orders", 0, "app")
    assert scheduled["after"] == {"topic": "orders", "records": 5}
    assert [fault["id"] for fault in gregor_broker.faults()] == [armed["id"], scheduled["id"]]
    gregor_broker.clear_faults()
    assert gregor_broker.faults() == []


def test_a_bad_request_raises_with_the_brokers_reason(gregor_broker: GregorBroker):
    with pytest.raises(GregorAdminError, match="unknown api") as refused:
        gregor_broker.arm(api="NoSuchApi", action={"error": 6})
    assert refused.value.status == 400
    with pytest.raises(GregorAdminError) as missing:
        gregor_broker.pause("never-produced-to", 0)
    assert missing.value.status == 404


def test_a_brokers_clock_moves_forward_on_request(gregor_broker: GregorBroker):
    before = gregor_broker.clock()
    after = gregor_broker.advance_clock(90_000)
    assert after["offset_ms"] == before["offset_ms"] + 90_000
    assert after["now_ms"] >= before["now_ms"] + 90_000
    assert gregor_broker.clock()["offset_ms"] == after["offset_ms"]


def test_a_brokers_clients_are_cut_and_healed(gregor_broker: GregorBroker):
    assert gregor_broker.clients_cut() is None
    gregor_broker.cut_clients("black_hole")
    assert gregor_broker.clients_cut() == "black_hole"
    gregor_broker.cut_clients("refuse")
    assert gregor_broker.clients_cut() == "refuse"
    gregor_broker.heal_clients()
    assert gregor_broker.clients_cut() is None


def test_a_fresh_broker_has_an_empty_journal_and_no_findings(gregor_broker: GregorBroker):
    assert gregor_broker.journal() == []
    assert gregor_broker.lint() == []


def test_the_factory_passes_overrides_and_emulation(gregor_broker_factory):
    broker = gregor_broker_factory({"auto.create.topics.enable": False}, emulate_kafka="3.6")
    assert "auto.create.topics.enable=false" in broker.command
    assert broker.command[broker.command.index("--emulate-kafka") + 1] == "3.6"
    assert broker.running


def test_a_broker_outside_pytest_is_a_context_manager(tmp_path):
    with GregorBroker.start(log_dir=tmp_path) as broker:
        assert broker.clock()["offset_ms"] == 0
    assert broker.returncode == 0
    assert "gregor lint: no findings" in broker.log_path.read_text(), "the log is kept"


def test_a_cluster_stops_kills_restarts_and_moves_leaders(gregor_cluster: GregorCluster):
    assert [b["node_id"] for b in gregor_cluster.brokers()] == [1, 2, 3]
    assert gregor_cluster.bootstrap == ",".join(b["address"] for b in gregor_cluster.brokers())
    assert gregor_cluster.leader_of("no-such-topic", 0) is None
    assert gregor_cluster.isr("no-such-topic", 0) == []

    gregor_cluster.stop(2)
    gregor_cluster.kill(3)
    assert [b["running"] for b in gregor_cluster.brokers()] == [True, False, False]
    gregor_cluster.restart(2)
    gregor_cluster.restart(3)
    assert all(b["running"] for b in gregor_cluster.brokers())
    with pytest.raises(GregorAdminError) as unknown:
        gregor_cluster.kill(9)
    assert unknown.value.status == 404
    with pytest.raises(GregorAdminError) as refused:
        gregor_cluster.move_leader("no-such-topic", 0, 1)
    assert refused.value.status == 409


def test_a_cluster_isolates_cuts_pauses_and_heals(gregor_cluster: GregorCluster):
    gregor_cluster.isolate(1)
    gregor_cluster.cut_clients(2, "refuse")
    gregor_cluster.pause_broker(3)
    state = {b["node_id"]: (b["isolated"], b["clients_cut"]) for b in gregor_cluster.brokers()}
    assert state == {1: (True, None), 2: (False, "refuse"), 3: (True, "black_hole")}
    gregor_cluster.heal()
    assert all(not b["isolated"] and b["clients_cut"] is None for b in gregor_cluster.brokers())
    assert gregor_cluster.advance_clock(5_000)["offset_ms"] == 5_000
    assert gregor_cluster.clock()["offset_ms"] == 5_000


def test_wait_for_returns_the_value_or_names_what_never_came():
    assert wait_for(lambda: 7, timeout=1, what="seven") == 7
    with pytest.raises(GregorTimeout, match="gave up after 0.2 s waiting for a miracle"):
        wait_for(lambda: None, timeout=0.2, what="a miracle")


def test_a_failing_test_shows_the_brokers_log(pytester: pytest.Pytester):
    pytester.makepyfile("""
        def test_fails(gregor_broker):
            assert gregor_broker.faults() == ["something"]
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Captured gregor stderr: broker-1 (full log: *broker-1.log)*",
                                 "*gregor broker started*"])


def test_a_broker_that_dies_fails_the_teardown(pytester: pytest.Pytester):
    pytester.makepyfile("""
        import os, shutil, signal

        def test_kills_its_broker(gregor_broker):
            os.kill(gregor_broker.pid, signal.SIGKILL)
            gregor_broker.wait_for(lambda: not gregor_broker.running, 10, "the broker dead")
            # Killed, it could not remove its temporary data.
            shutil.rmtree(gregor_broker.log_path.read_text().split("data_dir=")[1].split()[0])
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*broker-1 exited with code {-signal.SIGKILL}; log: *"])


def test_a_missing_binary_is_named(pytester: pytest.Pytester, monkeypatch):
    monkeypatch.setenv("GREGOR_BIN", os.path.join(str(pytester.path), "no-gregor-here"))
    pytester.makepyfile("""
        def test_needs_a_broker(gregor_broker):
            pass

        def test_needs_none():
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*GregorStartError: GREGOR_BIN names *no-gregor-here, "
                                 "which is not an executable file*"])


def test_the_option_names_the_binary_when_the_environment_does_not(pytester: pytest.Pytester,
                                                                    monkeypatch):
    binary = find_binary()
    monkeypatch.delenv("GREGOR_BIN", raising=False)
    pytester.makepyfile("""
        def test_runs(gregor_broker):
            assert gregor_broker.running
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--gregor-bin={binary}")
    result.assert_outcomes(passed=1)


def test_a_broker_that_cannot_start_says_why(tmp_path):
    with pytest.raises(GregorStartError) as refused:
        GregorBroker.start({"num.partitions": "many"}, log_dir=tmp_path)
    assert 'invalid value "many" for num.partitions' in str(refused.value)
    assert str(tmp_path / "broker-") in str(refused.value), "the log's path"


def test_an_admin_port_already_taken_is_named(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(GregorStartError, match="a port it needed was taken"):
            GregorBroker.start({"admin.listener": address}, log_dir=tmp_path)
