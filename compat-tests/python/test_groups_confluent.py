"""Consumer groups with confluent-kafka (librdkafka) against gregor.

Group members run in child processes (group_harness.Member) so that one can
be SIGKILLed; they report rebalance callbacks, assignments and consumed
records. Producers set enable.idempotence=False (not implemented by gregor).
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import (OFFSET_INVALID, Consumer, ConsumerGroupState, ConsumerGroupTopicPartitions,
                             KafkaError, KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import GROUP_BROKER_OVERRIDES, wait_until
from group_harness import members  # noqa: F401  (fixture)
from group_harness import ownership_violations, settle, wait_all_consumed

SESSION_MS = 6000       # the broker's group.min.session.timeout.ms
HEARTBEAT_MS = 1000
KIND = "confluent"

# Kafka error codes
ILLEGAL_GENERATION = 22
UNKNOWN_MEMBER_ID = 25
NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
FENCED_INSTANCE_ID = 82


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def admin_client(bootstrap) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap, name, partitions):
    admin = admin_client(bootstrap)   # keep the handle alive until the futures resolve
    fs = admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=10)
    for f in fs.values():
        f.result(15)


def produce_round(bootstrap, topic, partitions, tag, per_partition=10) -> set:
    """Produce per_partition records to every partition; return {(topic, p, offset)}."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": False, "acks": "all",
                  "linger.ms": 5})
    out = set()
    errors = []

    def dr(err, msg):
        if err is not None:
            errors.append(err)
        else:
            out.add((msg.topic(), msg.partition(), msg.offset()))

    for part in range(partitions):
        for i in range(per_partition):
            p.produce(topic, value=f"{tag}-{part}-{i}".encode(), partition=part, on_delivery=dr)
    assert p.flush(30) == 0
    assert not errors, errors
    assert len(out) == partitions * per_partition
    return out


def member_conf(bootstrap, group, client_id, **extra) -> dict:
    c = {"bootstrap.servers": bootstrap, "group.id": group, "client.id": client_id,
         "session.timeout.ms": SESSION_MS, "heartbeat.interval.ms": HEARTBEAT_MS,
         "auto.offset.reset": "earliest", "enable.auto.commit": True,
         "auto.commit.interval.ms": 500}
    c.update(extra)
    return c


def in_process_consumer(bootstrap, group, **extra) -> Consumer:
    c = {"bootstrap.servers": bootstrap, "group.id": group, "session.timeout.ms": SESSION_MS,
         "heartbeat.interval.ms": HEARTBEAT_MS, "auto.offset.reset": "earliest",
         "enable.auto.commit": False}
    c.update(extra)
    return Consumer(c)


def parts_of(topic, ps):
    return {(topic, p) for p in ps}


def rebalance_events(m, since):
    return [e for e in m.of("assign", "revoke", "lost", since=since)]


def describe(bootstrap, group):
    admin = admin_client(bootstrap)
    return admin.describe_consumer_groups([group], request_timeout=15)[group].result(20)


# ---------------------------------------------------------------------------
# 1. three members: clean leave, crash, rejoin
# ---------------------------------------------------------------------------

def test_three_members_leave_crash_rejoin(group_broker, topic, group_id, members):
    bs = group_broker.bootstrap
    create_topic(bs, topic, 6)
    allp = parts_of(topic, range(6))
    produced = produce_round(bs, topic, 6, "r0")

    def start(name):
        return members(name, KIND, member_conf(bs, group_id, name), [topic])

    a, b, c = start("A"), start("B"), start("C")
    settle([a, b, c], allp, [2, 2, 2], hold=1.0, what="3 members with 2 partitions each")
    d = describe(bs, group_id)
    assert d.state == ConsumerGroupState.STABLE
    assert len(d.members) == 3

    # clean leave: close() sends LeaveGroup, the others take over in one rebalance
    produced |= produce_round(bs, topic, 6, "r1")
    t_leave = time.time()
    c.close()
    settle([a, b], allp, [3, 3], timeout=30, hold=1.5, what="2 members with 3 partitions after a leave")
    elapsed = max(e["t"] for m in (a, b) for e in m.of("assign", since=t_leave)) - t_leave
    assert elapsed < SESSION_MS / 1000, \
        f"partitions moved {elapsed:.1f}s after LeaveGroup: the leave was not acted upon"
    for m in (a, b):
        assigns = m.of("assign", since=t_leave)
        assert len(assigns) == 1, f"{m.name}: expected one rebalance after the leave, got {assigns}"
    assert len(describe(bs, group_id).members) == 2

    c2 = start("C2")
    settle([a, b, c2], allp, [2, 2, 2], hold=1.0, what="2/2/2 after a new member joined")

    # crash: SIGKILL sends nothing; the partitions move only after the session timeout
    produced |= produce_round(bs, topic, 6, "r2")
    t_kill = b.kill()
    settle([a, c2], allp, [3, 3], timeout=SESSION_MS / 1000 + 30, hold=1.0,
           what="survivors owning everything after the session timeout")
    first_move = min(e["t"] for m in (a, c2) for e in rebalance_events(m, t_kill)) - t_kill
    print(f"partitions moved {elapsed:.2f}s after a leave and {first_move:.2f}s after a SIGKILL")
    assert first_move >= (SESSION_MS - HEARTBEAT_MS) / 1000 - 0.5, \
        f"rebalance started {first_move:.1f}s after SIGKILL, before session.timeout.ms={SESSION_MS}"

    b2 = start("B2")
    settle([a, c2, b2], allp, [2, 2, 2], hold=1.0, what="2/2/2 after the crashed member came back")
    d = describe(bs, group_id)
    assert d.state == ConsumerGroupState.STABLE
    assert sorted(m.client_id for m in d.members) == ["A", "B2", "C2"]

    produced |= produce_round(bs, topic, 6, "r3")
    everyone = [a, b, c, c2, b2]
    wait_all_consumed(everyone, produced)
    assert ownership_violations(everyone) == []
    for m in (a, c2, b2):
        m.close()
    assert ownership_violations(everyone) == []
    d = describe(bs, group_id)
    assert d.state == ConsumerGroupState.EMPTY
    assert d.members == []


# ---------------------------------------------------------------------------
# 2. commits survive broker restarts
# ---------------------------------------------------------------------------

def consume_until(c, pred, timeout, what):
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is None:
            if pred(out):
                return out
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise AssertionError(f"consumer error: {m.error()}")
        out.append(m)
        if pred(out):
            return out
    raise AssertionError(f"timed out after {timeout}s waiting for {what}: got {len(out)} records")


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_committed_offsets_survive_broker_restart(broker_factory, topic, group_id, how):
    b = broker_factory(name=f"commit-{how}", **GROUP_BROKER_OVERRIDES)
    create_topic(b.bootstrap, topic, 3)
    produce_round(b.bootstrap, topic, 3, "before", per_partition=20)

    commits = []
    c = in_process_consumer(b.bootstrap, group_id, on_commit=lambda err, ps: commits.append((err, ps)))
    c.subscribe([topic])
    msgs = consume_until(c, lambda out: len(out) >= 60, 40, "60 records")
    assert len(msgs) == 60
    last_p2 = max((m for m in msgs if m.partition() == 2), key=lambda m: m.offset())

    # synchronous commit with a metadata string
    res = c.commit(offsets=[TopicPartition(topic, 0, 7, "sync-meta-p0")], asynchronous=False)
    assert [(r.partition, r.offset, r.error) for r in res] == [(0, 7, None)]
    # asynchronous commit with a metadata string: wait for its on_commit callback
    c.commit(offsets=[TopicPartition(topic, 1, 12, "async-meta-p1 \u00e9")], asynchronous=True)
    wait_until(lambda: (c.poll(0.1), commits)[1], 15, what="async commit callback")
    err, ps = commits[0]
    assert err is None
    assert [(p.partition, p.offset, p.error) for p in ps] == [(1, 12, None)]
    # commit of a consumed message: offset + 1, no metadata
    res = c.commit(message=last_p2, asynchronous=False)
    assert [(r.partition, r.offset) for r in res] == [(2, 20)]

    expected = {0: (7, "sync-meta-p0"), 1: (12, "async-meta-p1 \u00e9"), 2: (20, "")}

    def committed(consumer):
        got = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=15)
        assert all(tp.error is None for tp in got), got
        return {tp.partition: (tp.offset, tp.metadata or "") for tp in got}

    assert committed(c) == expected
    c.close()

    if how == "sigterm":
        assert b.stop() == 0
    else:
        b.kill()
    b.start()

    # admin view after the restart: offsets, metadata, an Empty group
    admin = admin_client(b.bootstrap)
    fut = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group_id)], request_timeout=15)[group_id]
    listed = {tp.partition: (tp.offset, tp.metadata or "") for tp in fut.result(20).topic_partitions}
    assert listed == expected
    assert describe(b.bootstrap, group_id).state == ConsumerGroupState.EMPTY

    produce_round(b.bootstrap, topic, 3, "after", per_partition=5)
    c2 = in_process_consumer(b.bootstrap, group_id)
    try:
        assert committed(c2) == expected
        c2.subscribe([topic])
        want = (20 - 7 + 5) + (20 - 12 + 5) + 5
        msgs = consume_until(c2, lambda out: len(out) >= want, 40, f"{want} records after restart")
        # nothing more arrives (no record before a committed offset is delivered again)
        extra = consume_until(c2, lambda out: True, 3, "nothing")
        msgs += extra
        first = {}
        for m in msgs:
            first.setdefault(m.partition(), m.offset())
        assert first == {0: 7, 1: 12, 2: 20}
        per_part = {p: sorted(m.offset() for m in msgs if m.partition() == p) for p in range(3)}
        assert per_part == {0: list(range(7, 25)), 1: list(range(12, 25)), 2: list(range(20, 25))}
    finally:
        c2.close()


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_live_group_survives_broker_restart(broker_factory, topic, group_id, members, how):
    """Group metadata (members, generation, assignment) is stored in
    __consumer_offsets: after a quick broker restart the members' heartbeats are
    accepted and no rebalance happens."""
    b = broker_factory(name=f"live-{how}", **GROUP_BROKER_OVERRIDES)
    create_topic(b.bootstrap, topic, 6)
    allp = parts_of(topic, range(6))
    produced = produce_round(b.bootstrap, topic, 6, "before")
    conf = dict(**{"session.timeout.ms": 10000})
    a = members("A", KIND, member_conf(b.bootstrap, group_id, "A", **conf), [topic])
    a.wait_event(lambda e: e["ev"] == "assignment" and len(e["parts"]) == 6, 30, "A owning all 6")
    m2 = members("B", KIND, member_conf(b.bootstrap, group_id, "B", **conf), [topic])
    cur = settle([a, m2], allp, [3, 3], hold=1.0, what="3/3")
    gen = a.last("assignment")["gen"]
    before = {(m.member_id, m.client_id) for m in describe(b.bootstrap, group_id).members}
    wait_all_consumed([a, m2], produced)
    time.sleep(1.0)                      # let an auto-commit go out

    t0 = time.time()
    if how == "sigterm":
        assert b.stop() == 0
    else:
        b.kill()
    b.start()
    d = describe(b.bootstrap, group_id)
    assert d.state == ConsumerGroupState.STABLE
    assert {(m.member_id, m.client_id) for m in d.members} == before
    produced = produce_round(b.bootstrap, topic, 6, "after")
    wait_all_consumed([a, m2], produced)
    # a few heartbeats later: still the same generation, nobody rebalanced
    time.sleep(3.0)
    assert settle([a, m2], allp, [3, 3], timeout=5) == cur
    for m in (a, m2):
        assert rebalance_events(m, t0) == [], f"{m.name} rebalanced after the broker restart"
        assert m.last("assignment")["gen"] == gen
    assert {(m.member_id, m.client_id) for m in describe(b.bootstrap, group_id).members} == before


# ---------------------------------------------------------------------------
# 3. static membership
# ---------------------------------------------------------------------------

def test_static_membership_restart_and_fencing(group_broker, topic, group_id, members):
    bs = group_broker.bootstrap
    create_topic(bs, topic, 4)
    allp = parts_of(topic, range(4))
    session_ms = 10000

    def start(name, instance):
        return members(name, KIND, member_conf(bs, group_id, name, **{
            "group.instance.id": f"{group_id}-{instance}", "session.timeout.ms": session_ms}), [topic])

    s1 = start("S1", "one")           # joins first: the group leader
    s1.wait_event(lambda e: e["ev"] == "assignment" and len(e["parts"]) == 4, 30, "S1 owning all 4")
    s2 = start("S2", "two")
    cur = settle([s1, s2], allp, [2, 2], hold=1.0, what="2/2 static members")
    gen = s1.last("assignment")["gen"]
    assert gen is not None and gen >= 1
    assert s2.last("assignment")["gen"] == gen

    d = describe(bs, group_id)
    assert sorted(m.group_instance_id for m in d.members) == sorted([f"{group_id}-one", f"{group_id}-two"])

    # restart the leader, then the follower, each within the session timeout:
    # same partitions back, same generation, no rebalance seen by the other one
    survivors = {"S1": s1, "S2": s2}
    for name, instance, other in (("S1", "one", "S2"), ("S2", "two", "S1")):
        old = survivors[name]
        t0 = time.time()
        old.close()                    # static members do not send LeaveGroup
        assert len(describe(bs, group_id).members) == 2, "static member left the group on close"
        new = start(name + "b", instance)
        survivors[name] = new
        ms = [survivors["S1"], survivors["S2"]]
        settle(ms, allp, [2, 2], timeout=session_ms / 1000 + 20, hold=2.0,
               what=f"{name} back after a restart")
        assert new.assignment == cur[name]
        assert new.last("assignment")["gen"] == gen, "the static rejoin bumped the generation"
        assert rebalance_events(survivors[other], t0) == [], \
            f"{other} saw a rebalance when static member {name} restarted"
        assert time.time() - t0 < session_ms / 1000, "restart took longer than the session timeout"

    all_ms = members.all
    assert ownership_violations(all_ms) == []
    # the group still has exactly the two static members
    d = describe(bs, group_id)
    assert d.state == ConsumerGroupState.STABLE
    assert len(d.members) == 2

    # fencing: a second process with S1's instance id replaces the running one
    s1b, s2b = survivors["S1"], survivors["S2"]
    t1 = time.time()
    s1c = start("S1c", "one")
    err = s1b.wait_event(lambda e: e["ev"] == "error", 30, "S1b being fenced")
    assert err["code"] == KafkaError._FATAL, err
    assert KafkaError(FENCED_INSTANCE_ID).str() in err["str"], err
    settle([s1c, s2b], allp, [2, 2], timeout=30, hold=1.0, what="S1c replacing S1b")
    assert s1c.assignment == cur["S1"]
    assert rebalance_events(s2b, t1) == []
    assert s1c.last("assignment")["gen"] == gen
    d = describe(bs, group_id)
    assert len(d.members) == 2
    assert s1c.last("assignment")["member"] in {m.member_id for m in d.members}
    assert s1b.last("assignment")["member"] not in {m.member_id for m in d.members}


# ---------------------------------------------------------------------------
# 4. assignment strategies
# ---------------------------------------------------------------------------

def test_cooperative_sticky_two_three_two(group_broker, topic, group_id, members):
    bs = group_broker.bootstrap
    create_topic(bs, topic, 6)
    allp = parts_of(topic, range(6))
    produced = produce_round(bs, topic, 6, "c0")

    def start(name):
        return members(name, KIND, member_conf(
            bs, group_id, name, **{"partition.assignment.strategy": "cooperative-sticky"}), [topic])

    a = start("A")
    a.wait_event(lambda e: e["ev"] == "assignment" and len(e["parts"]) == 6, 30, "A owning all 6")
    b = start("B")
    two = settle([a, b], allp, [3, 3], hold=1.0, what="3/3")
    t_join = time.time()
    c = start("C")
    three = settle([a, b, c], allp, [2, 2, 2], hold=1.5, what="2/2/2 cooperative")
    # sticky: the old members keep a subset; cooperative: they give up only
    # the moved partitions (never all of them)
    for m in (a, b):
        assert three[m.name] <= two[m.name], f"{m.name} lost partitions it kept: {two[m.name]} -> {three[m.name]}"
        revoked = [tuple(p) for e in m.of("revoke", since=t_join) for p in e["parts"]]
        assert sorted(revoked) == sorted(two[m.name] - three[m.name])
        assert m.of("lost", since=t_join) == []
    d = describe(bs, group_id)
    assert d.partition_assignor == "cooperative-sticky"

    t_leave = time.time()
    c.close()
    back = settle([a, b], allp, [3, 3], hold=1.5, what="3/3 after C left")
    for m in (a, b):
        assert back[m.name] >= three[m.name]
        assert m.of("revoke", since=t_leave) == [] or \
            all(e["parts"] == [] for e in m.of("revoke", since=t_leave))
    produced |= produce_round(bs, topic, 6, "c1")
    wait_all_consumed([a, b, c], produced)
    assert ownership_violations([a, b, c]) == []


@pytest.mark.parametrize("strategy", ["range", "roundrobin"])
def test_range_and_roundrobin(group_broker, make_topic, group_id, members, strategy):
    bs = group_broker.bootstrap
    t1, t2 = sorted([make_topic("x"), make_topic("y")])
    for t in (t1, t2):
        create_topic(bs, t, 3)
    allp = parts_of(t1, range(3)) | parts_of(t2, range(3))

    def start(name):
        return members(name, KIND, member_conf(
            bs, group_id, name, **{"partition.assignment.strategy": strategy}), [t1, t2])

    a, b = start("A"), start("B")
    sizes = [2, 4] if strategy == "range" else [3, 3]
    cur = settle([a, b], allp, sizes, hold=1.0, what=f"{strategy} assignment")
    d = describe(bs, group_id)
    assert d.partition_assignor == strategy
    ids = {m.last("assignment")["member"]: m.name for m in (a, b)}
    first, second = (ids[mid] for mid in sorted(ids))
    if strategy == "range":
        # per topic, the member with the lower member id gets partitions 0 and 1
        assert cur[first] == parts_of(t1, [0, 1]) | parts_of(t2, [0, 1])
        assert cur[second] == parts_of(t1, [2]) | parts_of(t2, [2])
    else:
        # round robin over the sorted (topic, partition) list and sorted members
        order = sorted(allp)
        assert cur[first] == set(order[0::2])
        assert cur[second] == set(order[1::2])


def test_protocol_chosen_from_common_strategies(group_broker, topic, group_id, members):
    bs = group_broker.bootstrap
    create_topic(bs, topic, 4)
    allp = parts_of(topic, range(4))
    a = members("A", KIND, member_conf(bs, group_id, "A", **{
        "partition.assignment.strategy": "range,roundrobin"}), [topic])
    a.wait_event(lambda e: e["ev"] == "assignment" and len(e["parts"]) == 4, 30, "A owning all 4")
    assert describe(bs, group_id).partition_assignor == "range"
    b = members("B", KIND, member_conf(bs, group_id, "B", **{
        "partition.assignment.strategy": "roundrobin"}), [topic])
    settle([a, b], allp, [2, 2], hold=1.0, what="2/2")
    assert describe(bs, group_id).partition_assignor == "roundrobin"


# ---------------------------------------------------------------------------
# 5. admin API
# ---------------------------------------------------------------------------

def test_admin_list_describe_delete_groups_and_offsets(group_broker, topic, group_id, members):
    bs = group_broker.bootstrap
    admin = admin_client(bs)
    create_topic(bs, topic, 3)
    live, empty = group_id + "-live", group_id + "-empty"

    # an Empty group holding offsets, written with admin (OffsetCommit generation -1)
    res = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(empty, [
        TopicPartition(topic, 0, 5, "m0"), TopicPartition(topic, 1, 6, "m1")])], request_timeout=15)
    got = res[empty].result(20)
    assert got.group_id == empty
    assert sorted((tp.partition, tp.offset, tp.error) for tp in got.topic_partitions) == \
        [(0, 5, None), (1, 6, None)]

    # a live group: one dynamic and one static member
    a = members("A", KIND, member_conf(bs, live, "cli-a"), [topic])
    s = members("S", KIND, member_conf(bs, live, "cli-s", **{"group.instance.id": "inst-s"}), [topic])
    cur = settle([a, s], parts_of(topic, range(3)), [1, 2], hold=1.0, what="live group 1/2")

    def listed(**kw):
        r = admin.list_consumer_groups(request_timeout=15, **kw).result(20)
        assert r.errors == []
        return {g.group_id: g for g in r.valid if g.group_id in (live, empty)}

    allg = listed()
    assert set(allg) == {live, empty}
    assert allg[live].state == ConsumerGroupState.STABLE
    assert allg[live].is_simple_consumer_group is False
    assert allg[empty].state == ConsumerGroupState.EMPTY
    assert allg[empty].is_simple_consumer_group is True
    assert set(listed(states={ConsumerGroupState.STABLE})) == {live}
    assert set(listed(states={ConsumerGroupState.EMPTY})) == {empty}
    assert set(listed(states={ConsumerGroupState.EMPTY, ConsumerGroupState.STABLE})) == {live, empty}
    assert set(listed(states={ConsumerGroupState.PREPARING_REBALANCING})) == set()

    descs = {g: f.result(20) for g, f in admin.describe_consumer_groups([live, empty], request_timeout=15).items()}
    d = descs[live]
    assert d.group_id == live
    assert d.state == ConsumerGroupState.STABLE
    assert d.partition_assignor == "range"
    assert d.is_simple_consumer_group is False
    assert d.coordinator.id == 1
    assert d.coordinator.port == group_broker.port
    by_client = {m.client_id: m for m in d.members}
    assert set(by_client) == {"cli-a", "cli-s"}
    for child, cid in ((a, "cli-a"), (s, "cli-s")):
        md = by_client[cid]
        assert md.member_id == child.last("assignment")["member"]
        assert md.host == "/127.0.0.1"
        assert {(tp.topic, tp.partition) for tp in md.assignment.topic_partitions} == cur[child.name]
    assert by_client["cli-a"].group_instance_id is None
    assert by_client["cli-s"].group_instance_id == "inst-s"
    e = descs[empty]
    assert e.state == ConsumerGroupState.EMPTY
    assert e.members == []
    assert e.is_simple_consumer_group is True

    # offsets: all partitions, then some (an uncommitted one is OFFSET_INVALID)
    def offsets(group, parts=None):
        req = ConsumerGroupTopicPartitions(group, None if parts is None else
                                           [TopicPartition(topic, p) for p in parts])
        r = admin.list_consumer_group_offsets([req], request_timeout=15)[group].result(20)
        return {(tp.partition): (tp.offset, tp.metadata) for tp in r.topic_partitions}

    assert offsets(empty) == {0: (5, "m0"), 1: (6, "m1")}
    # (the broker sends metadata "" for the uncommitted partition; librdkafka maps it to None)
    assert offsets(empty, [1, 2]) == {1: (6, "m1"), 2: (OFFSET_INVALID, None)}

    # altering the offsets of a live group is refused (members own it)
    # (OffsetCommit with generation -1 and no member id -> UNKNOWN_MEMBER_ID per partition)
    res = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(live, [
        TopicPartition(topic, 0, 1)])], request_timeout=15)
    got = res[live].result(20)
    assert [(tp.partition, tp.error.code() if tp.error else None) for tp in got.topic_partitions] == \
        [(0, UNKNOWN_MEMBER_ID)]
    assert offsets(live) == {}

    # delete: NON_EMPTY_GROUP while members remain; an empty group goes away
    with pytest.raises(KafkaException) as ei:
        admin.delete_consumer_groups([live], request_timeout=15)[live].result(20)
    assert ei.value.args[0].code() == NON_EMPTY_GROUP, ei.value
    admin.delete_consumer_groups([empty], request_timeout=15)[empty].result(20)
    assert set(listed()) == {live}
    assert offsets(empty) == {}
    gone = admin.describe_consumer_groups([empty], request_timeout=15)[empty].result(20)
    assert gone.state == ConsumerGroupState.DEAD
    with pytest.raises(KafkaException) as ei:
        admin.delete_consumer_groups([empty], request_timeout=15)[empty].result(20)
    assert ei.value.args[0].code() == GROUP_ID_NOT_FOUND, ei.value

    # once the members are gone (the static one does not leave on close: it
    # stays until its session times out), the live group can be deleted too
    a.close()
    s.close()
    wait_until(lambda: describe(bs, live).state == ConsumerGroupState.EMPTY,
               SESSION_MS / 1000 + 15, what="the live group becoming Empty")
    admin.delete_consumer_groups([live], request_timeout=15)[live].result(20)
    assert set(listed()) == set()

