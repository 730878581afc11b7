"""Online migration between classic and KIP-848 consumer groups against
gregor (`group.consumer.migration.policy`, Kafka 4's default
`bidirectional`): a classic group with live members becomes a consumer
group when a member of the consumer protocol joins it, the classic members
staying in it as classic members (they rejoin with JoinGroup/SyncGroup and
get what the server-side assignor gives them, one partition never owned by
two members), and it becomes a classic group again when its last
consumer-protocol member leaves or is fenced by its session timeout.
Committed offsets are kept through both conversions.

With real clients: a librdkafka (confluent-kafka, `group.protocol=classic`)
and a kafka-python member with the range assignor in child processes
(group_harness.Member) while records are produced, joined and then left by
a librdkafka member of the consumer protocol; Kafka's Java client 4.4
(group_harness.JavaMember) as a classic and a consumer-protocol consumer
of one group. Over raw sockets (group_harness.GroupWire): every step of
both conversions with ConsumerGroupDescribe v1's member types and
DescribeGroups, the rules for classic members of a consumer group
(JoinGroup, SyncGroup, Heartbeat, OffsetCommit and LeaveGroup error codes),
the session timeout that fences the last consumer-protocol member, the
policies `disabled`, `upgrade` and `downgrade`, and a converted group with a
classic member across broker restarts (SIGTERM and SIGKILL).

The shared broker runs with short consumer-group timeouts (as
test_groups_consumer_protocol.py's) and starts classic rebalances at once."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from conftest import started_shared_broker, unique_topic, wait_until
from group_harness import GroupWire, consumer_assignment, consumer_subscription
from group_harness import create_topic, decode_assignment, produce_round
from group_harness import members  # noqa: F401  (fixture)
from group_harness import ownership_violations, settle, wait_all_consumed
from group_harness import HEARTBEAT_MS, SESSION_MS
from group_harness import FAST_CONSUMER_GROUPS as OVERRIDES

# Raw classic members' session timeout (group.min.session.timeout.ms is 6 s).
CLASSIC_SESSION_MS = 10000

# Kafka error codes
NONE = 0
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
UNKNOWN_MEMBER_ID = 25
REBALANCE_IN_PROGRESS = 27
GROUP_ID_NOT_FOUND = 69
MEMBER_ID_REQUIRED = 79
CLASSIC, CONSUMER = 0, 1   # ConsumerGroupDescribe v1 member types


@pytest.fixture(scope="module")
def migration_broker():
    yield from started_shared_broker("migration", OVERRIDES)


# ---------------------------------------------------------------------------
# helpers: topics, records, offsets, describes
# ---------------------------------------------------------------------------

class BackgroundProducer:
    """Produces one record to every partition every `interval` seconds from
    a thread while the `with` block runs; `produced` then holds (topic,
    partition, offset) of every record delivered."""

    def __init__(self, bootstrap, topic, partitions, tag, interval=0.1):
        self.bootstrap, self.topic, self.partitions, self.tag = bootstrap, topic, partitions, tag
        self.interval = interval
        self.produced: set = set()
        self.errors: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        p = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 5})

        def dr(err, msg):
            if err is not None:
                self.errors.append(err)
            else:
                self.produced.add((msg.topic(), msg.partition(), msg.offset()))

        i = 0
        while not self._stop.is_set():
            for part in range(self.partitions):
                p.produce(self.topic, value=f"{self.tag}-{part}-{i}".encode(), partition=part,
                          on_delivery=dr)
            i += 1
            p.poll(0)
            self._stop.wait(self.interval)
        if p.flush(30) != 0:
            self.errors.append("records left unflushed")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(60)
        assert not self._thread.is_alive(), "background producer did not stop"
        assert not self.errors, self.errors[:5]
        assert self.produced, "the background producer delivered nothing"


def every(topic, partitions):
    return {(topic, p) for p in range(partitions)}


def end_offsets(produced: set) -> dict:
    """{(topic, partition): next offset} of what was produced (each topic
    written only by the test, from offset 0)."""
    out: dict = {}
    for t, p, o in produced:
        out[(t, p)] = max(out.get((t, p), 0), o + 1)
    return out


def committed_offsets(bootstrap, group, topic, partitions) -> dict:
    """{partition: committed offset} from the admin client's OffsetFetch
    (-1001 where nothing is committed)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in range(partitions)])
    result = admin.list_consumer_group_offsets([request])[group].result(15)
    return {tp.partition: tp.offset for tp in result.topic_partitions if tp.topic == topic}


def wait_committed(bootstrap, group, topic, partitions, expected: dict, timeout=20.0):
    want = {p: expected.get((topic, p), -1001) for p in range(partitions)}
    wait_until(lambda: committed_offsets(bootstrap, group, topic, partitions) == want,
               timeout=timeout, interval=0.5, what=f"committed offsets {want}")


def raw_call(broker, api, version, **values) -> dict:
    w = GroupWire(broker.host, broker.port)
    try:
        return w.call(api, version, **values)
    finally:
        w.close()


def describe_consumer_group(broker, group) -> dict:
    """ConsumerGroupDescribe v1 of one group."""
    r = raw_call(broker, "ConsumerGroupDescribe", 1, group_ids=[group])
    assert len(r["groups"]) == 1, r
    return r["groups"][0]


def describe_classic_group(broker, group, version=5) -> dict:
    r = raw_call(broker, "DescribeGroups", version, groups=[group])
    assert len(r["groups"]) == 1, r
    return r["groups"][0]


def listed_types(broker, group) -> list[str]:
    """The types ListGroups v5 gives `group` under each type filter."""
    out = []
    for kind in ("classic", "consumer"):
        r = raw_call(broker, "ListGroups", 5, types_filter=[kind])
        assert r["error_code"] == NONE, r
        out += [g["group_type"] for g in r["groups"] if g["group_id"] == group]
    return out


def topic_parts(assignment) -> set:
    """(topic name, partition) pairs of a ConsumerGroupDescribe assignment."""
    return {(t["topic_name"], p) for t in assignment["topic_partitions"] for p in t["partitions"]}


def by_member(described) -> dict:
    return {m["member_id"]: m for m in described["members"]}


def assert_is_consumer_group(broker, group):
    """ConsumerGroupDescribe knows the group; DescribeGroups (a classic
    group's describe) answers Dead, at v6 with GROUP_ID_NOT_FOUND."""
    d = describe_consumer_group(broker, group)
    assert d["error_code"] == NONE, d
    g = describe_classic_group(broker, group, version=6)
    assert (g["error_code"], g["group_state"]) == (GROUP_ID_NOT_FOUND, "Dead"), g
    assert listed_types(broker, group) == ["consumer"]
    return d


def assert_is_classic_group(broker, group):
    g = describe_classic_group(broker, group)
    assert g["error_code"] == NONE and g["protocol_type"] == "consumer", g
    d = describe_consumer_group(broker, group)
    assert d["error_code"] == GROUP_ID_NOT_FOUND, d
    assert listed_types(broker, group) == ["classic"]
    return g


# ---------------------------------------------------------------------------
# raw members
# ---------------------------------------------------------------------------

class Classic:
    """A classic member (JoinGroup v5, SyncGroup v5, Heartbeat v4) over its
    own connection. It behaves as an eager client: it gives up everything it
    owns before it (re)joins, and owns what SyncGroup gives it."""

    def __init__(self, broker, group, topic, name, protocols=("range",),
                 session_ms=CLASSIC_SESSION_MS, rebalance_ms=10000):
        self.broker, self.group, self.topic, self.name = broker, group, topic, name
        self.protocols = list(protocols)
        self.session_ms, self.rebalance_ms = session_ms, rebalance_ms
        self.w = GroupWire(broker.host, broker.port, client_id=name)
        self.member_id = ""
        self.gen = -1
        self.protocol_name = self.protocols[0]
        self.owned: set[int] = set()

    def reconnect(self):
        self.w.close()
        self.w = GroupWire(self.broker.host, self.broker.port, client_id=self.name)

    def join(self, protocol_type="consumer", protocols=None, member_id=None) -> dict:
        self.owned = set()
        names = self.protocols if protocols is None else protocols
        r = self.w.call("JoinGroup", 5, group_id=self.group, session_timeout_ms=self.session_ms,
                        rebalance_timeout_ms=self.rebalance_ms,
                        member_id=self.member_id if member_id is None else member_id,
                        protocol_type=protocol_type,
                        protocols=[{"name": n, "metadata": consumer_subscription([self.topic])}
                                   for n in names])
        if r["error_code"] == NONE:
            self.member_id, self.gen = r["member_id"], r["generation_id"]
            self.protocol_name = r["protocol_name"]
        return r

    def join_new(self) -> dict:
        """A new dynamic member: MEMBER_ID_REQUIRED first, then admitted with that id."""
        r = self.join(member_id="")
        assert r["error_code"] == MEMBER_ID_REQUIRED and r["member_id"], r
        self.member_id = r["member_id"]
        return self.join()

    def sync(self, assignments: dict | None = None, member_id=None) -> dict:
        r = self.w.call("SyncGroup", 5, group_id=self.group, generation_id=self.gen,
                        member_id=self.member_id if member_id is None else member_id,
                        protocol_type="consumer", protocol_name=self.protocol_name,
                        assignments=[{"member_id": m, "assignment": _assignment(self.topic, ps)}
                                     for m, ps in (assignments or {}).items()])
        if r["error_code"] == NONE and member_id is None:
            got = decode_assignment(r["assignment"]) if r["assignment"] else {}
            assert set(got) <= {self.topic}, got
            self.owned = set(got.get(self.topic, []))
        return r

    def rejoin(self) -> tuple[dict, dict]:
        """JoinGroup with its id, then SyncGroup as a follower."""
        j = self.join()
        assert j["error_code"] == NONE, (self.name, j)
        return j, self.sync()

    def heartbeat(self, gen=None, member_id=None) -> int:
        return self.w.call("Heartbeat", 4, group_id=self.group,
                           generation_id=self.gen if gen is None else gen,
                           member_id=self.member_id if member_id is None else member_id)["error_code"]

    def commit(self, offsets: dict, gen=None) -> list[int]:
        return _commit(self.w, 8, self.group, self.gen if gen is None else gen, self.member_id,
                       self.topic, offsets)

    def leave(self, member_ids=None) -> dict:
        ids = [self.member_id] if member_ids is None else member_ids
        return self.w.call("LeaveGroup", 3, group_id=self.group,
                           members=[{"member_id": m} for m in ids])

    def close(self):
        self.w.close()


class Modern:
    """A consumer-protocol member (ConsumerGroupHeartbeat v1, a member id of
    its own) over its own connection. It gives up at once what the
    coordinator takes away and says so in its next heartbeat."""

    def __init__(self, broker, group, topic, member_id):
        self.broker, self.group, self.topic, self.name = broker, group, topic, member_id
        self.member_id = member_id
        self.w = GroupWire(broker.host, broker.port, client_id=member_id)
        self.epoch = 0
        self.owned: set[int] = set()
        self.topic_id = None

    def reconnect(self):
        self.w.close()
        self.w = GroupWire(self.broker.host, self.broker.port, client_id=self.name)

    def _call(self, **values) -> dict:
        request = {"group_id": self.group, "member_id": self.member_id,
                   "rebalance_timeout_ms": -1, **values}
        r = self.w.call("ConsumerGroupHeartbeat", 1, **request)
        if r["error_code"] == NONE and r["member_epoch"] >= 0:
            self.epoch = r["member_epoch"]
            if r["assignment"] is not None:
                tps = r["assignment"]["topic_partitions"]
                self.owned = {p for t in tps for p in t["partitions"]}
                for t in tps:
                    self.topic_id = t["topic_id"]
        return r

    def join(self) -> dict:
        return self._call(member_epoch=0, rebalance_timeout_ms=30000,
                          subscribed_topic_names=[self.topic], topic_partitions=[])

    def heartbeat(self) -> dict:
        owned = ([{"topic_id": self.topic_id, "partitions": sorted(self.owned)}]
                 if self.owned else [])
        return self._call(member_epoch=self.epoch, topic_partitions=owned)

    def leave(self) -> dict:
        r = self._call(member_epoch=-1)
        if r["error_code"] == NONE:
            self.owned = set()
        return r

    def commit(self, offsets: dict) -> list[int]:
        return _commit(self.w, 9, self.group, self.epoch, self.member_id, self.topic, offsets)

    def close(self):
        self.w.close()


def _assignment(topic, partitions):
    return consumer_assignment({topic: sorted(partitions)})


def _commit(w, version, group, generation, member_id, topic, offsets) -> list[int]:
    r = w.call("OffsetCommit", version, group_id=group, generation_id=generation,
               member_id=member_id, retention_time_ms=-1,
               topics=[{"name": topic, "partitions": [
                   {"partition_index": p, "committed_offset": o, "committed_leader_epoch": -1,
                    "committed_metadata": ""} for p, o in sorted(offsets.items())]}])
    return [p["error_code"] for t in r["topics"] for p in t["partitions"]]


def assert_disjoint(*ms):
    """No partition owned by two raw members at this moment."""
    seen: dict = {}
    for m in ms:
        for p in m.owned:
            assert p not in seen, f"partition {p} owned by {seen[p]} and {m.name}: " \
                                  f"{[(x.name, sorted(x.owned)) for x in ms]}"
            seen[p] = m.name


def converge(broker, group, classics, moderns, partitions: set, timeout=20.0) -> dict:
    """Heartbeats every raw member (classic ones rejoin on
    REBALANCE_IN_PROGRESS) until the group is reconciled: every member at
    the group epoch with its target assignment, owning what
    ConsumerGroupDescribe says it owns, all of `partitions` owned. No
    partition may be owned twice at any step. Returns the last describe."""
    everyone = [*classics, *moderns]
    deadline = time.monotonic() + timeout
    while True:
        for m in moderns:
            r = m.heartbeat()
            assert r["error_code"] == NONE, (m.name, r)
            assert_disjoint(*everyone)
        for c in classics:
            code = c.heartbeat()
            assert code in (NONE, REBALANCE_IN_PROGRESS), (c.name, code)
            if code == REBALANCE_IN_PROGRESS:
                _, s = c.rejoin()
                assert s["error_code"] in (NONE, REBALANCE_IN_PROGRESS), (c.name, s)
            assert_disjoint(*everyone)
        d = describe_consumer_group(broker, group)
        assert d["error_code"] == NONE, d
        ms = by_member(d)
        assert set(ms) == {m.member_id for m in everyone}, (sorted(ms), [m.name for m in everyone])
        done = all(
            ms[m.member_id]["member_epoch"] == d["group_epoch"]
            and topic_parts(ms[m.member_id]["assignment"]) == topic_parts(ms[m.member_id]["target_assignment"])
            and {p for _, p in topic_parts(ms[m.member_id]["assignment"])} == m.owned
            for m in everyone) and set().union(*(m.owned for m in everyone)) == partitions
        if done:
            return d
        if time.monotonic() > deadline:
            raise AssertionError(f"group {group} not reconciled after {timeout}s: {d} "
                                 f"owned {[(m.name, sorted(m.owned)) for m in everyone]}")
        time.sleep(0.2)


def classic_group_of_one(broker, group, topic, partitions, name="a", **kw) -> Classic:
    """A classic group whose only member (the leader) owns every partition."""
    a = Classic(broker, group, topic, name, **kw)
    r = a.join_new()
    assert r["error_code"] == NONE and r["leader"] == a.member_id, r
    s = a.sync({a.member_id: range(partitions)})
    assert s["error_code"] == NONE, s
    assert a.owned == set(range(partitions))
    g = describe_classic_group(broker, group)
    assert (g["group_state"], g["protocol_type"], g["protocol_data"]) == \
        ("Stable", "consumer", "range"), g
    return a


# ---------------------------------------------------------------------------
# real clients
# ---------------------------------------------------------------------------

def classic_rdkafka_conf(bootstrap, group, client_id) -> dict:
    return {"bootstrap.servers": bootstrap, "group.id": group, "client.id": client_id,
            "group.protocol": "classic", "partition.assignment.strategy": "range",
            "session.timeout.ms": SESSION_MS, "heartbeat.interval.ms": HEARTBEAT_MS,
            "auto.offset.reset": "earliest", "enable.auto.commit": True,
            "auto.commit.interval.ms": 500}


def classic_kafka_python_conf(bootstrap, group, client_id) -> dict:
    # group_harness's kafka-python child learns its topics' metadata before
    # its first poll (conftest.kafka_python_knows).
    return dict(bootstrap_servers=bootstrap, group_id=group, client_id=client_id,
                partition_assignment_strategy=["range"], session_timeout_ms=SESSION_MS,
                heartbeat_interval_ms=HEARTBEAT_MS, auto_offset_reset="earliest",
                enable_auto_commit=True, auto_commit_interval_ms=500)


def consumer_protocol_rdkafka_conf(bootstrap, group, client_id) -> dict:
    # session and heartbeat belong to the broker in the consumer protocol
    return {"bootstrap.servers": bootstrap, "group.id": group, "client.id": client_id,
            "group.protocol": "consumer", "auto.offset.reset": "earliest",
            "enable.auto.commit": True, "auto.commit.interval.ms": 500}


def members_by_client(described) -> dict:
    return {m["client_id"]: m for m in described["members"]}


def test_classic_members_of_two_clients_upgrade_and_downgrade_under_load(migration_broker, members):
    b = migration_broker
    topic, group = unique_topic("mig"), unique_topic("gmig")
    create_topic(b.bootstrap, topic, 6)
    a = members("classic-rdkafka", "confluent",
                classic_rdkafka_conf(b.bootstrap, group, "classic-rdkafka"), [topic])
    k = members("classic-kpython", "kafka-python",
                classic_kafka_python_conf(b.bootstrap, group, "classic-kpython"), [topic])
    settle([a, k], every(topic, 6), sizes=[3, 3], hold=1.0, what="a classic range split")
    g = describe_classic_group(b, group)
    assert (g["group_state"], g["protocol_type"], g["protocol_data"], len(g["members"])) == \
        ("Stable", "consumer", "range", 2), g
    produced = produce_round(b.bootstrap, topic, 6, "classic")
    wait_all_consumed([a, k], produced)

    # UPGRADE, while records keep coming: a consumer-protocol member joins.
    with BackgroundProducer(b.bootstrap, topic, 6, "upgrade") as load:
        c = members("consumer-rdkafka", "confluent",
                    consumer_protocol_rdkafka_conf(b.bootstrap, group, "consumer-rdkafka"), [topic])
        settle([a, k, c], every(topic, 6), sizes=[2, 2, 2], hold=2.0, timeout=60,
               what="2 partitions each after the upgrade")
    produced |= load.produced
    d = assert_is_consumer_group(b, group)
    ms = members_by_client(d)
    assert {name: m["member_type"] for name, m in ms.items()} == \
        {"classic-rdkafka": CLASSIC, "classic-kpython": CLASSIC, "consumer-rdkafka": CONSUMER}, d
    for member in (a, k, c):
        described = ms[member.name]
        assert topic_parts(described["assignment"]) == set(member.assignment), (member.name, d)
        assert described["member_epoch"] == d["group_epoch"], d
    # A classic member's generation is its member epoch.
    for member in (a, k):
        assert member.last("assignment")["gen"] == ms[member.name]["member_epoch"], member._tail()
    wait_all_consumed([a, k, c], produced, timeout=60)
    assert c.consumed(), "the consumer-protocol member consumed nothing"
    violations = ownership_violations([a, k, c])
    assert not violations, violations
    # Everything consumed gets committed, by classic and consumer members alike.
    wait_committed(b.bootstrap, group, topic, 6, end_offsets(produced))

    # DOWNGRADE, while records keep coming: the consumer-protocol member closes.
    with BackgroundProducer(b.bootstrap, topic, 6, "downgrade") as load:
        c.close()
        settle([a, k], every(topic, 6), sizes=[3, 3], hold=2.0, timeout=60,
               what="3 partitions each after the downgrade")
    produced |= load.produced
    g = wait_until(lambda: (lambda g: g if g["group_state"] == "Stable" else None)(
        describe_classic_group(b, group)), timeout=20, what="a Stable classic group")
    assert_is_classic_group(b, group)
    assert (g["protocol_type"], g["protocol_data"]) == ("consumer", "range"), g
    assert sorted(m["client_id"] for m in g["members"]) == ["classic-kpython", "classic-rdkafka"], g
    produced |= produce_round(b.bootstrap, topic, 6, "classic-again")
    wait_all_consumed([a, k, c], produced, timeout=60)
    violations = ownership_violations([a, k, c])
    assert not violations, violations
    # The offsets committed in all three phases are there, and go on.
    wait_committed(b.bootstrap, group, topic, 6, end_offsets(produced))


def java_classic_conf(bootstrap, group, client_id) -> dict:
    return {"bootstrap.servers": bootstrap, "group.id": group, "client.id": client_id,
            "group.protocol": "classic",
            "partition.assignment.strategy": "org.apache.kafka.clients.consumer.RangeAssignor",
            "session.timeout.ms": SESSION_MS, "heartbeat.interval.ms": HEARTBEAT_MS,
            "auto.offset.reset": "earliest", "enable.auto.commit": "true",
            "auto.commit.interval.ms": 500}


def java_consumer_protocol_conf(bootstrap, group, client_id) -> dict:
    return {"bootstrap.servers": bootstrap, "group.id": group, "client.id": client_id,
            "group.protocol": "consumer", "auto.offset.reset": "earliest",
            "enable.auto.commit": "true", "auto.commit.interval.ms": 500}


def test_the_java_client_classic_and_consumer_members_share_a_group(migration_broker, members):
    b = migration_broker
    topic, group = unique_topic("migj"), unique_topic("gmigj")
    create_topic(b.bootstrap, topic, 4)
    classic = members("java-classic", "java",
                      java_classic_conf(b.bootstrap, group, "java-classic"), [topic])
    settle([classic], every(topic, 4), sizes=[4], timeout=60, what="the classic Java member's 4")
    produced = produce_round(b.bootstrap, topic, 4, "one")
    wait_all_consumed([classic], produced)

    with BackgroundProducer(b.bootstrap, topic, 4, "upgrade") as load:
        modern = members("java-consumer", "java",
                         java_consumer_protocol_conf(b.bootstrap, group, "java-consumer"),
                         [topic])
        settle([classic, modern], every(topic, 4), sizes=[2, 2], hold=2.0, timeout=60,
               what="2 partitions each after the upgrade")
    produced |= load.produced
    d = assert_is_consumer_group(b, group)
    ms = members_by_client(d)
    assert {name: m["member_type"] for name, m in ms.items()} == \
        {"java-classic": CLASSIC, "java-consumer": CONSUMER}, d
    assert classic.last("assignment")["gen"] == ms["java-classic"]["member_epoch"], classic._tail()
    assert modern.last("assignment")["gen"] == ms["java-consumer"]["member_epoch"], modern._tail()
    # The consumer-protocol member got its partitions from the classic one,
    # which gave them up (its revoke callback) before they were assigned.
    taken = set(modern.assignment)
    revoked = {tuple(p) for e in classic.of("revoke") for p in e["parts"]}
    assert taken <= revoked, (taken, classic._tail())
    wait_all_consumed([classic, modern], produced, timeout=60)
    assert modern.consumed()
    violations = ownership_violations([classic, modern])
    assert not violations, violations

    # The consumer-protocol member leaves: a classic group of one again.
    modern.close()
    settle([classic], every(topic, 4), sizes=[4], hold=1.0, timeout=60,
           what="all 4 back with the classic Java member")
    g = wait_until(lambda: (lambda g: g if g["group_state"] == "Stable" else None)(
        describe_classic_group(b, group)), timeout=20, what="a Stable classic group")
    assert [m["client_id"] for m in g["members"]] == ["java-classic"], g
    assert_is_classic_group(b, group)
    produced |= produce_round(b.bootstrap, topic, 4, "three")
    wait_all_consumed([classic, modern], produced)
    violations = ownership_violations([classic, modern])
    assert not violations, violations
    wait_committed(b.bootstrap, group, topic, 4, end_offsets(produced))


# ---------------------------------------------------------------------------
# raw wire
# ---------------------------------------------------------------------------

def test_raw_upgrade_classic_member_rules_and_downgrade(migration_broker):
    b = migration_broker
    topic, group = unique_topic("migr"), unique_topic("gmigr")
    create_topic(b.bootstrap, topic, 4)
    all4 = {0, 1, 2, 3}
    a = classic_group_of_one(b, group, topic, 4)
    c = Modern(b, group, topic, "c-1")
    new = Classic(b, group, topic, "b", protocols=("roundrobin",))
    expected_offsets = {}
    try:
        assert a.commit({0: 5}) == [NONE]
        expected_offsets[0] = 5
        classic_gen = a.gen

        # UPGRADE: the consumer-protocol member is admitted with a higher
        # epoch and nothing yet: every partition is still the classic member's.
        r = c.join()
        assert r["error_code"] == NONE, r
        assert r["member_epoch"] > classic_gen, r
        assert r["assignment"] is not None and c.owned == set(), r
        group_epoch = r["member_epoch"]
        d = assert_is_consumer_group(b, group)
        assert d["group_epoch"] == group_epoch, d
        ms = by_member(d)
        assert set(ms) == {a.member_id, "c-1"}, d
        assert (ms[a.member_id]["member_type"], ms["c-1"]["member_type"]) == (CLASSIC, CONSUMER), d
        assert ms[a.member_id]["member_epoch"] == classic_gen, d
        assert topic_parts(ms[a.member_id]["assignment"]) == {(topic, p) for p in all4}, d
        assert ms[a.member_id]["subscribed_topic_names"] == [topic], d
        # the server-side assignor re-divides: 2 and 2
        ta, tc = (topic_parts(ms[m]["target_assignment"]) for m in (a.member_id, "c-1"))
        assert not ta & tc and ta | tc == {(topic, p) for p in all4} and len(ta) == len(tc) == 2, d

        # The classic member's requests, judged by its member epoch.
        assert a.heartbeat(gen=classic_gen + 7) == ILLEGAL_GENERATION
        assert a.commit({1: 3}, gen=classic_gen + 7) == [ILLEGAL_GENERATION]
        assert a.commit({1: 3}) == [NONE]
        expected_offsets[1] = 3
        # A consumer-protocol member is unknown to the classic APIs.
        assert a.heartbeat(member_id="c-1", gen=group_epoch) == UNKNOWN_MEMBER_ID
        s = a.sync(member_id="c-1")
        assert s["error_code"] == UNKNOWN_MEMBER_ID, s
        # Told to rejoin; the JoinGroup answers at once, not as the leader.
        assert a.heartbeat() == REBALANCE_IN_PROGRESS
        started = time.monotonic()
        j = a.join()
        assert time.monotonic() - started < 5, "the JoinGroup waited for a classic rebalance"
        assert j["error_code"] == NONE, j
        assert (j["generation_id"], j["member_id"], j["protocol_name"], j["leader"], j["members"]) == \
            (group_epoch, a.member_id, "range", "", []), j
        s = a.sync()
        assert s["error_code"] == NONE and s["protocol_name"] == "range", s
        assert {(topic, p) for p in a.owned} == ta, (s, ta)
        assert_disjoint(a, c)
        assert a.heartbeat() == NONE
        # The partitions it gave up go to the consumer-protocol member.
        r = c.heartbeat()
        assert r["error_code"] == NONE and r["member_epoch"] == group_epoch, r
        assert {(topic, p) for p in c.owned} == tc, r
        assert_disjoint(a, c)
        assert c.commit({p: 7 for p in c.owned}) == [NONE, NONE]
        expected_offsets.update({p: 7 for p in c.owned})

        # A new classic member: of another protocol type, or with no
        # protocol the classic members share, it is refused.
        r = new.join(protocol_type="connect", member_id="")
        assert r["error_code"] == INCONSISTENT_GROUP_PROTOCOL, r
        r = new.join(member_id="")
        assert r["error_code"] == INCONSISTENT_GROUP_PROTOCOL, r
        # One that shares "range": MEMBER_ID_REQUIRED, then admitted at once
        # at the new group epoch, with the partitions nobody else owns (none).
        new.protocols = ["range", "roundrobin"]
        r = new.join_new()
        assert r["error_code"] == NONE, r
        assert r["generation_id"] > group_epoch and r["leader"] == "", r
        assert r["protocol_name"] == "range", r
        s = new.sync()
        assert s["error_code"] == NONE, s
        assert new.owned == set(), s
        d = converge(b, group, [a, new], [c], all4)
        ms = by_member(d)
        assert ms[new.member_id]["member_type"] == CLASSIC, d
        assert sorted(len(m.owned) for m in (a, new, c)) == [1, 1, 2]

        # LeaveGroup: a classic member leaves; a consumer-protocol member
        # cannot be removed through it.
        r = new.leave()
        assert r["error_code"] == NONE, r
        assert [(m["member_id"], m["error_code"]) for m in r["members"]] == [(new.member_id, NONE)], r
        r = new.leave(["c-1"])
        assert [(m["member_id"], m["error_code"]) for m in r["members"]] == \
            [("c-1", UNKNOWN_MEMBER_ID)], r
        d = converge(b, group, [a], [c], all4)
        assert set(by_member(d)) == {a.member_id, "c-1"}, d

        # DOWNGRADE: the last consumer-protocol member leaves; the group is
        # classic again, at the consumer group's epoch, rebalancing.
        epoch = d["group_epoch"]
        r = c.leave()
        assert r["error_code"] == NONE and r["member_epoch"] == -1, r
        g = assert_is_classic_group(b, group)
        # (DescribeGroups names the protocol only once the group is Stable)
        assert (g["group_state"], g["protocol_data"]) == ("PreparingRebalance", ""), g
        assert [m["member_id"] for m in g["members"]] == [a.member_id], g
        assert a.gen == epoch
        assert a.heartbeat(gen=epoch + 1) == ILLEGAL_GENERATION
        assert a.heartbeat() == REBALANCE_IN_PROGRESS
        j = a.join()
        assert j["error_code"] == NONE, j
        assert (j["generation_id"], j["leader"]) == (epoch + 1, a.member_id), j
        assert [m["member_id"] for m in j["members"]] == [a.member_id], j
        assert a.sync({a.member_id: all4})["error_code"] == NONE
        assert a.owned == all4
        g = describe_classic_group(b, group)
        assert (g["group_state"], g["protocol_type"], g["protocol_data"], len(g["members"])) == \
            ("Stable", "consumer", "range", 1), g
        assert decode_assignment(g["members"][0]["member_assignment"]) == {topic: [0, 1, 2, 3]}, g
        assert a.heartbeat() == NONE
        assert a.commit({3: 11}) == [NONE]
        expected_offsets[3] = 11
        # Offsets committed as a classic group, by both kinds of members of
        # the consumer group, and after: all kept.
        assert committed_offsets(b.bootstrap, group, topic, 4) == \
            {p: expected_offsets.get(p, -1001) for p in range(4)}
    finally:
        for m in (a, c, new):
            m.close()


def test_raw_downgrade_when_the_last_consumer_member_is_fenced(migration_broker):
    b = migration_broker
    topic, group = unique_topic("migf"), unique_topic("gmigf")
    create_topic(b.bootstrap, topic, 2)
    a = classic_group_of_one(b, group, topic, 2)
    c = Modern(b, group, topic, "c-fenced")
    try:
        assert c.join()["error_code"] == NONE
        converge(b, group, [a], [c], {0, 1})
        epoch = a.gen
        # The consumer-protocol member stops heartbeating; the classic one
        # goes on and is told to rejoin once the group is classic again.
        started = time.monotonic()
        while True:
            code = a.heartbeat()
            if code == REBALANCE_IN_PROGRESS:
                break
            assert code == NONE, code
            assert time.monotonic() - started < SESSION_MS / 1000 + 15, "never fenced"
            time.sleep(0.5)
        assert time.monotonic() - started >= SESSION_MS / 1000 - 1, "fenced before its session ended"
        g = assert_is_classic_group(b, group)
        assert g["group_state"] == "PreparingRebalance", g
        assert [m["member_id"] for m in g["members"]] == [a.member_id], g
        j = a.join()
        assert (j["error_code"], j["generation_id"], j["leader"]) == (NONE, epoch + 1, a.member_id), j
        assert a.sync({a.member_id: {0, 1}})["error_code"] == NONE
        assert describe_classic_group(b, group)["group_state"] == "Stable"
        assert a.heartbeat() == NONE
        # The fenced member is gone with the consumer group.
        r = c.heartbeat()
        assert r["error_code"] in (UNKNOWN_MEMBER_ID, GROUP_ID_NOT_FOUND), r
    finally:
        a.close()
        c.close()


def test_a_classic_static_member_taking_the_last_consumer_instance_downgrades(migration_broker):
    """A static consumer-protocol member's instance comes back as a classic
    consumer (an application rolled back): Kafka makes the group classic
    again at that JoinGroup, without a rebalance, the newcomer keeping the
    partitions the instance had."""
    b = migration_broker
    topic, group = unique_topic("migs"), unique_topic("gmigs")
    create_topic(b.bootstrap, topic, 2)
    a = classic_group_of_one(b, group, topic, 2)
    k = Modern(b, group, topic, "k-static")
    w = GroupWire(b.host, b.port, client_id="k-classic")
    try:
        r = k._call(member_epoch=0, instance_id="inst-k", rebalance_timeout_ms=30000,
                    subscribed_topic_names=[topic], topic_partitions=[])
        assert r["error_code"] == NONE, r
        converge(b, group, [a], [k], {0, 1})
        assert_is_consumer_group(b, group)
        assert k.owned, "the static consumer member owns a partition"
        j = w.call("JoinGroup", 5, group_id=group, session_timeout_ms=CLASSIC_SESSION_MS,
                   rebalance_timeout_ms=10000, member_id="", group_instance_id="inst-k",
                   protocol_type="consumer",
                   protocols=[{"name": "range", "metadata": consumer_subscription([topic])}])
        assert j["error_code"] == NONE, j
        g = assert_is_classic_group(b, group)
        assert g["group_state"] == "Stable", g
        members = {m["member_id"]: m["group_instance_id"] for m in g["members"]}
        assert members == {a.member_id: None, j["member_id"]: "inst-k"}, g
        # The newcomer syncs in the generation it was given and gets the
        # instance's partitions; the other member goes on undisturbed.
        s = w.call("SyncGroup", 5, group_id=group, generation_id=j["generation_id"],
                   member_id=j["member_id"], group_instance_id="inst-k",
                   protocol_type="consumer", protocol_name="range", assignments=[])
        assert s["error_code"] == NONE, s
        assert set(decode_assignment(s["assignment"]).get(topic, [])) == k.owned, s
        assert a.heartbeat() == NONE
        # The replaced consumer-protocol member is gone.
        assert k.heartbeat()["error_code"] in (UNKNOWN_MEMBER_ID, GROUP_ID_NOT_FOUND)
    finally:
        a.close()
        k.close()
        w.close()


# ---------------------------------------------------------------------------
# policies
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("policy", ["disabled", "upgrade", "downgrade"])
def test_the_migration_policy(broker_factory, policy):
    b = broker_factory(name=f"migration-{policy}",
                       **{**OVERRIDES, "group.consumer.migration.policy": policy})
    upgrades = policy in ("upgrade", "bidirectional")
    downgrades = policy in ("downgrade", "bidirectional")
    topic = unique_topic("migp")
    create_topic(b.bootstrap, topic, 2)
    opened = []
    try:
        # A consumer-protocol member joins a classic group with a member.
        group = unique_topic("gmigp-up")
        a = classic_group_of_one(b, group, topic, 2)
        c = Modern(b, group, topic, "c-up")
        opened += [a, c]
        r = c.join()
        if upgrades:
            assert r["error_code"] == NONE, r
            d = assert_is_consumer_group(b, group)
            assert {m: x["member_type"] for m, x in by_member(d).items()} == \
                {a.member_id: CLASSIC, "c-up": CONSUMER}, d
            converge(b, group, [a], [c], {0, 1})
        else:
            # Refused: the group stays classic and its member undisturbed.
            assert r["error_code"] == GROUP_ID_NOT_FOUND, r
            g = assert_is_classic_group(b, group)
            assert g["group_state"] == "Stable", g
            assert [m["member_id"] for m in g["members"]] == [a.member_id], g
            assert a.heartbeat() == NONE

        # The last consumer-protocol member leaves a consumer group whose
        # other member is classic (a classic member joins a consumer group
        # under every policy).
        group = unique_topic("gmigp-down")
        c = Modern(b, group, topic, "c-down")
        a = Classic(b, group, topic, "a-down")
        opened += [a, c]
        assert c.join()["error_code"] == NONE
        assert c.owned == {0, 1}
        r = a.join_new()
        assert r["error_code"] == NONE and r["leader"] == "", r
        assert a.sync()["error_code"] == NONE
        d = converge(b, group, [a], [c], {0, 1})
        epoch = d["group_epoch"]
        r = c.leave()
        assert r["error_code"] == NONE and r["member_epoch"] == -1, r
        if downgrades:
            g = assert_is_classic_group(b, group)
            assert g["group_state"] == "PreparingRebalance", g
            assert a.heartbeat() == REBALANCE_IN_PROGRESS
            j = a.join()
            assert (j["error_code"], j["generation_id"], j["leader"]) == \
                (NONE, epoch + 1, a.member_id), j
            assert a.sync({a.member_id: {0, 1}})["error_code"] == NONE
            assert describe_classic_group(b, group)["group_state"] == "Stable"
        else:
            # Not downgraded: a consumer group of one classic member, which
            # rejoins (it is not the leader) and gets everything.
            d = assert_is_consumer_group(b, group)
            assert [(m["member_id"], m["member_type"]) for m in d["members"]] == \
                [(a.member_id, CLASSIC)], d
            assert d["group_epoch"] > epoch, d
            assert a.heartbeat() == REBALANCE_IN_PROGRESS
            j, s = a.rejoin()
            assert (j["generation_id"], j["leader"]) == (d["group_epoch"], ""), j
            assert s["error_code"] == NONE and a.owned == {0, 1}, s
            assert a.heartbeat() == NONE
            converge(b, group, [a], [], {0, 1})
    finally:
        for m in opened:
            m.close()


# ---------------------------------------------------------------------------
# restarts
# ---------------------------------------------------------------------------

RESTART_SESSION_MS = 30000
RESTART_OVERRIDES = {**OVERRIDES,
                     "group.consumer.session.timeout.ms": str(RESTART_SESSION_MS),
                     "group.consumer.min.session.timeout.ms": str(RESTART_SESSION_MS)}
LOADING = (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR)


def membership(described) -> tuple:
    return (described["group_epoch"], described["assignment_epoch"],
            sorted((m["member_id"], m["member_type"], m["member_epoch"],
                    sorted(topic_parts(m["assignment"])), sorted(topic_parts(m["target_assignment"])))
                   for m in described["members"]))


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_a_converted_group_with_a_classic_member_survives_a_restart(broker_factory, how):
    b = broker_factory(name=f"migration-{how}", **RESTART_OVERRIDES)
    topic, group = unique_topic("migs"), unique_topic("gmigs")
    create_topic(b.bootstrap, topic, 4)
    a = classic_group_of_one(b, group, topic, 4, session_ms=RESTART_SESSION_MS)
    c = Modern(b, group, topic, "c-restart")
    try:
        assert a.commit({0: 4}) == [NONE]
        assert c.join()["error_code"] == NONE
        before = converge(b, group, [a], [c], {0, 1, 2, 3})
        assert sorted(m["member_type"] for m in before["members"]) == [CLASSIC, CONSUMER]
        offsets = {0: 4}
        offsets.update({p: 20 + p for p in a.owned})
        assert a.commit({p: 20 + p for p in a.owned}) == [NONE] * len(a.owned)
        offsets.update({p: 30 + p for p in c.owned})
        assert c.commit({p: 30 + p for p in c.owned}) == [NONE] * len(c.owned)
        a_owned, c_owned, c_epoch = set(a.owned), set(c.owned), c.epoch

        if how == "sigterm":
            assert b.stop() == 0
        else:
            b.kill()
        b.start()
        a.reconnect()
        c.reconnect()

        # The classic member's generation is still its member epoch.
        [code] = wait_until(lambda: (lambda x: None if x in LOADING else [x])(a.heartbeat()),
                            timeout=30, what="a heartbeat answered after the restart")
        assert code in (NONE, REBALANCE_IN_PROGRESS), code
        after = wait_until(lambda: (lambda d: None if d["error_code"] in LOADING else d)(
            describe_consumer_group(b, group)), timeout=30, what="the group described")
        assert after["error_code"] == NONE, after
        assert membership(after) == membership(before)
        g = describe_classic_group(b, group, version=6)
        assert (g["error_code"], g["group_state"]) == (GROUP_ID_NOT_FOUND, "Dead"), g
        r = c.heartbeat()
        assert r["error_code"] == NONE and r["member_epoch"] == c_epoch, r
        assert c.owned == c_owned and a.owned == a_owned
        assert a.heartbeat() == NONE
        assert committed_offsets(b.bootstrap, group, topic, 4) == \
            {p: offsets.get(p, -1001) for p in range(4)}

        # The restored group still turns classic when its consumer-protocol member leaves.
        assert c.leave()["error_code"] == NONE
        g = assert_is_classic_group(b, group)
        assert [m["member_id"] for m in g["members"]] == [a.member_id], g
        assert a.heartbeat() == REBALANCE_IN_PROGRESS
        j = a.join()
        assert (j["error_code"], j["leader"]) == (NONE, a.member_id), j
        assert a.sync({a.member_id: {0, 1, 2, 3}})["error_code"] == NONE
        assert describe_classic_group(b, group)["group_state"] == "Stable"
        assert committed_offsets(b.bootstrap, group, topic, 4) == \
            {p: offsets.get(p, -1001) for p in range(4)}
    finally:
        a.close()
        c.close()
