"""Consumer-group APIs over raw sockets: every advertised version of the group
requests, and the error codes real clients rely on (Kafka semantics)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import GROUP_BROKER_OVERRIDES, wait_until
from group_harness import GroupWire, consumer_assignment, consumer_subscription, decode_assignment

NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
OFFSET_METADATA_TOO_LARGE = 12
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
MEMBER_ID_REQUIRED = 79
GROUP_MAX_SIZE_REACHED = 81
FENCED_INSTANCE_ID = 82
GROUP_SUBSCRIBED_TO_TOPIC = 86

TOPIC = "wire-groups-topic"      # never created: the coordinator does not look at subscriptions


@pytest.fixture
def wire(group_broker):
    conns = []

    def make():
        w = GroupWire(group_broker.host, group_broker.port)
        conns.append(w)
        return w

    yield make
    for w in conns:
        w.close()


def protocols(*names, topics=(TOPIC,)):
    return [{"name": n, "metadata": consumer_subscription(list(topics))} for n in (names or ("range",))]


def join(w, group, version=5, member_id="", instance=None, protos=None, session=10000, rebalance=10000,
         ptype="consumer"):
    return w.call("JoinGroup", version, group_id=group, session_timeout_ms=session,
                  rebalance_timeout_ms=rebalance, member_id=member_id, group_instance_id=instance,
                  protocol_type=ptype, protocols=protos if protos is not None else protocols())


def join_new(w, group, version=5, instance=None, **kw):
    """Join as a new member, handling MEMBER_ID_REQUIRED for dynamic v4+ joins."""
    r = join(w, group, version, instance=instance, **kw)
    if r["error_code"] == MEMBER_ID_REQUIRED:
        r = join(w, group, version, member_id=r["member_id"], instance=instance, **kw)
    return r


def sync(w, group, gen, member, version=3, assignments=None, instance=None):
    return w.call("SyncGroup", version, group_id=group, generation_id=gen, member_id=member,
                  group_instance_id=instance, protocol_type="consumer", protocol_name="range",
                  assignments=[{"member_id": m, "assignment": consumer_assignment(a)}
                               for m, a in (assignments or {}).items()])


def heartbeat(w, group, gen, member, version=3, instance=None):
    return w.call("Heartbeat", version, group_id=group, generation_id=gen, member_id=member,
                  group_instance_id=instance)["error_code"]


def describe(w, group, version=5):
    r = w.call("DescribeGroups", version, groups=[group])
    assert len(r["groups"]) == 1
    return r["groups"][0]


def commit(w, group, gen, member, offsets, version=8, instance=None, topic=TOPIC):
    r = w.call("OffsetCommit", version, group_id=group, generation_id=gen, member_id=member,
               group_instance_id=instance, retention_time_ms=-1,
               topics=[{"name": topic, "partitions": [
                   {"partition_index": p, "committed_offset": o, "committed_leader_epoch": -1,
                    "commit_timestamp": -1, "committed_metadata": md}
                   for p, (o, md) in offsets.items()]}])
    return {(t["name"], p["partition_index"]): p["error_code"] for t in r["topics"] for p in t["partitions"]}


def stable_single_member(w, group, version=5, instance=None, assignment=None):
    r = join_new(w, group, version, instance=instance)
    assert r["error_code"] == NONE, r
    assert r["leader"] == r["member_id"]
    mid, gen = r["member_id"], r["generation_id"]
    s = sync(w, group, gen, mid, instance=instance,
             assignments={mid: assignment if assignment is not None else {TOPIC: [0, 1]}})
    assert s["error_code"] == NONE, s
    return mid, gen


def create_topic(bootstrap, name, partitions):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=10).values():
        f.result(15)


# ---------------------------------------------------------------------------

@pytest.mark.parametrize("version", range(0, 6))
def test_find_coordinator(group_broker, wire, group_id, version):
    w = wire()
    if version < 4:
        r = w.call("FindCoordinator", version, key=group_id, key_type=0)
        assert r["error_code"] == NONE, r
        assert (r["node_id"], r["host"], r["port"]) == (1, group_broker.host, group_broker.port)
    else:
        r = w.call("FindCoordinator", version, key_type=0, coordinator_keys=[group_id, group_id + "-2"])
        got = sorted((c["key"], c["node_id"], c["host"], c["port"], c["error_code"]) for c in r["coordinators"])
        assert got == sorted((k, 1, group_broker.host, group_broker.port, NONE)
                             for k in (group_id, group_id + "-2"))


@pytest.mark.parametrize("version", range(0, 10))
def test_join_sync_heartbeat_leave_each_version(wire, group_id, version):
    w = wire()
    first = join(w, group_id, version)
    if version >= 4:
        # KIP-394: a dynamic member must rejoin with the id the coordinator hands out
        assert first["error_code"] == MEMBER_ID_REQUIRED, first
        assert first["member_id"], first
        assert first["generation_id"] == -1
        assert first["members"] == []
        r = join(w, group_id, version, member_id=first["member_id"])
        assert r["member_id"] == first["member_id"]
    else:
        r = first
    assert r["error_code"] == NONE, r
    mid = r["member_id"]
    assert mid.startswith("gregor-compat-raw-")            # Kafka: client.id + "-" + UUID
    assert r["generation_id"] == 1
    assert r["leader"] == mid
    assert r["protocol_name"] == "range"
    if version >= 7:
        assert r["protocol_type"] == "consumer"
    assert [m["member_id"] for m in r["members"]] == [mid]
    assert r["members"][0]["metadata"] == consumer_subscription([TOPIC])
    if version >= 9:
        assert r["skip_assignment"] is False

    sv = min(version, 5)
    s = sync(w, group_id, 1, mid, version=sv, assignments={mid: {TOPIC: [0, 1, 2]}})
    assert s["error_code"] == NONE, s
    assert decode_assignment(s["assignment"]) == {TOPIC: [0, 1, 2]}
    if sv >= 5:
        assert (s["protocol_type"], s["protocol_name"]) == ("consumer", "range")

    assert heartbeat(w, group_id, 1, mid, version=min(version, 4)) == NONE
    d = describe(w, group_id)
    assert (d["error_code"], d["group_state"], d["protocol_type"], d["protocol_data"]) == \
        (NONE, "Stable", "consumer", "range")
    assert [(m["member_id"], m["client_id"], m["client_host"]) for m in d["members"]] == \
        [(mid, "gregor-compat-raw", "/127.0.0.1")]
    assert decode_assignment(d["members"][0]["member_assignment"]) == {TOPIC: [0, 1, 2]}

    lv = min(version, 5)
    if lv < 3:
        r = w.call("LeaveGroup", lv, group_id=group_id, member_id=mid)
        assert r["error_code"] == NONE, r
    else:
        r = w.call("LeaveGroup", lv, group_id=group_id, members=[{"member_id": mid}])
        assert r["error_code"] == NONE, r
        assert [(m["member_id"], m["error_code"]) for m in r["members"]] == [(mid, NONE)]
    d = describe(w, group_id)
    assert (d["group_state"], d["members"]) == ("Empty", [])
    assert heartbeat(w, group_id, 1, mid) == UNKNOWN_MEMBER_ID


def test_join_group_errors(wire, group_id):
    w = wire()
    assert join(w, group_id, session=1)["error_code"] == INVALID_SESSION_TIMEOUT
    assert join(w, group_id, session=5999)["error_code"] == INVALID_SESSION_TIMEOUT
    assert join(w, group_id, session=1800001)["error_code"] == INVALID_SESSION_TIMEOUT
    assert join(w, "", version=3)["error_code"] == INVALID_GROUP_ID
    # an id the coordinator never handed out
    assert join(w, group_id, version=5, member_id="made-up-member")["error_code"] == UNKNOWN_MEMBER_ID
    assert join(w, group_id, version=3, protos=[])["error_code"] == INCONSISTENT_GROUP_PROTOCOL
    assert join(w, group_id, version=3, ptype="")["error_code"] == INCONSISTENT_GROUP_PROTOCOL

    mid, gen = stable_single_member(w, group_id)
    other = wire()
    # another protocol type, or no protocol in common with the group
    assert join(other, group_id, version=3, ptype="connect")["error_code"] == INCONSISTENT_GROUP_PROTOCOL
    assert join(other, group_id, version=3,
                protos=protocols("roundrobin"))["error_code"] == INCONSISTENT_GROUP_PROTOCOL
    assert heartbeat(w, group_id, gen, mid) == NONE, "failed joins must not disturb the group"
    assert describe(w, group_id)["group_state"] == "Stable"


def test_heartbeat_sync_commit_errors_in_stable_group(wire, group_id):
    w = wire()
    mid, gen = stable_single_member(w, group_id)
    assert gen == 1
    assert heartbeat(w, group_id, gen, mid) == NONE
    assert heartbeat(w, group_id, gen + 1, mid) == ILLEGAL_GENERATION
    assert heartbeat(w, group_id, 0, mid) == ILLEGAL_GENERATION
    assert heartbeat(w, group_id, gen, "no-such-member") == UNKNOWN_MEMBER_ID
    assert heartbeat(w, group_id, gen, "") == UNKNOWN_MEMBER_ID
    assert heartbeat(w, "", gen, mid) == INVALID_GROUP_ID

    assert sync(w, group_id, gen + 1, mid)["error_code"] == ILLEGAL_GENERATION
    assert sync(w, group_id, gen, "no-such-member")["error_code"] == UNKNOWN_MEMBER_ID
    # a repeated SyncGroup in a stable group returns the current assignment
    s = sync(w, group_id, gen, mid)
    assert s["error_code"] == NONE
    assert decode_assignment(s["assignment"]) == {TOPIC: [0, 1]}


def test_offset_commit_errors(group_broker, wire, group_id, topic):
    create_topic(group_broker.bootstrap, topic, 2)
    w = wire()
    mid, gen = stable_single_member(w, group_id, assignment={topic: [0, 1]})
    ok = {(topic, 0): NONE}
    assert commit(w, group_id, gen, mid, {0: (5, "m")}, topic=topic) == ok
    assert commit(w, group_id, gen + 1, mid, {0: (6, "m")}, topic=topic) == {(topic, 0): ILLEGAL_GENERATION}
    assert commit(w, group_id, gen, "no-such-member", {0: (6, "m")}, topic=topic) == \
        {(topic, 0): UNKNOWN_MEMBER_ID}
    # a "simple" commit (generation -1, no member) is only for groups without members
    assert commit(w, group_id, -1, "", {0: (6, "m")}, topic=topic) == {(topic, 0): UNKNOWN_MEMBER_ID}
    # unknown topic / partition
    assert commit(w, group_id, gen, mid, {0: (1, "")}, topic=topic + "-missing") == \
        {(topic + "-missing", 0): UNKNOWN_TOPIC_OR_PARTITION}
    assert commit(w, group_id, gen, mid, {7: (1, "")}, topic=topic) == {(topic, 7): UNKNOWN_TOPIC_OR_PARTITION}
    # metadata above offset.metadata.max.bytes (4096)
    assert commit(w, group_id, gen, mid, {1: (1, "x" * 4097)}, topic=topic) == \
        {(topic, 1): OFFSET_METADATA_TOO_LARGE}
    assert commit(w, group_id, gen, mid, {1: (1, "x" * 4096)}, topic=topic) == {(topic, 1): NONE}
    r = w.call("OffsetFetch", 5, group_id=group_id, topics=None)
    got = {(t["name"], p["partition_index"]): (p["committed_offset"], p["metadata"], p["error_code"])
           for t in r["topics"] for p in t["partitions"]}
    assert got == {(topic, 0): (5, "m", NONE), (topic, 1): (1, "x" * 4096, NONE)}


@pytest.mark.parametrize("version", range(2, 9))
def test_offset_commit_and_fetch_each_version(group_broker, wire, group_id, topic, version):
    create_topic(group_broker.bootstrap, topic, 3)
    w = wire()
    # simple (generation -1) commits into a group that has no members
    res = commit(w, group_id, -1, "", {0: (10 + version, f"v{version}"), 2: (3, None)},
                 version=version, topic=topic)
    assert res == {(topic, 0): NONE, (topic, 2): NONE}
    for fv in range(1, 9):
        if fv < 8:
            r = w.call("OffsetFetch", fv, group_id=group_id,
                       topics=[{"name": topic, "partition_indexes": [0, 1, 2]}])
            assert r.get("error_code", NONE) == NONE
            topics = r["topics"]
        else:
            r = w.call("OffsetFetch", fv, groups=[{"group_id": group_id, "topics": [
                {"name": topic, "partition_indexes": [0, 1, 2]}]}])
            assert [g["error_code"] for g in r["groups"]] == [NONE]
            topics = r["groups"][0]["topics"]
        got = {p["partition_index"]: (p["committed_offset"], p["metadata"], p["error_code"])
               for t in topics for p in t["partitions"]}
        assert got == {0: (10 + version, f"v{version}", NONE), 1: (-1, "", NONE), 2: (3, "", NONE)}, \
            f"OffsetFetch v{fv}"
    # all partitions (null topics, v2+): only committed ones come back
    r = w.call("OffsetFetch", 7, group_id=group_id, topics=None)
    assert {(t["name"], p["partition_index"]) for t in r["topics"] for p in t["partitions"]} == \
        {(topic, 0), (topic, 2)}
    d = describe(w, group_id)
    assert (d["error_code"], d["group_state"], d["protocol_type"], d["members"]) == (NONE, "Empty", "", [])


def test_offset_fetch_unknown_group(wire, group_id):
    w = wire()
    r = w.call("OffsetFetch", 8, groups=[{"group_id": group_id, "topics": None},
                                         {"group_id": group_id + "-b",
                                          "topics": [{"name": TOPIC, "partition_indexes": [4]}]}])
    out = {g["group_id"]: g for g in r["groups"]}
    assert out[group_id]["error_code"] == NONE and out[group_id]["topics"] == []
    b = out[group_id + "-b"]
    assert b["error_code"] == NONE
    assert [(p["partition_index"], p["committed_offset"], p["metadata"], p["error_code"])
            for t in b["topics"] for p in t["partitions"]] == [(4, -1, "", NONE)]


def test_rebalance_in_progress_and_completing_rebalance(group_broker, wire, group_id, topic):
    create_topic(group_broker.bootstrap, topic, 4)
    a, b = wire(), wire()
    a_id, gen = stable_single_member(a, group_id, assignment={topic: [0, 1, 2, 3]})
    pool = ThreadPoolExecutor(2)
    try:
        # B joins: the group goes to PreparingRebalance and B's JoinGroup waits for A
        b_first = join(b, group_id, 5)
        assert b_first["error_code"] == MEMBER_ID_REQUIRED
        b_id = b_first["member_id"]
        b_join = pool.submit(join, b, group_id, 5, b_id)
        wait_until(lambda: describe(a, group_id)["group_state"] == "PreparingRebalance", 10,
                   what="PreparingRebalance")
        assert heartbeat(a, group_id, gen, a_id) == REBALANCE_IN_PROGRESS
        # commits of the previous generation are still accepted while preparing
        assert commit(a, group_id, gen, a_id, {0: (1, "prep")}, topic=topic) == {(topic, 0): NONE}
        assert not b_join.done()
        ra = join(a, group_id, 5, member_id=a_id)
        rb = b_join.result(15)
        assert ra["error_code"] == NONE and rb["error_code"] == NONE
        assert ra["generation_id"] == rb["generation_id"] == gen + 1
        assert ra["leader"] == rb["leader"] == a_id                # the old leader keeps leading
        assert sorted(m["member_id"] for m in ra["members"]) == sorted([a_id, b_id])
        assert rb["members"] == []
        gen2 = gen + 1
        # CompletingRebalance: heartbeats are fine, commits are not
        assert describe(a, group_id)["group_state"] == "CompletingRebalance"
        assert heartbeat(a, group_id, gen2, a_id) == NONE
        assert heartbeat(a, group_id, gen, a_id) == ILLEGAL_GENERATION
        assert commit(a, group_id, gen2, a_id, {0: (2, "")}, topic=topic) == {(topic, 0): REBALANCE_IN_PROGRESS}
        # the follower's SyncGroup waits for the leader's
        b_sync = pool.submit(sync, b, group_id, gen2, b_id)
        time.sleep(0.3)
        assert not b_sync.done()
        sa = sync(a, group_id, gen2, a_id, assignments={a_id: {topic: [0, 1]}, b_id: {topic: [2, 3]}})
        sb = b_sync.result(15)
        assert sa["error_code"] == NONE and sb["error_code"] == NONE
        assert decode_assignment(sa["assignment"]) == {topic: [0, 1]}
        assert decode_assignment(sb["assignment"]) == {topic: [2, 3]}
        assert heartbeat(a, group_id, gen2, a_id) == NONE
        assert heartbeat(b, group_id, gen2, b_id) == NONE
        assert commit(b, group_id, gen2, b_id, {2: (7, "b")}, topic=topic) == {(topic, 2): NONE}
        d = describe(a, group_id)
        assert d["group_state"] == "Stable"
        assert {m["member_id"]: decode_assignment(m["member_assignment"]) for m in d["members"]} == \
            {a_id: {topic: [0, 1]}, b_id: {topic: [2, 3]}}
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def test_member_that_does_not_rejoin_is_dropped_after_rebalance_timeout(wire, group_id):
    a, b = wire(), wire()
    r = join_new(a, group_id, 5, rebalance=2000, session=30000)
    a_id = r["member_id"]
    assert sync(a, group_id, r["generation_id"], a_id, assignments={a_id: {TOPIC: [0]}})["error_code"] == NONE
    t0 = time.monotonic()
    rb = join_new(b, group_id, 5, rebalance=2000, session=30000)    # A never rejoins
    waited = time.monotonic() - t0
    assert rb["error_code"] == NONE, rb
    assert rb["generation_id"] == 2
    assert rb["leader"] == rb["member_id"]
    assert [m["member_id"] for m in rb["members"]] == [rb["member_id"]]
    assert 1.5 <= waited <= 12, f"join completed after {waited:.1f}s (rebalance timeout 2 s)"
    assert heartbeat(a, group_id, 1, a_id) == UNKNOWN_MEMBER_ID


def test_new_leader_when_static_leader_misses_the_rebalance(wire, group_id):
    """A static leader that does not rejoin in time stays a member (static
    members are only removed by their session timeout), but a member that did
    rejoin becomes the leader and gets every member's subscription."""
    a, b = wire(), wire()
    r = join(a, group_id, 5, instance="inst-a", rebalance=2000, session=30000)
    a_id = r["member_id"]
    assert sync(a, group_id, 1, a_id, instance="inst-a", assignments={a_id: {TOPIC: [0]}})["error_code"] == NONE
    t0 = time.monotonic()
    rb = join(b, group_id, 5, instance="inst-b", rebalance=2000, session=30000)
    waited = time.monotonic() - t0
    assert rb["error_code"] == NONE, rb
    assert 1.5 <= waited <= 12, f"join completed after {waited:.1f}s (rebalance timeout 2 s)"
    b_id = rb["member_id"]
    assert rb["generation_id"] == 2
    assert rb["leader"] == b_id, "the leader did not rejoin: a joined member must lead"
    assert sorted(m["member_id"] for m in rb["members"]) == sorted([a_id, b_id])
    s = sync(b, group_id, 2, b_id, instance="inst-b", assignments={a_id: {TOPIC: [0]}, b_id: {TOPIC: [1]}})
    assert s["error_code"] == NONE
    assert decode_assignment(s["assignment"]) == {TOPIC: [1]}
    assert heartbeat(a, group_id, 1, a_id, instance="inst-a") == ILLEGAL_GENERATION


@pytest.mark.parametrize("version", [5, 7, 9])
def test_static_leader_rejoin_keeps_generation(group_broker, wire, group_id, topic, version):
    create_topic(group_broker.bootstrap, topic, 1)
    a, b = wire(), wire()
    a_id, b_id, gen = two_member_group(a, b, group_id, version, instances=("inst-a", "inst-b"))
    assert a_id.startswith("inst-a-")                    # Kafka: group.instance.id + "-" + UUID
    assert gen == 2

    # the leader restarts: same instance id, no member id
    a2 = wire()
    r = join(a2, group_id, version, instance="inst-a")
    assert r["error_code"] == NONE, r
    new_a = r["member_id"]
    assert new_a != a_id and new_a.startswith("inst-a-")
    assert r["generation_id"] == gen, "a static rejoin in a stable group must not bump the generation"
    if version >= 9:
        # KIP-814: the leader learns it leads, but skips the assignment
        assert r["leader"] == new_a
        assert r["skip_assignment"] is True
        assert sorted(m["member_id"] for m in r["members"]) == sorted([new_a, b_id])
    else:
        # before v9 the old leader id is returned so the member acts as a follower
        # and does not compute an assignment the stable group would ignore
        assert r["leader"] == a_id
        assert r["members"] == []
    s = sync(a2, group_id, gen, new_a, instance="inst-a")
    assert s["error_code"] == NONE
    assert decode_assignment(s["assignment"]) == {TOPIC: [0]}
    assert heartbeat(b, group_id, gen, b_id, instance="inst-b") == NONE, "the follower saw a rebalance"
    d = describe(a2, group_id)
    assert d["group_state"] == "Stable"
    assert {(m["member_id"], m["group_instance_id"]) for m in d["members"]} == \
        {(new_a, "inst-a"), (b_id, "inst-b")}
    # the replaced process is fenced
    assert heartbeat(a, group_id, gen, a_id, instance="inst-a") == FENCED_INSTANCE_ID
    assert commit(a, group_id, gen, a_id, {0: (1, "")}, version=8, instance="inst-a", topic=topic) == \
        {(topic, 0): FENCED_INSTANCE_ID}
    assert join(a, group_id, version, member_id=a_id, instance="inst-a")["error_code"] == FENCED_INSTANCE_ID
    assert sync(a, group_id, gen, a_id, instance="inst-a")["error_code"] == FENCED_INSTANCE_ID
    assert heartbeat(a, group_id, gen, a_id, version=0) == UNKNOWN_MEMBER_ID


def two_member_group(a, b, group, version=5, instances=(None, None)):
    """A leads generation 1 alone, B joins, A rejoins: a Stable generation 2
    with both. Returns (a_id, b_id, generation)."""
    ia, ib = instances
    r = join_new(a, group, version, instance=ia)
    assert r["error_code"] == NONE, r
    a_id = r["member_id"]
    assert sync(a, group, r["generation_id"], a_id, instance=ia,
                assignments={a_id: {TOPIC: [0, 1]}})["error_code"] == NONE
    pool = ThreadPoolExecutor(1)
    try:
        b_join = pool.submit(join_new, b, group, version, ib)
        wait_until(lambda: describe(a, group)["group_state"] == "PreparingRebalance", 10,
                   what="PreparingRebalance")
        ra = join(a, group, version, member_id=a_id, instance=ia)
        rb = b_join.result(15)
        assert ra["error_code"] == NONE and rb["error_code"] == NONE, (ra, rb)
        gen = ra["generation_id"]
        assert rb["generation_id"] == gen
        assert ra["leader"] == a_id
        b_id = rb["member_id"]
        b_sync = pool.submit(sync, b, group, gen, b_id, 3, None, ib)
        assert sync(a, group, gen, a_id, instance=ia,
                    assignments={a_id: {TOPIC: [0]}, b_id: {TOPIC: [1]}})["error_code"] == NONE
        assert b_sync.result(15)["error_code"] == NONE
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return a_id, b_id, gen


def test_leave_group_batch_and_static(wire, group_id):
    a, b, c = wire(), wire(), wire()
    a_id, b_id, gen = two_member_group(a, b, group_id, instances=("inst-a", "inst-b"))
    ids = {"inst-a": a_id, "inst-b": b_id}
    r = c.call("LeaveGroup", 5, group_id=group_id, members=[
        {"member_id": "wrong-id", "group_instance_id": "inst-a"},        # fenced: id mismatch
        {"member_id": "", "group_instance_id": "inst-unknown"},          # unknown instance
        {"member_id": "", "group_instance_id": "inst-b", "reason": "test"},  # by instance id
        {"member_id": "no-such-member", "group_instance_id": None},      # unknown dynamic member
    ])
    assert r["error_code"] == NONE, r
    assert [(m["member_id"], m["group_instance_id"], m["error_code"]) for m in r["members"]] == [
        ("wrong-id", "inst-a", FENCED_INSTANCE_ID),
        ("", "inst-unknown", UNKNOWN_MEMBER_ID),
        (b_id, "inst-b", NONE),      # Kafka answers with the member id it removed
        ("no-such-member", None, UNKNOWN_MEMBER_ID),
    ]
    d = describe(c, group_id)
    assert [m["group_instance_id"] for m in d["members"]] == ["inst-a"]
    assert ids["inst-a"] in [m["member_id"] for m in d["members"]]
    r = c.call("LeaveGroup", 4, group_id=group_id, members=[{"member_id": ids["inst-a"],
                                                             "group_instance_id": "inst-a"}])
    assert [(m["member_id"], m["error_code"]) for m in r["members"]] == [(ids["inst-a"], NONE)]
    assert describe(c, group_id)["members"] == []
    r = c.call("LeaveGroup", 1, group_id=group_id, member_id="no-such-member")
    assert r["error_code"] == UNKNOWN_MEMBER_ID


def test_static_member_errors(group_broker, wire, group_id, topic):
    create_topic(group_broker.bootstrap, topic, 1)
    w = wire()
    mid, gen = stable_single_member(w, group_id, instance="inst-s")
    assert heartbeat(w, group_id, gen, mid, instance="inst-s") == NONE
    assert heartbeat(w, group_id, gen, "other-id", instance="inst-s") == FENCED_INSTANCE_ID
    assert sync(w, group_id, gen, "other-id", instance="inst-s")["error_code"] == FENCED_INSTANCE_ID
    assert join(w, group_id, 5, member_id="other-id", instance="inst-s")["error_code"] == FENCED_INSTANCE_ID
    assert commit(w, group_id, gen, "other-id", {0: (1, "")}, version=7, instance="inst-s", topic=topic) == \
        {(topic, 0): FENCED_INSTANCE_ID}
    assert heartbeat(w, group_id, gen, mid, instance="inst-s") == NONE


def test_offset_delete(group_broker, wire, group_id, make_topic):
    sub, other = make_topic("sub"), make_topic("other")
    create_topic(group_broker.bootstrap, sub, 2)
    create_topic(group_broker.bootstrap, other, 2)
    w = wire()
    r = join_new(w, group_id, 5, protos=protocols("range", topics=(sub,)))
    mid, gen = r["member_id"], r["generation_id"]
    assert sync(w, group_id, gen, mid, assignments={mid: {sub: [0, 1]}})["error_code"] == NONE
    assert commit(w, group_id, gen, mid, {0: (4, "a"), 1: (5, "b")}, topic=sub) == {(sub, 0): 0, (sub, 1): 0}
    assert commit(w, group_id, gen, mid, {0: (6, "c")}, topic=other) == {(other, 0): 0}

    def delete(group, topic, parts):
        return w.call("OffsetDelete", 0, group_id=group, topics=[
            {"name": topic, "partitions": [{"partition_index": p} for p in parts]}])

    r = delete(group_id, sub, [0])
    assert r["error_code"] == NONE
    assert [(p["partition_index"], p["error_code"]) for t in r["topics"] for p in t["partitions"]] == \
        [(0, GROUP_SUBSCRIBED_TO_TOPIC)]
    r = delete(group_id, other, [0])
    assert (r["error_code"], [(p["partition_index"], p["error_code"]) for t in r["topics"] for p in t["partitions"]]) \
        == (NONE, [(0, NONE)])
    assert delete(group_id + "-missing", sub, [0])["error_code"] == GROUP_ID_NOT_FOUND
    f = w.call("OffsetFetch", 7, group_id=group_id, topics=None)
    assert {(t["name"], p["partition_index"]): p["committed_offset"] for t in f["topics"] for p in t["partitions"]} \
        == {(sub, 0): 4, (sub, 1): 5}
    # once the member is gone the subscribed topic's offsets can go too
    w.call("LeaveGroup", 3, group_id=group_id, members=[{"member_id": mid}])
    r = delete(group_id, sub, [0, 1])
    assert [(p["partition_index"], p["error_code"]) for t in r["topics"] for p in t["partitions"]] == \
        [(0, NONE), (1, NONE)]
    f = w.call("OffsetFetch", 7, group_id=group_id, topics=None)
    assert f["topics"] == []


def test_describe_list_delete_groups(wire, group_id):
    w = wire()
    live, empty, missing = group_id + "-live", group_id + "-empty", group_id + "-missing"
    stable_single_member(w, live)
    r = join_new(w, empty, 5)
    w.call("LeaveGroup", 3, group_id=empty, members=[{"member_id": r["member_id"]}])
    for v in range(0, 6):
        r = w.call("DescribeGroups", v, groups=[missing, live, empty])
        got = {g["group_id"]: (g["error_code"], g["group_state"], g["protocol_type"], len(g["members"]))
               for g in r["groups"]}
        assert got == {missing: (NONE, "Dead", "", 0), live: (NONE, "Stable", "consumer", 1),
                       empty: (NONE, "Empty", "consumer", 0)}, f"DescribeGroups v{v}"
    for v in range(0, 6):
        r = w.call("ListGroups", v, states_filter=[], types_filter=[])
        assert r["error_code"] == NONE
        got = {g["group_id"]: g for g in r["groups"] if g["group_id"].startswith(group_id)}
        assert set(got) == {live, empty}, f"ListGroups v{v}"
        assert got[live]["protocol_type"] == "consumer"
        if v >= 4:
            assert (got[live]["group_state"], got[empty]["group_state"]) == ("Stable", "Empty")
        if v >= 5:
            assert got[live]["group_type"] == "classic"
    for states, want in ((["Stable"], {live}), (["Empty"], {empty}), (["Stable", "Empty"], {live, empty}),
                         (["Dead"], set()), (["stable"], {live})):
        r = w.call("ListGroups", 4, states_filter=states)
        assert {g["group_id"] for g in r["groups"] if g["group_id"].startswith(group_id)} == want, states
    for v in range(0, 3):
        r = w.call("DeleteGroups", v, groups_names=[missing, live])
        assert {x["group_id"]: x["error_code"] for x in r["results"]} == \
            {missing: GROUP_ID_NOT_FOUND, live: NON_EMPTY_GROUP}
    r = w.call("DeleteGroups", 2, groups_names=[empty])
    assert r["results"] == [{"group_id": empty, "error_code": NONE}]
    assert describe(w, empty)["group_state"] == "Dead"


def test_group_max_size(broker_factory, group_id):
    b = broker_factory(name="maxsize", **GROUP_BROKER_OVERRIDES, **{"group.max.size": "1"})
    w1, w2 = GroupWire(b.host, b.port), GroupWire(b.host, b.port)
    try:
        mid, gen = stable_single_member(w1, group_id, version=3)
        r = join(w2, group_id, 3)
        assert r["error_code"] == GROUP_MAX_SIZE_REACHED, r
        assert heartbeat(w1, group_id, gen, mid) == NONE
    finally:
        w1.close()
        w2.close()


def test_group_and_offsets_written_while_offsets_topic_is_created(broker_factory, group_id, topic):
    """__consumer_offsets is created lazily (first FindCoordinator / group
    request). Group metadata and offsets acknowledged while that happens must
    be durable: a JoinGroup+SyncGroup or OffsetCommit that succeeded is still
    there after a restart (Kafka answers COORDINATOR_NOT_AVAILABLE /
    COORDINATOR_LOAD_IN_PROGRESS until the coordinator can write)."""
    problems = []
    for attempt in range(2):
        b = broker_factory(name=f"lazy{attempt}", **GROUP_BROKER_OVERRIDES)
        create_topic(b.bootstrap, topic, 1)
        groups = [f"{group_id}-{attempt}-{k}" for k in range(3)]
        simple = f"{group_id}-{attempt}-simple"
        conns = [GroupWire(b.host, b.port) for _ in range(5)]
        try:
            def join_and_sync(w, g):
                r = join(w, g, 3)
                if r["error_code"] != NONE:
                    return r["error_code"]
                mid = r["member_id"]
                return sync(w, g, r["generation_id"], mid, assignments={mid: {TOPIC: [0]}})["error_code"]

            with ThreadPoolExecutor(5) as ex:
                f_find = ex.submit(conns[0].call, "FindCoordinator", 2, key=groups[0], key_type=0)
                f_joins = {g: ex.submit(join_and_sync, conns[1 + k], g) for k, g in enumerate(groups)}
                f_commit = ex.submit(commit, conns[4], simple, -1, "", {0: (42, "lazy")}, 8, None, topic)
                f_find.result(15)
                synced = {g: f.result(15) for g, f in f_joins.items()}
                committed = f_commit.result(15)
        finally:
            for c in conns:
                c.close()
        b.restart()
        w = GroupWire(b.host, b.port)
        try:
            for g, err in synced.items():
                d = describe(w, g)
                if err == NONE and (d["group_state"], d["protocol_type"]) == ("Dead", ""):
                    problems.append(f"attempt {attempt}: {g}: JoinGroup v3 + SyncGroup succeeded, "
                                    f"group unknown after restart")
            f = w.call("OffsetFetch", 7, group_id=simple, topics=[{"name": topic, "partition_indexes": [0]}])
            got = [(p["committed_offset"], p["metadata"]) for t in f["topics"] for p in t["partitions"]]
            if committed == {(topic, 0): NONE} and got != [(42, "lazy")]:
                problems.append(f"attempt {attempt}: OffsetCommit succeeded, offsets after restart {got}")
        finally:
            w.close()
    assert problems == []


def test_default_initial_rebalance_delay(broker_factory, group_id):
    """Kafka's default group.initial.rebalance.delay.ms (3 s): the first
    rebalance of an empty group waits, and is extended when more members
    arrive, so members starting together land in one generation."""
    b = broker_factory(name="initial-delay")             # broker defaults
    a, c = GroupWire(b.host, b.port), GroupWire(b.host, b.port)
    pool = ThreadPoolExecutor(2)
    try:
        t0 = time.monotonic()
        fa = pool.submit(lambda: (join(a, group_id, 3, rebalance=30000), time.monotonic() - t0))
        time.sleep(0.5)
        assert not fa.done(), "the first join of an empty group returned before the initial delay"
        fc = pool.submit(lambda: (join(c, group_id, 3, rebalance=30000), time.monotonic() - t0))
        (ra, ta), (rc, tc) = fa.result(20), fc.result(20)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        a.close()
        c.close()
    assert ra["error_code"] == NONE and rc["error_code"] == NONE, (ra, rc)
    assert ra["generation_id"] == rc["generation_id"] == 1
    assert ra["leader"] == ra["member_id"]
    assert sorted(m["member_id"] for m in ra["members"]) == sorted([ra["member_id"], rc["member_id"]])
    # 3 s, extended by up to another 3 s because a member joined during the delay
    assert 2.9 <= ta <= 10, f"first join took {ta:.1f}s"
