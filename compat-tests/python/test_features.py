"""Feature flags (KIP-584; issues 12 and 14): UpdateFeatures through Kafka's
own `kafka-features.sh` (FeatureCommand, the Java Admin) and franz-go
(kmsg), ApiVersions v3 showing what was finalized, Kafka's refusals,
the finalized levels kept across a restart — and clients following them:
with `transaction.version` downgraded to 1 the Java producer commits its
transaction with the classic protocol (EndTxn below v5, in the broker's
request journal), and with `group.version` disabled a KIP-848 consumer is
refused until it is enabled again."""

from __future__ import annotations

import re
import uuid

import pytest

import go_client
import java_client
from conftest import FaultPlane, free_port
from go_client import FRANZ

pytestmark = pytest.mark.timeout(300)

TOOL = "org.apache.kafka.tools.FeatureCommand"
INVALID_UPDATE_VERSION = 95


@pytest.fixture
def featured(broker_factory):
    port = free_port()
    broker = broker_factory(**{"admin.listener": f"127.0.0.1:{port}",
                               "admin.fault.plane.enable": "true"})
    return broker, FaultPlane(port)


def describe(broker) -> dict[str, tuple[str, str, str, str]]:
    """{feature: (min, max, finalized, epoch)} as kafka-features.sh prints them."""
    out = java_client.run_tool(TOOL, "--bootstrap-server", broker.bootstrap, "describe")
    line = re.compile(r"Feature: (\S+)\s+SupportedMinVersion: (\S+)\s+SupportedMaxVersion: "
                      r"(\S+)\s+FinalizedVersionLevel: (\S+)\s+Epoch: (\S+)")
    return {m.group(1): m.groups()[1:] for m in map(line.fullmatch, out.splitlines()) if m}


def tool(broker, *args: str) -> str:
    return java_client.run_tool(TOOL, "--bootstrap-server", broker.bootstrap, *args)


def test_kafka_features_and_franz_go_update_and_describe_features(featured):
    broker, _ = featured
    assert describe(broker) == {"group.version": ("0", "1", "1", "0"),
                                "kraft.version": ("0", "1", "0", "0"),
                                "metadata.version": ("3.3-IV3", "4.4-IV2", "4.4-IV2", "0"),
                                "streams.version": ("0", "1", "1", "0"),
                                "transaction.version": ("0", "2", "2", "0")}
    franz = go_client.call(FRANZ, broker.bootstrap, "features").lines
    assert franz == ["supported metadata.version 7 33", "supported kraft.version 0 1",
                     "supported group.version 0 1", "supported transaction.version 0 2",
                     "supported streams.version 0 1",
                     "finalized group.version 1", "finalized metadata.version 33",
                     "finalized streams.version 1", "finalized transaction.version 2",
                     "epoch 0"]

    # A dry run changes nothing; the real one is seen by both clients.
    assert tool(broker, "downgrade", "--feature", "transaction.version=1", "--dry-run") \
        .strip() == "transaction.version can be downgraded to 1."
    assert describe(broker)["transaction.version"][2] == "2"
    assert tool(broker, "downgrade", "--feature", "transaction.version=1").strip() == \
        "transaction.version was downgraded to 1."
    assert describe(broker)["transaction.version"] == ("0", "2", "1", "1")
    assert "finalized transaction.version 1" in \
        go_client.call(FRANZ, broker.bootstrap, "features").lines

    # Kafka's refusals: out of range, a downgrade that does not say so.
    with pytest.raises(java_client.JavaClientError) as refused:
        tool(broker, "upgrade", "--feature", "transaction.version=3")
    assert ("Invalid update version 3 for feature transaction.version. "
            "Local controller 1 only supports versions 0-2") in str(refused.value)
    upgrade_down = go_client.call(FRANZ, broker.bootstrap, "update-feature",
                                  "transaction.version", "0", "1").lines
    assert upgrade_down == [
        f"updated {INVALID_UPDATE_VERSION} The update failed for all features since the "
        "following feature had an error: Invalid update version 0 for feature "
        "transaction.version. Can't downgrade the version of this feature without setting "
        "the upgrade type to either safe or unsafe downgrade."]
    assert go_client.call(FRANZ, broker.bootstrap, "update-feature", "share.version", "1",
                          "1").lines[0].endswith("does not support this feature.")
    # franz-go puts it back (v2: no per-feature results).
    assert go_client.call(FRANZ, broker.bootstrap, "update-feature", "transaction.version",
                          "2", "1").lines == ["updated 0"]
    assert describe(broker)["transaction.version"] == ("0", "2", "2", "2")

    # metadata.version as Kafka 4.4's: a downgrade across levels that
    # changed the metadata is refused (4.4-IV1 and -IV2 did).
    with pytest.raises(java_client.JavaClientError) as refused:
        tool(broker, "downgrade", "--metadata", "4.3-IV0")
    assert ("Unsupported metadata.version downgrade from 33 to 30. Refusing to perform the "
            "requested downgrade because it might delete metadata information.") \
        in str(refused.value)
    assert tool(broker, "upgrade", "--metadata", "4.4-IV2").strip().endswith(
        "metadata.version was upgraded to 33.")


def test_clients_follow_the_finalized_levels(featured):
    broker, plane = featured
    topic = f"tv-{uuid.uuid4().hex[:6]}"
    java_client.run({"bootstrap.servers": broker.bootstrap}, "create", topic, "1")

    def end_txn_versions(transactional_id: str) -> set[int]:
        out = java_client.run({"bootstrap.servers": broker.bootstrap}, "transaction", topic,
                              transactional_id, "commit", "a", "b")
        assert out[-1] == "committed", out
        # The Java producer's client id is "producer-<transactional id>".
        return {e["version"] for e in plane.journal()
                if e["api"] == "EndTxn" and e["client_id"] == f"producer-{transactional_id}"}

    v2 = end_txn_versions("tv2-producer")
    assert v2 and min(v2) >= 5, ("transactions V2 at level 2", v2)
    tool(broker, "downgrade", "--feature", "transaction.version=1")
    try:
        versions = end_txn_versions("tv1-producer")
        assert versions and max(versions) <= 4, versions
    finally:
        tool(broker, "upgrade", "--feature", "transaction.version=2")

    group_config = {"bootstrap.servers": broker.bootstrap, "group.protocol": "consumer"}
    assert tool(broker, "disable", "--feature", "group.version").strip() == \
        "group.version was disabled."
    try:
        assert "group.version" not in {line.split()[1] for line in go_client.call(
            FRANZ, broker.bootstrap, "features").lines if line.startswith("finalized")}
        with pytest.raises(java_client.JavaClientError) as refused:
            java_client.run(group_config, "consume", topic, "kip848-off", "2", timeout=60)
        assert "UnsupportedVersion" in str(refused.value), str(refused.value)[-2000:]
    finally:
        tool(broker, "upgrade", "--feature", "group.version=1")
    consumed = java_client.run(group_config, "consume", topic, "kip848-on", "4", timeout=90)
    assert [line for line in consumed if line.startswith("record")][:1], consumed


def test_finalized_levels_survive_a_restart(featured):
    broker, _ = featured
    tool(broker, "downgrade", "--feature", "transaction.version=1")
    before = describe(broker)
    broker.restart()
    assert describe(broker) == before
    assert before["transaction.version"][2] == "1"
    tool(broker, "upgrade", "--feature", "transaction.version=2")
