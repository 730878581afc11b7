"""KIP-848 consumer groups (`group.protocol=consumer`) against gregor:
librdkafka members in child processes (group_harness.Member, so one can be
SIGKILLed), the Java client, Kafka's kafka-consumer-groups tool, confluent's
admin describe, raw ConsumerGroupHeartbeat requests for the error cases, and
a broker restarted (SIGTERM, SIGKILL) under running members.

The broker runs with short consumer-group timeouts so that a killed member's
session ends within seconds."""

from __future__ import annotations

import base64
import time

import pytest
from confluent_kafka import ConsumerGroupType
from confluent_kafka.admin import AdminClient

import java_client
from conftest import started_shared_broker, unique_topic
from group_harness import GroupWire, members  # noqa: F401  (fixture)
from group_harness import create_topic, ownership_violations, produce_round, settle
from group_harness import wait_all_consumed
from group_harness import FAST_CONSUMER_GROUPS as OVERRIDES
from group_harness import HEARTBEAT_MS, SESSION_MS


# Kafka error codes
INVALID_REQUEST = 42
UNKNOWN_MEMBER_ID = 25
GROUP_ID_NOT_FOUND = 69
INCONSISTENT_GROUP_PROTOCOL = 23
FENCED_MEMBER_EPOCH = 110
UNRELEASED_INSTANCE_ID = 111
UNSUPPORTED_ASSIGNOR = 112
STALE_MEMBER_EPOCH = 113


@pytest.fixture(scope="module")
def kip848_broker():
    yield from started_shared_broker("kip848", OVERRIDES)


def member_conf(bootstrap, group, client_id) -> dict:
    # session.timeout.ms and heartbeat.interval.ms belong to the broker in
    # the consumer protocol (librdkafka refuses them).
    return {"bootstrap.servers": bootstrap, "group.id": group, "client.id": client_id,
            "group.protocol": "consumer", "auto.offset.reset": "earliest",
            "enable.auto.commit": True, "auto.commit.interval.ms": 500}


def every(topic, partitions):
    return {(topic, p) for p in range(partitions)}


def duplicates(all_members) -> list:
    seen, dup = set(), []
    for m in all_members:
        for e in m.of("msg"):
            key = (e["topic"], e["p"], e["o"])
            if key in seen:
                dup.append(key)
            seen.add(key)
    return dup


def test_three_librdkafka_members_split_six_partitions_and_a_killed_ones_move(kip848_broker, members):
    bootstrap = kip848_broker.bootstrap
    topic, group = unique_topic("kip848"), unique_topic("g848")
    create_topic(bootstrap, topic, 6)
    ms = [members(f"m{i}", "confluent", member_conf(bootstrap, group, f"m{i}"), [topic])
          for i in range(3)]
    settle(ms, every(topic, 6), sizes=[2, 2, 2], hold=2.0, what="2 partitions each")
    produced = produce_round(bootstrap, topic, 6, "one")
    wait_all_consumed(ms, produced)
    time.sleep(2)   # auto commits of everything consumed so far
    started = time.monotonic()
    ms[0].kill()
    settle(ms[1:], every(topic, 6), sizes=[3, 3], timeout=SESSION_MS / 1000 + 30,
           what="the killed member's partitions with the others")
    assert time.monotonic() - started >= SESSION_MS / 1000 - 1, "moved before the session ended"
    produced |= produce_round(bootstrap, topic, 6, "two")
    wait_all_consumed(ms, produced)
    assert not duplicates(ms), duplicates(ms)[:10]
    assert not ownership_violations(ms), ownership_violations(ms)


def test_a_member_that_closes_hands_its_partitions_over_at_once(kip848_broker, members):
    bootstrap = kip848_broker.bootstrap
    topic, group = unique_topic("kip848"), unique_topic("g848")
    create_topic(bootstrap, topic, 6)
    ms = [members(f"c{i}", "confluent", member_conf(bootstrap, group, f"c{i}"), [topic])
          for i in range(3)]
    settle(ms, every(topic, 6), sizes=[2, 2, 2], hold=1.0)
    produced = produce_round(bootstrap, topic, 6, "one")
    wait_all_consumed(ms, produced)
    started = time.monotonic()
    ms[2].close()
    settle(ms[:2], every(topic, 6), sizes=[3, 3], timeout=20, what="a leave's partitions moved")
    assert time.monotonic() - started < SESSION_MS / 1000, "waited for the session timeout"
    # A new member joins: partitions are revoked before they are given.
    ms.append(members("c3", "confluent", member_conf(bootstrap, group, "c3"), [topic]))
    live = [ms[0], ms[1], ms[3]]
    settle(live, every(topic, 6), sizes=[2, 2, 2], hold=1.0)
    produced |= produce_round(bootstrap, topic, 6, "two")
    wait_all_consumed(ms, produced)
    assert not duplicates(ms), duplicates(ms)[:10]
    assert not ownership_violations(ms), ownership_violations(ms)


def test_describe_and_list_show_a_consumer_group(kip848_broker, members):
    bootstrap = kip848_broker.bootstrap
    topic, group = unique_topic("kip848"), unique_topic("g848")
    create_topic(bootstrap, topic, 4)
    ms = [members(f"d{i}", "confluent", member_conf(bootstrap, group, f"d{i}"), [topic])
          for i in range(2)]
    settle(ms, every(topic, 4), sizes=[2, 2], hold=1.0)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    described = admin.describe_consumer_groups([group])[group].result(15)
    assert described.type == ConsumerGroupType.CONSUMER
    assert len(described.members) == 2
    owned = sorted((tp.topic, tp.partition) for m in described.members
                   for tp in m.assignment.topic_partitions)
    assert owned == sorted(every(topic, 4))
    listed = admin.list_consumer_groups().result(15)
    types = {g.group_id: g.type for g in listed.valid}
    assert types.get(group) == ConsumerGroupType.CONSUMER

    out = java_client.run_tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                               "--bootstrap-server", bootstrap, "--describe", "--group", group,
                               "--members", "--verbose")
    rows = [line.split() for line in out.splitlines() if line.startswith(group)]
    assert len(rows) == 2, out
    assert "d0" in out and "d1" in out, out

    raw = GroupWire(*bootstrap.split(":"))
    try:
        r = raw.call("DescribeGroups", 5, groups=[group])
        assert r["groups"][0]["group_state"] == "Dead"   # Kafka: not a classic group
        r = raw.call("ListGroups", 5, types_filter=["consumer"])
        assert group in {g["group_id"] for g in r["groups"]}
        r = raw.call("ListGroups", 5, types_filter=["classic"])
        assert group not in {g["group_id"] for g in r["groups"]}
        # A classic member of another protocol type cannot join a consumer
        # group with members (one of type "consumer" can: test_groups_migration.py).
        r = raw.call("JoinGroup", 5, group_id=group, session_timeout_ms=10000,
                     rebalance_timeout_ms=10000, member_id="", protocol_type="connect",
                     protocols=[{"name": "range", "metadata": b""}])
        assert r["error_code"] == INCONSISTENT_GROUP_PROTOCOL, r
    finally:
        raw.close()


def test_the_java_client_consumes_with_the_consumer_protocol(kip848_broker):
    bootstrap = kip848_broker.bootstrap
    topic, group = unique_topic("kip848j"), unique_topic("g848j")
    create_topic(bootstrap, topic, 1)
    config = {"bootstrap.servers": bootstrap}
    java_client.run(config, "produce", topic, *[f"v{i}" for i in range(5)])
    out = java_client.run({**config, "group.protocol": "consumer"}, "consume", topic, group, "5")
    assert sorted(line for line in out if line.startswith("record")) == \
        sorted(f"record {i} v{i}" for i in range(5))
    assert out[-1] == "committed 5"
    assert java_client.run(config, "committed", group, topic) == ["committed 0 5"]


def heartbeat(wire, version=1, **values):
    request = {"group_id": "", "member_id": "", "member_epoch": 0, "rebalance_timeout_ms": -1}
    request.update(values)
    return wire.call("ConsumerGroupHeartbeat", version, **request)


def test_raw_heartbeat_error_cases(kip848_broker):
    bootstrap = kip848_broker.bootstrap
    topic, group = unique_topic("kip848r"), unique_topic("g848r")
    create_topic(bootstrap, topic, 2)
    wire = GroupWire(*bootstrap.split(":"))
    try:
        join = dict(group_id=group, member_id="m-1", member_epoch=0, rebalance_timeout_ms=30000,
                    subscribed_topic_names=[topic], topic_partitions=[])
        # Joins must say their rebalance timeout and subscription.
        r = heartbeat(wire, **{**join, "rebalance_timeout_ms": -1})
        assert r["error_code"] == INVALID_REQUEST, r
        r = heartbeat(wire, **{**join, "subscribed_topic_names": None})
        assert r["error_code"] == INVALID_REQUEST, r
        r = heartbeat(wire, **{**join, "member_id": ""})
        assert r["error_code"] == INVALID_REQUEST, r   # v1: the client names itself
        r = heartbeat(wire, **{**join, "server_assignor": "sticky"})
        assert r["error_code"] == UNSUPPORTED_ASSIGNOR, r
        r = heartbeat(wire, **join)
        assert r["error_code"] == 0, r
        assert r["member_id"] == "m-1" and r["member_epoch"] >= 1
        assert r["heartbeat_interval_ms"] == HEARTBEAT_MS
        assert sorted(r["assignment"]["topic_partitions"][0]["partitions"]) == [0, 1]
        epoch = r["member_epoch"]
        # v0: the coordinator names a joining member, with a Kafka Uuid
        # as Kafka's coordinator does (22 characters of URL-safe base64).
        r0 = heartbeat(wire, 0, **{**join, "member_id": ""})
        assert r0["error_code"] == 0, r0
        assert len(base64.urlsafe_b64decode(r0["member_id"] + "==")) == 16, r0
        assert len(r0["member_id"]) == 22 and not r0["member_id"].startswith("-"), r0
        # A wrong epoch is fenced; an unknown member is unknown.
        r = heartbeat(wire, group_id=group, member_id="m-1", member_epoch=epoch + 5)
        assert r["error_code"] == FENCED_MEMBER_EPOCH, r
        r = heartbeat(wire, group_id=group, member_id="nobody", member_epoch=1)
        assert r["error_code"] == UNKNOWN_MEMBER_ID, r
        # Static members: a second instance with the same id is refused.
        static = {**join, "member_id": "s-1", "instance_id": "instance-a"}
        assert heartbeat(wire, **static)["error_code"] == 0
        r = heartbeat(wire, **{**static, "member_id": "s-2"})
        assert r["error_code"] == UNRELEASED_INSTANCE_ID, r
        # ... until the first leaves for a while (-2): the second takes over.
        r = heartbeat(wire, group_id=group, member_id="s-1", member_epoch=-2, instance_id="instance-a")
        assert r["error_code"] == 0 and r["member_epoch"] == -2, r
        assert heartbeat(wire, **{**static, "member_id": "s-2"})["error_code"] == 0
        # Leaving (-1) answers epoch -1; the member is then unknown.
        r = heartbeat(wire, group_id=group, member_id="m-1", member_epoch=-1)
        assert r["error_code"] == 0 and r["member_epoch"] == -1, r
        r = heartbeat(wire, group_id=group, member_id="m-1", member_epoch=epoch)
        assert r["error_code"] == UNKNOWN_MEMBER_ID, r
        # A commit with a stale member epoch, or from a non-member.
        r = wire.call("OffsetCommit", 8, group_id=group, generation_id=0, member_id="s-2",
                      topics=[{"name": topic, "partitions": [{"partition_index": 0,
                                                              "committed_offset": 1}]}])
        codes = [p["error_code"] for t in r["topics"] for p in t["partitions"]]
        assert codes == [35], r   # UNSUPPORTED_VERSION: members of consumer groups need v9
    finally:
        wire.close()


def test_a_regex_subscription_picks_up_topics_created_later(kip848_broker):
    bootstrap = kip848_broker.bootstrap
    prefix, group = unique_topic("rx"), unique_topic("g848x")
    create_topic(bootstrap, f"{prefix}-a", 2)
    wire = GroupWire(*bootstrap.split(":"))
    try:
        join = dict(group_id=group, member_id="r-1", member_epoch=0, rebalance_timeout_ms=30000,
                    subscribed_topic_regex="[", topic_partitions=[])
        r = heartbeat(wire, **join)
        assert r["error_code"] == 128, r   # INVALID_REGULAR_EXPRESSION
        r = heartbeat(wire, **{**join, "subscribed_topic_regex": f"{prefix}-.*"})
        assert r["error_code"] == 0, r
        first = r["member_epoch"]
        assert [len(t["partitions"]) for t in r["assignment"]["topic_partitions"]] == [2]
        owned = r["assignment"]["topic_partitions"]
        create_topic(bootstrap, f"{prefix}-b", 3)
        r = heartbeat(wire, group_id=group, member_id="r-1", member_epoch=first,
                      topic_partitions=owned)
        assert r["error_code"] == 0 and r["member_epoch"] > first, r
        assert sorted(len(t["partitions"]) for t in r["assignment"]["topic_partitions"]) == [2, 3]
    finally:
        wire.close()


# ConsumerGroupDescribe v0 (group_harness's table), for the epochs no admin
# client shows.
def consumer_group_membership(bootstrap, group) -> tuple:
    """(group epoch, assignment epoch, {member id: (member epoch, owned)})."""
    wire = GroupWire(*bootstrap.split(":"))
    try:
        r = wire.call("ConsumerGroupDescribe", 0, group_ids=[group])
    finally:
        wire.close()
    g = r["groups"][0]
    assert g["error_code"] == 0, g
    members_ = {m["member_id"]: (m["member_epoch"],
                                 sorted((t["topic_name"], p)
                                        for t in m["assignment"]["topic_partitions"]
                                        for p in t["partitions"]))
                for m in g["members"]}
    return g["group_epoch"], g["assignment_epoch"], members_


# Sessions long enough to outlast a restart: a member that had to rejoin
# would be a lost member, not a slow one.
RESTART_SESSION_MS = 30000
RESTART_OVERRIDES = {**OVERRIDES,
                     "group.consumer.session.timeout.ms": str(RESTART_SESSION_MS),
                     "group.consumer.min.session.timeout.ms": str(RESTART_SESSION_MS)}


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_members_epochs_and_assignments_survive_a_broker_restart(broker_factory, members, how):
    b = broker_factory(name=f"kip848-{how}", **RESTART_OVERRIDES)
    bootstrap = b.bootstrap
    topic, group = unique_topic("kip848p"), unique_topic("g848p")
    create_topic(bootstrap, topic, 6)

    def conf(name):
        return {**member_conf(bootstrap, group, name), "reconnect.backoff.max.ms": 500}

    ms = [members(f"p{i}", "confluent", conf(f"p{i}"), [topic]) for i in range(3)]
    settle(ms, every(topic, 6), sizes=[2, 2, 2], hold=2.0, what="2 partitions each")
    produced = produce_round(bootstrap, topic, 6, "before")
    wait_all_consumed(ms, produced)
    time.sleep(1.5)   # auto commits of what was consumed
    before = consumer_group_membership(bootstrap, group)
    group_epoch, assignment_epoch, members_before = before
    assert len(members_before) == 3 and group_epoch == assignment_epoch, before
    assert {m.last("assignment")["member"] for m in ms} == set(members_before)
    events_before = [len(m.snapshot()) for m in ms]

    if how == "sigterm":
        assert b.stop() == 0
    else:
        b.kill()
    b.start()
    produced |= produce_round(bootstrap, topic, 6, "after")
    wait_all_consumed(ms, produced, timeout=60)
    time.sleep(2 * HEARTBEAT_MS / 1000)

    # The same members, at the same epochs, own the same partitions.
    assert consumer_group_membership(bootstrap, group) == before
    for m, start in zip(ms, events_before):
        since = m.snapshot()[start:]
        assert not [e for e in since if e["ev"] in ("revoke", "lost", "assign")], m._tail()
        assert m.last("assignment")["member"] in members_before
    log = b.log_path.read_text(errors="replace")
    after_restart = log[log.rindex("===== start #2"):]
    restored = [line for line in after_restart.splitlines()
                if "consumer group restored" in line and group in line]
    assert restored and f"group_epoch={group_epoch}" in restored[0] \
        and "members=3" in restored[0], after_restart[-3000:]
    rejoined = [line for line in after_restart.splitlines()
                if "joins the consumer group" in line and group in line]
    assert not rejoined, rejoined
    assert not duplicates(ms), duplicates(ms)[:10]
    assert not ownership_violations(ms), ownership_violations(ms)
