"""Consumer groups with kafka-python against gregor.

Group members run in child processes (group_harness.Member) so that one can
be SIGKILLed. Producers set enable_idempotence=False (kafka-python 3 defaults
to idempotence, which gregor does not implement).
"""

from __future__ import annotations

import time

import kafka.errors as Errors
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import MemberToRemove, NewTopic
from kafka.admin._groups import GroupState
from kafka.structs import OffsetAndMetadata

from conftest import GROUP_BROKER_OVERRIDES, kafka_python_knows, wait_until
from group_harness import members  # noqa: F401  (fixture)
from group_harness import ownership_violations, settle, wait_all_consumed

SESSION_MS = 6000       # the broker's group.min.session.timeout.ms
HEARTBEAT_MS = 1000
KIND = "kafka-python"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def admin_client(bootstrap) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)


def create_topic(bootstrap, name, partitions):
    admin = admin_client(bootstrap)
    try:
        res = admin.create_topics([NewTopic(name, partitions, 1)])
        assert [t["error_code"] for t in res["topics"]] == [0], res
    finally:
        admin.close()


def produce_round(bootstrap, topic, partitions, tag, per_partition=10) -> set:
    p = KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", linger_ms=5)
    try:
        futs = [p.send(topic, value=f"{tag}-{part}-{i}".encode(), partition=part)
                for part in range(partitions) for i in range(per_partition)]
        p.flush(30)
        out = set()
        for f in futs:
            md = f.get(timeout=30)
            out.add((md.topic, md.partition, md.offset))
    finally:
        p.close()
    assert len(out) == partitions * per_partition
    return out


def member_conf(bootstrap, group, client_id, **extra) -> dict:
    c = dict(bootstrap_servers=bootstrap, group_id=group, client_id=client_id,
             session_timeout_ms=SESSION_MS, heartbeat_interval_ms=HEARTBEAT_MS,
             auto_offset_reset="earliest", enable_auto_commit=True, auto_commit_interval_ms=500)
    c.update(extra)
    return c


def in_process_consumer(bootstrap, group, **extra) -> KafkaConsumer:
    c = dict(bootstrap_servers=bootstrap, group_id=group, session_timeout_ms=SESSION_MS,
             heartbeat_interval_ms=HEARTBEAT_MS, auto_offset_reset="earliest",
             enable_auto_commit=False)
    c.update(extra)
    return KafkaConsumer(**c)


def parts_of(topic, ps):
    return {(topic, p) for p in ps}


def rebalance_events(m, since):
    return m.of("assign", "revoke", "lost", since=since)


def describe(bootstrap, group) -> dict:
    admin = admin_client(bootstrap)
    try:
        return admin.describe_groups([group])[group]
    finally:
        admin.close()


def assignment_of(member_desc) -> set:
    a = member_desc["member_assignment"]
    return {(t["topic"], p) for t in a["assigned_partitions"] for p in t["partitions"]}


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
    gens = {m.last("assignment")["gen"] for m in (a, b, c)}
    assert len(gens) == 1, f"members report different generations: {gens}"
    d = describe(bs, group_id)
    assert d["group_state"] == "Stable"
    assert len(d["members"]) == 3

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
    gen_after_leave = a.last("assignment")["gen"]
    assert gen_after_leave == b.last("assignment")["gen"]
    assert gen_after_leave == next(iter(gens)) + 1, "a leave should take exactly one new generation"
    assert len(describe(bs, group_id)["members"]) == 2

    c2 = start("C2")
    settle([a, b, c2], allp, [2, 2, 2], hold=1.0, what="2/2/2 after a new member joined")

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
    assert d["group_state"] == "Stable"
    assert sorted(m["client_id"] for m in d["members"]) == ["A", "B2", "C2"]
    for md in d["members"]:
        child = {"A": a, "B2": b2, "C2": c2}[md["client_id"]]
        assert assignment_of(md) == child.assignment

    produced |= produce_round(bs, topic, 6, "r3")
    everyone = [a, b, c, c2, b2]
    wait_all_consumed(everyone, produced)
    for m in (a, c2, b2):
        m.close()
    assert ownership_violations(everyone) == []
    d = describe(bs, group_id)
    assert d["group_state"] == "Empty"
    assert d["members"] == []


# ---------------------------------------------------------------------------
# 2. commits survive broker restarts
# ---------------------------------------------------------------------------

def poll_records(c, pred, timeout, what):
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for recs in c.poll(timeout_ms=200).values():
            out.extend(recs)
        if pred(out):
            return out
    raise AssertionError(f"timed out after {timeout}s waiting for {what}: got {len(out)} records")


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_committed_offsets_survive_broker_restart(broker_factory, topic, group_id, how):
    b = broker_factory(name=f"commit-{how}", **GROUP_BROKER_OVERRIDES)
    create_topic(b.bootstrap, topic, 3)
    produce_round(b.bootstrap, topic, 3, "before", per_partition=20)
    tps = [TopicPartition(topic, p) for p in range(3)]

    c = in_process_consumer(b.bootstrap, group_id)
    c.subscribe([topic])
    kafka_python_knows(c, [topic])
    msgs = poll_records(c, lambda out: len(out) >= 60, 40, "60 records")
    assert len(msgs) == 60

    # synchronous commit with metadata
    c.commit({tps[0]: OffsetAndMetadata(7, "sync-meta-p0", -1)})
    # asynchronous commit with metadata: wait for its callback
    done = []
    c.commit_async({tps[1]: OffsetAndMetadata(12, "async-meta-p1 \u00e9", -1)},
                   callback=lambda offsets, res: done.append((offsets, res)))
    wait_until(lambda: (c.poll(timeout_ms=50), done)[1], 15, what="async commit callback")
    offsets, res = done[0]
    assert not isinstance(res, Exception), res
    assert {tp: om.offset for tp, om in offsets.items()} == {tps[1]: 12}
    # commit of the consumed position (20 on p2), no metadata
    c.commit({tps[2]: OffsetAndMetadata(c.position(tps[2]), "", -1)})

    expected = {0: (7, "sync-meta-p0"), 1: (12, "async-meta-p1 \u00e9"), 2: (20, "")}

    def committed(consumer):
        out = {}
        for tp in tps:
            om = consumer.committed(tp, metadata=True)
            out[tp.partition] = (om.offset, om.metadata)
        return out

    assert committed(c) == expected
    c.close()

    if how == "sigterm":
        assert b.stop() == 0
    else:
        b.kill()
    b.start()

    admin = admin_client(b.bootstrap)
    try:
        listed = admin.list_group_offsets(group_id)[group_id]
        assert {tp.partition: (om.offset, om.metadata) for tp, om in listed.items()} == expected
        assert admin.describe_groups([group_id])[group_id]["group_state"] == "Empty"
    finally:
        admin.close()

    produce_round(b.bootstrap, topic, 3, "after", per_partition=5)
    c2 = in_process_consumer(b.bootstrap, group_id)
    try:
        assert committed(c2) == expected
        c2.subscribe([topic])
        kafka_python_knows(c2, [topic])
        want = (20 - 7 + 5) + (20 - 12 + 5) + 5
        msgs = poll_records(c2, lambda out: len(out) >= want, 40, f"{want} records after restart")
        msgs += poll_records(c2, lambda out: True, 2, "nothing more")
        extra_deadline = time.monotonic() + 2
        while time.monotonic() < extra_deadline:
            for recs in c2.poll(timeout_ms=200).values():
                msgs.extend(recs)
        first = {}
        for m in msgs:
            first.setdefault(m.partition, m.offset)
        assert first == {0: 7, 1: 12, 2: 20}
        per_part = {p: sorted(m.offset for m in msgs if m.partition == p) for p in range(3)}
        assert per_part == {0: list(range(7, 25)), 1: list(range(12, 25)), 2: list(range(20, 25))}
    finally:
        c2.close()


# ---------------------------------------------------------------------------
# 3. static membership
# ---------------------------------------------------------------------------

def test_static_membership_restart_and_fencing(group_broker, topic, group_id, members):
    bs = group_broker.bootstrap
    create_topic(bs, topic, 4)
    allp = parts_of(topic, range(4))
    session_ms = 10000

    def start(name, instance):
        return members(name, KIND, member_conf(bs, group_id, name, group_instance_id=f"{group_id}-{instance}",
                                               session_timeout_ms=session_ms), [topic])

    s1 = start("S1", "one")
    s1.wait_event(lambda e: e["ev"] == "assignment" and len(e["parts"]) == 4, 30, "S1 owning all 4")
    s2 = start("S2", "two")
    cur = settle([s1, s2], allp, [2, 2], hold=1.0, what="2/2 static members")
    gen = s1.last("assignment")["gen"]
    assert gen is not None and gen >= 1
    assert s2.last("assignment")["gen"] == gen
    d = describe(bs, group_id)
    assert sorted(m["group_instance_id"] for m in d["members"]) == \
        sorted([f"{group_id}-one", f"{group_id}-two"])

    survivors = {"S1": s1, "S2": s2}
    for name, instance, other in (("S1", "one", "S2"), ("S2", "two", "S1")):
        old = survivors[name]
        t0 = time.time()
        old.close()                    # kafka-python static members skip LeaveGroup on close
        assert len(describe(bs, group_id)["members"]) == 2, "static member left the group on close"
        new = start(name + "b", instance)
        survivors[name] = new
        settle([survivors["S1"], survivors["S2"]], allp, [2, 2], timeout=session_ms / 1000 + 20,
               hold=2.0, what=f"{name} back after a restart")
        assert new.assignment == cur[name]
        assert new.last("assignment")["gen"] == gen, "the static rejoin bumped the generation"
        assert rebalance_events(survivors[other], t0) == [], \
            f"{other} saw a rebalance when static member {name} restarted"
        assert time.time() - t0 < session_ms / 1000, "restart took longer than the session timeout"

    assert ownership_violations(members.all) == []
    d = describe(bs, group_id)
    assert d["group_state"] == "Stable"
    assert len(d["members"]) == 2

    # fencing: a second process with S1's instance id replaces the running one
    s1b, s2b = survivors["S1"], survivors["S2"]
    t1 = time.time()
    s1c = start("S1c", "one")
    err = s1b.wait_event(lambda e: e["ev"] == "error", 30, "S1b being fenced")
    assert err["type"] == "FencedInstanceIdError", err
    settle([s1c, s2b], allp, [2, 2], timeout=30, hold=1.0, what="S1c replacing S1b")
    assert s1c.assignment == cur["S1"]
    assert rebalance_events(s2b, t1) == []
    assert s1c.last("assignment")["gen"] == gen
    d = describe(bs, group_id)
    ids = {m["member_id"] for m in d["members"]}
    assert len(ids) == 2
    assert s1c.last("assignment")["member"] in ids
    assert s1b.last("assignment")["member"] not in ids


# ---------------------------------------------------------------------------
# 4. assignment strategies
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ["range", "roundrobin"])
def test_range_and_roundrobin(group_broker, make_topic, group_id, members, strategy):
    bs = group_broker.bootstrap
    t1, t2 = sorted([make_topic("x"), make_topic("y")])
    for t in (t1, t2):
        create_topic(bs, t, 3)
    allp = parts_of(t1, range(3)) | parts_of(t2, range(3))

    def start(name):
        return members(name, KIND, member_conf(bs, group_id, name,
                                               partition_assignment_strategy=[strategy]), [t1, t2])

    a, b = start("A"), start("B")
    sizes = [2, 4] if strategy == "range" else [3, 3]
    cur = settle([a, b], allp, sizes, hold=1.0, what=f"{strategy} assignment")
    d = describe(bs, group_id)
    assert d["protocol_type"] == "consumer"
    assert d["protocol_data"] == strategy
    ids = {m.last("assignment")["member"]: m.name for m in (a, b)}
    first, second = (ids[mid] for mid in sorted(ids))
    if strategy == "range":
        assert cur[first] == parts_of(t1, [0, 1]) | parts_of(t2, [0, 1])
        assert cur[second] == parts_of(t1, [2]) | parts_of(t2, [2])
    else:
        order = sorted(allp)
        assert cur[first] == set(order[0::2])
        assert cur[second] == set(order[1::2])


def test_cooperative_sticky_two_three_two(group_broker, topic, group_id, members):
    bs = group_broker.bootstrap
    create_topic(bs, topic, 6)
    allp = parts_of(topic, range(6))
    produced = produce_round(bs, topic, 6, "c0")

    def start(name):
        return members(name, KIND, member_conf(
            bs, group_id, name, partition_assignment_strategy=["cooperative-sticky"]), [topic])

    a = start("A")
    a.wait_event(lambda e: e["ev"] == "assignment" and len(e["parts"]) == 6, 30, "A owning all 6")
    b = start("B")
    two = settle([a, b], allp, [3, 3], hold=1.0, what="3/3")
    t_join = time.time()
    c = start("C")
    three = settle([a, b, c], allp, [2, 2, 2], hold=1.5, what="2/2/2 cooperative")
    for m in (a, b):
        assert three[m.name] <= two[m.name], f"{m.name}: {two[m.name]} -> {three[m.name]}"
        revoked = [tuple(p) for e in m.of("revoke", since=t_join) for p in e["parts"]]
        assert sorted(revoked) == sorted(two[m.name] - three[m.name])
    assert describe(bs, group_id)["protocol_data"] == "cooperative-sticky"
    c.close()
    back = settle([a, b], allp, [3, 3], hold=1.5, what="3/3 after C left")
    for m in (a, b):
        assert back[m.name] >= three[m.name]
    produced |= produce_round(bs, topic, 6, "c1")
    wait_all_consumed([a, b, c], produced)
    assert ownership_violations([a, b, c]) == []


def test_mixed_clients_in_one_group(group_broker, topic, group_id, members):
    """A librdkafka member and a kafka-python member share one group; the
    broker picks the protocol both support (roundrobin)."""
    bs = group_broker.bootstrap
    create_topic(bs, topic, 4)
    allp = parts_of(topic, range(4))
    produced = produce_round(bs, topic, 4, "mix")
    k = members("K", KIND, member_conf(bs, group_id, "K",
                                       partition_assignment_strategy=["range", "roundrobin"]), [topic])
    k.wait_event(lambda e: e["ev"] == "assignment" and len(e["parts"]) == 4, 30, "K owning all 4")
    r = members("R", "confluent", {
        "bootstrap.servers": bs, "group.id": group_id, "client.id": "R",
        "session.timeout.ms": SESSION_MS, "heartbeat.interval.ms": HEARTBEAT_MS,
        "auto.offset.reset": "earliest", "partition.assignment.strategy": "roundrobin"}, [topic])
    settle([k, r], allp, [2, 2], hold=1.0, what="2/2 across clients")
    d = describe(bs, group_id)
    assert d["protocol_data"] == "roundrobin"
    assert sorted(m["client_id"] for m in d["members"]) == ["K", "R"]
    wait_all_consumed([k, r], produced)
    assert ownership_violations([k, r]) == []


# ---------------------------------------------------------------------------
# 5. admin API
# ---------------------------------------------------------------------------

def test_admin_groups_and_offsets(group_broker, topic, make_topic, group_id, members):
    bs = group_broker.bootstrap
    other_topic = make_topic("other")
    create_topic(bs, topic, 3)
    create_topic(bs, other_topic, 2)
    live, empty = group_id + "-live", group_id + "-empty"
    admin = admin_client(bs)
    try:
        tps = [TopicPartition(topic, p) for p in range(3)]
        otps = [TopicPartition(other_topic, p) for p in range(2)]

        # Empty group with offsets (OffsetCommit generation -1)
        res = admin.alter_group_offsets(empty, {tps[0]: OffsetAndMetadata(5, "m0", None),
                                                tps[1]: OffsetAndMetadata(6, "m1", None)})
        assert res == {tps[0]: Errors.NoError, tps[1]: Errors.NoError}

        produced = produce_round(bs, topic, 3, "adm", per_partition=3)
        a = members("A", KIND, member_conf(bs, live, "cli-a", enable_auto_commit=False), [topic])
        s = members("S", KIND, member_conf(bs, live, "cli-s", enable_auto_commit=False,
                                           group_instance_id="inst-s"), [topic])
        cur = settle([a, s], parts_of(topic, range(3)), [1, 2], hold=1.0, what="live group 1/2")
        wait_all_consumed([a, s], produced)
        a.send("commit")          # A commits its consumed positions (3 on each of its partitions)
        a.wait_event(lambda e: e["ev"] in ("committed", "commit_error"), 20, "commit")
        assert a.last("committed") is not None, a.errors()

        def listed(**kw):
            return {g["group_id"]: g for g in admin.list_groups(**kw) if g["group_id"] in (live, empty)}

        allg = listed()
        assert set(allg) == {live, empty}
        assert allg[live]["group_state"] == "Stable"
        assert allg[live]["protocol_type"] == "consumer"
        assert allg[empty]["group_state"] == "Empty"
        assert allg[empty]["protocol_type"] == ""
        assert set(listed(states_filter=[GroupState.STABLE])) == {live}
        assert set(listed(states_filter=[GroupState.EMPTY])) == {empty}
        assert set(listed(states_filter=[GroupState.STABLE, GroupState.EMPTY])) == {live, empty}
        assert set(listed(states_filter=[GroupState.PREPARING_REBALANCE])) == set()

        descs = admin.describe_groups([live, empty])
        d = descs[live]
        assert d["error"] is None
        assert d["group_state"] == "Stable"
        assert d["protocol_type"] == "consumer"
        assert d["protocol_data"] == "range"
        by_client = {m["client_id"]: m for m in d["members"]}
        assert set(by_client) == {"cli-a", "cli-s"}
        for child, cid in ((a, "cli-a"), (s, "cli-s")):
            md = by_client[cid]
            assert md["member_id"] == child.last("assignment")["member"]
            assert md["client_host"] == "/127.0.0.1"
            assert md["member_metadata"]["topics"] == [topic]
            assert assignment_of(md) == cur[child.name]
        assert by_client["cli-a"]["group_instance_id"] is None
        assert by_client["cli-s"]["group_instance_id"] == "inst-s"
        e = descs[empty]
        assert e["error"] is None
        assert e["group_state"] == "Empty"
        assert e["members"] == []

        # offsets: all, some
        assert {tp: (om.offset, om.metadata) for tp, om in admin.list_group_offsets(empty)[empty].items()} == \
            {tps[0]: (5, "m0"), tps[1]: (6, "m1")}
        some = admin.list_group_offsets({empty: [tps[1], tps[2]]})[empty]
        assert {tp: (om.offset, om.metadata) for tp, om in some.items()} == \
            {tps[1]: (6, "m1"), tps[2]: (-1, "")}
        both = admin.list_group_offsets([empty, live])
        assert set(both) == {empty, live}
        assert {(tp.topic, tp.partition): (om.offset, om.metadata) for tp, om in both[live].items()} == \
            {tp: (3, "") for tp in cur["A"]}

        # alter offsets of a live group: UNKNOWN_MEMBER_ID
        assert admin.alter_group_offsets(live, {otps[0]: OffsetAndMetadata(1, "", None)}) == \
            {otps[0]: Errors.UnknownMemberIdError}

        # delete offsets: refused for a topic the live group subscribes to,
        # allowed for the empty group
        assert admin.delete_group_offsets(live, [tps[0]]) == {tps[0]: Errors.GroupSubscribedToTopicError}
        assert admin.delete_group_offsets(empty, [tps[0]]) == {tps[0]: Errors.NoError}
        assert {tp.partition for tp in admin.list_group_offsets(empty)[empty]} == {1}
        with pytest.raises(Errors.GroupIdNotFoundError):
            admin.delete_group_offsets(group_id + "-nope", [tps[0]])

        # delete groups
        assert admin.delete_groups([live, empty, group_id + "-nope"]) == {
            live: "NonEmptyGroupError", empty: "OK", group_id + "-nope": "GroupIdNotFoundError"}
        assert set(listed()) == {live}
        assert admin.list_group_offsets(empty)[empty] == {}
        gone = admin.describe_groups([empty])[empty]
        # DescribeGroups v6 (KIP-1043), which kafka-python 3 sends: a group
        # that is gone is GROUP_ID_NOT_FOUND, with Kafka's message.
        assert gone["error"] == f"[Error 69] GroupIdNotFoundError: Group {empty} not found."
        assert gone["group_state"] == "Dead"
        assert gone["members"] == []

        # remove members (LeaveGroup v3+ batch): the static one by instance id,
        # the dynamic one by member id; an unknown member id is reported
        a_id = a.last("assignment")["member"]
        s_id = s.last("assignment")["member"]
        removed = admin.remove_group_members(live, [MemberToRemove(group_instance_id="inst-s"),
                                                    MemberToRemove(member_id=a_id),
                                                    MemberToRemove(member_id="no-such-member")])

        # the removed members notice (UNKNOWN_MEMBER_ID on heartbeat) and rejoin under new ids
        def rejoined():
            d = describe(bs, live)
            ids = {m["member_id"] for m in d["members"]}
            return d["group_state"] == "Stable" and len(ids) == 2 and not ids & {a_id, s_id} and d
        d = wait_until(rejoined, 30, interval=0.5, what="the removed members rejoining")
        assert {m["group_instance_id"] for m in d["members"]} == {None, "inst-s"}
        # kafka-python keys each result by the member id the broker answers with
        # (else the instance id); Kafka answers a removal by instance id with the
        # id of the member it removed
        assert removed == {s_id: Errors.NoError, a_id: Errors.NoError,
                           "no-such-member": Errors.UnknownMemberIdError}
    finally:
        admin.close()
