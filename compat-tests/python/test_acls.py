"""ACL authorization with Kafka's StandardAuthorizer semantics
(/tmp/research/authz.md is the spec these tests follow), driven by real
clients: confluent-kafka and kafka-python (as alice, bob and other users over
SASL_PLAINTEXT/PLAIN), Kafka's Java client and its AclCommand/ConfigCommand
tools, and raw requests (kafka_wire) where a client hides the answer.

One broker for the module: a PLAINTEXT listener (User:ANONYMOUS) and a
SASL_PLAINTEXT one, `authorizer.class.name` set to Kafka's
StandardAuthorizer and `super.users=User:admin`. The admin (a super user)
creates topics and ACLs and checks, after every refused request, that
nothing changed: no record appended, no offset committed, no topic created
or deleted, no group created, no config altered. Then the ACL is added and
the same request succeeds.

Each test names its own topics, groups and transactional ids; ACLs that
could reach beyond a test (wildcards, cluster grants) go to principals only
that test uses."""

from __future__ import annotations

import socket
import time
import uuid

import pytest
from confluent_kafka import (Consumer, ConsumerGroupTopicPartitions, IsolationLevel,
                             KafkaException, Producer,
                             TopicCollection, TopicPartition)
from confluent_kafka import KafkaError as CE
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation,
                                   AclPermissionType, AdminClient, AlterConfigOpType,
                                   ConfigEntry, ConfigResource,
                                   NewPartitions, NewTopic, OffsetSpec, ResourcePatternType,
                                   ResourceType, ScramMechanism)
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTP
from kafka import errors as kerr
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType,
                         ACLResourcePatternType, KafkaAdminClient, ResourcePattern,
                         ResourcePatternFilter)
from kafka.admin import ResourceType as KRT
from kafka.admin import NewTopic as KNewTopic
from kafka.structs import OffsetAndMetadata

import java_client
import kafka_wire as w
from conftest import Broker, free_port, unique_topic, wait_until
from txn_harness import TxnWire, raw_batch

pytestmark = pytest.mark.timeout(120)

# Kafka error codes.
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
TOPIC_AUTHORIZATION_FAILED = 29
GROUP_AUTHORIZATION_FAILED = 30
CLUSTER_AUTHORIZATION_FAILED = 31
TOPIC_ALREADY_EXISTS = 36
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
SECURITY_DISABLED = 54
TRANSACTIONAL_ID_NOT_FOUND = 105
INT32_MIN = -2147483648

BROKER_ID = 1
CLUSTER = "kafka-cluster"

PASSWORDS = {
    "admin": "admin-secret",    # the super user
    "alice": "alice-secret",    # the matrix's subject
    "bob": "bob-secret",        # the other user
    "carol": "carol-secret",    # CLUSTER CREATE (CreateTopics)
    "dave": "dave-secret",      # CLUSTER ALTER (the ACL APIs)
    "ivan": "ivan-secret",      # idempotent producer (no WRITE on any topic)
    "olga": "olga-secret",      # cluster authorized operations
}
JAAS = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
        + " ".join(f'user_{u}="{p}"' for u, p in PASSWORDS.items()) + ";")
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


_admins: dict[tuple[int, str], AdminClient] = {}


@pytest.fixture(scope="module")
def acl():
    """The module's broker: PLAINTEXT on `port` (User:ANONYMOUS),
    SASL_PLAINTEXT/PLAIN on `sasl_port`, Kafka's StandardAuthorizer,
    admin a super user, everything else denied unless an ACL allows it."""
    sasl_port = free_port()
    b = Broker(name="acls")
    listeners = f"PLAINTEXT://127.0.0.1:{b.port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}"
    b.overrides.update({
        "listeners": listeners,
        "advertised.listeners": listeners,
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "authorizer.class.name": AUTHORIZER,
        "super.users": "User:admin",
        "auto.create.topics.enable": "true",
        "num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.num.partitions": "1",
    })
    b.start()
    b.sasl_port = sasl_port
    b.sasl_bootstrap = f"127.0.0.1:{sasl_port}"
    yield b
    for key in [k for k in _admins if k[0] == b.port]:
        del _admins[key]
    b.cleanup()


# --- clients -----------------------------------------------------------------

def cf(b: Broker, user: str, **extra) -> dict:
    """confluent-kafka settings for `user` on the SASL_PLAINTEXT listener."""
    return {"bootstrap.servers": b.sasl_bootstrap, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN", "sasl.username": user,
            "sasl.password": PASSWORDS[user], **extra}


def kp(b: Broker, user: str, **extra) -> dict:
    """kafka-python settings for `user` on the SASL_PLAINTEXT listener."""
    return {"bootstrap_servers": b.sasl_bootstrap, "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN", "sasl_plain_username": user,
            "sasl_plain_password": PASSWORDS[user], **extra}


def java_config(b: Broker, user: str) -> dict:
    return {"bootstrap.servers": b.sasl_bootstrap, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule "
                                f'required username="{user}" password="{PASSWORDS[user]}";'}


def admin_of(b: Broker, user: str = "admin") -> AdminClient:
    key = (b.port, user)
    if key not in _admins:
        _admins[key] = AdminClient(cf(b, user))
    return _admins[key]


class Wire(TxnWire):
    """A raw connection on the SASL_PLAINTEXT listener, authenticated as
    `user` with SaslHandshake v1 + SaslAuthenticate v1 (PLAIN)."""

    def __init__(self, b: Broker, user: str | None, port: int | None = None):
        """user None: no authentication, on `port` (default: the PLAINTEXT
        listener, User:ANONYMOUS)."""
        super().__init__("127.0.0.1", port or (b.port if user is None else b.sasl_port))
        if user is None:
            return
        corr = self.next_corr()
        self.sock.sendall(w.frame(w.request_header(17, 1, corr) + w.string("PLAIN")))
        r = w.Reader(w.recv_frame(self.sock))
        assert r.i32() == corr and r.i16() == 0, "SaslHandshake PLAIN refused"
        corr = self.next_corr()
        token = b"\0" + user.encode() + b"\0" + PASSWORDS[user].encode()
        self.sock.sendall(w.frame(w.request_header(36, 1, corr) + w.nbytes(token)))
        r = w.Reader(w.recv_frame(self.sock))
        assert r.i32() == corr
        assert r.i16() == 0, f"SaslAuthenticate as {user} failed"

    # Produce v9 (acks=-1 unless told)
    def produce_raw(self, topic: str, values: list[bytes], partition: int = 0,
                    acks: int = -1, txn_id: str | None = None, batch: bytes | None = None
                    ) -> w.ProducePartitionResult:
        if batch is None:
            now = int(time.time() * 1000)
            batch = w.record_batch([w.Rec(None, v, now) for v in values])
        corr = self.next_corr()
        self.sock.sendall(w.produce_request(9, corr, topic, partition, batch, acks=acks,
                                            transactional_id=txn_id))
        got, res = w.parse_produce_response(9, w.recv_frame(self.sock))
        assert got == corr
        return res[(topic, partition)]

    def list_offsets_raw(self, topic: str, partition: int = 0,
                         timestamp: int = w.LATEST_TIMESTAMP) -> tuple[int, int, int]:
        """(error, timestamp, offset) of ListOffsets v1."""
        _, res = self._roundtrip(
            lambda c: w.list_offsets_v1_request(c, topic, [(partition, timestamp)]),
            w.parse_list_offsets_v1)
        return res[(topic, partition)]

    def fetch_raw(self, partitions: list[tuple[str, int, int]], replica_id: int = -1,
                  isolation_level: int = 0) -> dict:
        """{(topic, partition): FetchPartitionResult} of Fetch v4."""
        return self.fetch_v4([(t, p, off, 1 << 20) for t, p, off in partitions], 1 << 20,
                             replica_id=replica_id, isolation_level=isolation_level)

    # DescribeAcls v3
    def describe_acls(self, resource_type=1, name=None, pattern_type=1, principal=None,
                      host=None, operation=1, permission=1) -> tuple[int, str | None, list]:
        """(error_code, error_message, [(type, name, pattern, principal, host, op, perm)])."""
        body = (w.i8(resource_type) + w.compact_string(name) + w.i8(pattern_type)
                + w.compact_string(principal) + w.compact_string(host) + w.i8(operation)
                + w.i8(permission) + w.TAGS_NONE)
        r = self.call(29, 3, body, True)
        r.i32()
        err, msg = r.i16(), r.s()
        out = []
        for _ in range(r.n()):
            rtype, rname, pattern = r.i8(), r.s(), r.i8()
            for _ in range(r.n()):
                out.append((rtype, rname, pattern, r.s(), r.s(), r.i8(), r.i8()))
                r.tags()
            r.tags()
        return err, msg, out

    # OffsetCommit v8 (simple, generation -1)
    def offset_commit(self, group: str, offsets: dict[tuple[str, int], int]
                      ) -> dict[tuple[str, int], int]:
        by_topic: dict[str, list[bytes]] = {}
        for (t, p), off in offsets.items():
            by_topic.setdefault(t, []).append(
                w.i32(p) + w.i64(off) + w.i32(-1) + w.compact_string(None) + w.TAGS_NONE)
        topics = [w.compact_string(t) + w.uvarint(len(ps) + 1) + b"".join(ps) + w.TAGS_NONE
                  for t, ps in by_topic.items()]
        body = (w.compact_string(group) + w.i32(-1) + w.compact_string("")
                + w.compact_string(None) + w.uvarint(len(topics) + 1) + b"".join(topics)
                + w.TAGS_NONE)
        r = self.call(8, 8, body, True)
        r.i32()
        out = {}
        for _ in range(r.n()):
            name = r.s()
            for _ in range(r.n()):
                p, err = r.i32(), r.i16()
                r.tags()
                out[(name, p)] = err
            r.tags()
        return out

    # DescribeGroups v5
    def describe_groups(self, groups: list[str], include_ops: bool = True) -> dict:
        """{group: (error_code, state, authorized_operations)}."""
        body = (w.uvarint(len(groups) + 1) + b"".join(w.compact_string(g) for g in groups)
                + w.i8(1 if include_ops else 0) + w.TAGS_NONE)
        r = self.call(15, 5, body, True)
        r.i32()
        out = {}
        for _ in range(r.n()):
            err, gid, state = r.i16(), r.s(), r.s()
            r.s()                                   # protocol_type
            r.s()                                   # protocol_data
            for _ in range(r.n()):                  # members
                r.s(); r.s(); r.s(); r.s(); r.nbytes(); r.nbytes()
                r.tags()
            ops = r.i32()
            r.tags()
            out[gid] = (err, state, ops)
        return out

    # WriteTxnMarkers v1
    def write_txn_markers(self, producer_id: int, producer_epoch: int, commit: bool,
                          partitions: dict[str, list[int]], coordinator_epoch: int = 0
                          ) -> dict[tuple[str, int], int]:
        topics = [w.compact_string(t) + w.uvarint(len(ps) + 1)
                  + b"".join(w.i32(p) for p in ps) + w.TAGS_NONE
                  for t, ps in partitions.items()]
        marker = (w.i64(producer_id) + w.i16(producer_epoch) + w.i8(1 if commit else 0)
                  + w.uvarint(len(topics) + 1) + b"".join(topics) + w.i32(coordinator_epoch)
                  + w.TAGS_NONE)
        body = w.uvarint(2) + marker + w.TAGS_NONE
        r = self.call(27, 1, body, True)
        out = {}
        for _ in range(r.n()):
            r.i64()
            for _ in range(r.n()):
                name = r.s()
                for _ in range(r.n()):
                    p, err = r.i32(), r.i16()
                    r.tags()
                    out[(name, p)] = err
                r.tags()
            r.tags()
        return out


# --- ACL and admin helpers -----------------------------------------------------

def binding(principal: str, rtype: ResourceType, name: str, op: AclOperation,
            allow: bool = True, pattern: ResourcePatternType = ResourcePatternType.LITERAL,
            host: str = "*") -> AclBinding:
    return AclBinding(rtype, name, pattern, principal, host, op,
                      AclPermissionType.ALLOW if allow else AclPermissionType.DENY)


def exact_filter(bd: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(bd.restype, bd.name, bd.resource_pattern_type, bd.principal,
                            bd.host, bd.operation, bd.permission_type)


def grant(b: Broker, *bindings: AclBinding) -> None:
    """Creates the ACLs as admin and waits until the broker serves them."""
    admin = admin_of(b)
    for bd, f in admin.create_acls(list(bindings)).items():
        assert f.result(15) is None, bd
    for bd in bindings:
        wait_until(lambda: admin.describe_acls(exact_filter(bd)).result(10), timeout=10,
                   what=f"ACL {bd} served")


def revoke(b: Broker, *bindings: AclBinding) -> None:
    admin = admin_of(b)
    for _, f in admin.delete_acls([exact_filter(bd) for bd in bindings]).items():
        f.result(15)
    for bd in bindings:
        wait_until(lambda: not admin.describe_acls(exact_filter(bd)).result(10), timeout=10,
                   what=f"ACL {bd} gone")


def topic_acl(user: str, topic: str, op: AclOperation, **kw) -> AclBinding:
    return binding(f"User:{user}", ResourceType.TOPIC, topic, op, **kw)


def group_acl(user: str, group: str, op: AclOperation, **kw) -> AclBinding:
    return binding(f"User:{user}", ResourceType.GROUP, group, op, **kw)


def cluster_acl(user: str, op: AclOperation, **kw) -> AclBinding:
    return binding(f"User:{user}", ResourceType.BROKER, CLUSTER, op, **kw)


def txn_acl(user: str, txn_id: str, op: AclOperation, **kw) -> AclBinding:
    return binding(f"User:{user}", ResourceType.TRANSACTIONAL_ID, txn_id, op, **kw)


def create_topic(b: Broker, name: str | None = None, partitions: int = 1,
                 records: int = 0) -> str:
    """A topic created by admin, with `records` records in partition 0."""
    name = name or unique_topic("acl")
    admin_of(b).create_topics([NewTopic(name, partitions, 1)])[name].result(15)
    if records:
        p = Producer(cf(b, "admin", acks="all"))
        for i in range(records):
            p.produce(name, value=b"r%d" % i, partition=0)
        assert p.flush(15) == 0
    return name


def topics(b: Broker) -> set[str]:
    return set(admin_of(b).list_topics(timeout=10).topics)


def partition_count(b: Broker, topic: str) -> int:
    return len(admin_of(b).list_topics(topic, timeout=10).topics[topic].partitions)


def offset_of(b: Broker, topic: str, spec: OffsetSpec, partition: int = 0,
              committed: bool = False) -> int:
    level = IsolationLevel.READ_COMMITTED if committed else IsolationLevel.READ_UNCOMMITTED
    tp = TopicPartition(topic, partition)
    return admin_of(b).list_offsets({tp: spec}, isolation_level=level)[tp].result(10).offset


def end_offset(b: Broker, topic: str, partition: int = 0) -> int:
    return offset_of(b, topic, OffsetSpec.latest(), partition)


def start_offset(b: Broker, topic: str, partition: int = 0) -> int:
    return offset_of(b, topic, OffsetSpec.earliest(), partition)


def groups(b: Broker) -> set[str]:
    result = admin_of(b).list_consumer_groups().result(10)
    return {g.group_id for g in result.valid}


def committed(b: Broker, group: str, topic: str, partition: int = 0) -> int:
    """The group's committed offset (-1001, OFFSET_INVALID, when none)."""
    request = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, partition)])]
    result = admin_of(b).list_consumer_group_offsets(request)[group].result(10)
    return result.topic_partitions[0].offset


def topic_config(b: Broker, topic: str, key: str) -> str:
    resource = ConfigResource(ResourceType.TOPIC, topic)
    configs = admin_of(b).describe_configs([resource])[resource].result(10)
    return configs[key].value


def error_code(future, timeout: float = 15) -> int:
    """The Kafka error code a confluent future fails with (0 if it succeeds)."""
    try:
        future.result(timeout)
    except KafkaException as e:
        return e.args[0].code()
    return NONE


def deliver(b: Broker, user: str, topic: str, values: list[bytes], **conf) -> list:
    """Produces with confluent-kafka as `user`: one (error code, offset) per value."""
    reports = []
    p = Producer(cf(b, user, acks="all", **{"message.timeout.ms": 10000}, **conf))
    for v in values:
        p.produce(topic, value=v, partition=0,
                  on_delivery=lambda err, msg: reports.append(
                      (err.code() if err else NONE, msg.offset())))
    p.flush(20)
    return reports


def consume(b: Broker, user: str, topic: str, count: int, group: str | None = None,
            subscribe: bool = False, timeout: float = 15) -> tuple[list[bytes], list[int]]:
    """Reads with a confluent-kafka consumer as `user` (assigned partition 0
    from offset 0, or subscribed in `group`): (values, error codes), stopping
    at `count` values or the first error."""
    c = Consumer(cf(b, user, **{"group.id": group or unique_topic("unused"),
                                "auto.offset.reset": "earliest",
                                "enable.auto.commit": False,
                                "enable.partition.eof": False,
                                "session.timeout.ms": 6000}))
    if subscribe:
        c.subscribe([topic])
    else:
        c.assign([TopicPartition(topic, 0, 0)])
    values, errors = [], []
    deadline = time.monotonic() + timeout
    try:
        while len(values) < count and not errors and time.monotonic() < deadline:
            msg = c.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                errors.append(msg.error().code())
            else:
                values.append(msg.value())
    finally:
        c.close()
    return values, errors


# =============================================================================
# 1. The ACL APIs
# =============================================================================

def test_acl_apis_with_confluent_kafka(acl):
    """CreateAcls/DescribeAcls/DeleteAcls with confluent's AdminClient:
    LITERAL and PREFIXED bindings; ANY filters match names exactly, MATCH
    finds every binding that applies to a name (literal, literal "*",
    prefixes); DeleteAcls answers the bindings it deleted (§3)."""
    admin = admin_of(acl)
    who = f"User:zed-cf-{uuid.uuid4().hex[:6]}"    # a principal only this test uses
    T, P, L, A, D = (ResourceType.TOPIC, ResourcePatternType.PREFIXED,
                     ResourcePatternType.LITERAL, AclOperation, AclPermissionType)

    def mk(rtype, name, pattern, op=A.READ, perm=D.ALLOW):
        return AclBinding(rtype, name, pattern, who, "*", op, perm)

    orders, star, ord_ = mk(T, "orders", L), mk(T, "*", L, A.DESCRIBE), mk(T, "ord", P, A.WRITE)
    others = [mk(T, "ordersx", L), mk(T, "orders-long", P), mk(T, "*", P),
              mk(T, "payments", L, perm=D.DENY), mk(ResourceType.GROUP, "orders", L)]
    everything = [orders, star, ord_, *others]
    results = admin.create_acls(everything)
    assert {bd: f.result(15) for bd, f in results.items()} == {bd: None for bd in everything}
    # Creating an identical binding again succeeds and stores no duplicate (§3.4).
    assert admin.create_acls([orders])[orders].result(15) is None

    def described(rtype, name, pattern, op=A.ANY, perm=D.ANY) -> set:
        return set(admin.describe_acls(
            AclBindingFilter(rtype, name, pattern, who, None, op, perm)).result(15))

    assert described(ResourceType.ANY, None, ResourcePatternType.ANY) == set(everything)
    all_principals = admin.describe_acls(AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None, A.ANY, D.ANY)).result(15)
    assert len([bd for bd in all_principals if bd.principal == who]) == len(everything)
    # ANY: the name must be equal ("*" finds only the literal "*" binding).
    assert described(T, "orders", ResourcePatternType.ANY) == {orders}
    assert described(T, "*", ResourcePatternType.ANY) == {star, others[2]}
    assert described(T, "*", L) == {star}
    assert described(T, "ord", P) == {ord_}
    assert described(T, None, P) == {ord_, others[1], others[2]}
    # MATCH: what applies to the topic "orders".
    assert described(T, "orders", ResourcePatternType.MATCH) == {orders, star, ord_}
    assert described(T, "orders", ResourcePatternType.MATCH, op=A.WRITE) == {ord_}
    assert described(T, "orders", ResourcePatternType.MATCH, perm=D.DENY) == set()
    assert described(ResourceType.GROUP, "orders", ResourcePatternType.MATCH) == {others[4]}
    assert described(T, "nothing-here", L) == set()

    # DeleteAcls: one result per filter, listing what it deleted.
    match = AclBindingFilter(T, "orders", ResourcePatternType.MATCH, who, None, A.ANY, D.ANY)
    nothing = AclBindingFilter(T, "nothing-here", L, who, None, A.ANY, D.ANY)
    deleted = admin.delete_acls([match, nothing])
    assert set(deleted[match].result(15)) == {orders, star, ord_}
    assert deleted[nothing].result(15) == []
    assert described(ResourceType.ANY, None, ResourcePatternType.ANY) == set(others)
    rest = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, who, None,
                            A.ANY, D.ANY)
    assert set(admin.delete_acls([rest])[rest].result(15)) == set(others)
    assert described(ResourceType.ANY, None, ResourcePatternType.ANY) == set()


def test_acl_apis_with_kafka_python(acl):
    """The same APIs with kafka-python's KafkaAdminClient."""
    admin = KafkaAdminClient(**kp(acl, "admin"))
    who = f"User:zed-kp-{uuid.uuid4().hex[:6]}"
    try:
        def mk(name, pattern, op=ACLOperation.READ, rtype=KRT.TOPIC):
            return ACL(who, "*", op, ACLPermissionType.ALLOW,
                       ResourcePattern(rtype, name, pattern))

        orders = mk("orders", ACLResourcePatternType.LITERAL)
        star = mk("*", ACLResourcePatternType.LITERAL, ACLOperation.DESCRIBE)
        ord_ = mk("ord", ACLResourcePatternType.PREFIXED, ACLOperation.WRITE)
        miss = mk("ordersx", ACLResourcePatternType.LITERAL)
        group = mk("orders", ACLResourcePatternType.LITERAL, rtype=KRT.GROUP)
        created = admin.create_acls([orders, star, ord_, miss, group])
        assert created["failed"] == []
        assert created["succeeded"] == [orders, star, ord_, miss, group]

        def flt(rtype, name, pattern):
            return ACLFilter(who, None, ACLOperation.ANY, ACLPermissionType.ANY,
                             ResourcePatternFilter(rtype, name, pattern))

        def described(rtype, name, pattern) -> set:
            acls, error = admin.describe_acls(flt(rtype, name, pattern))
            assert error is kerr.NoError
            return set(acls)

        assert described(KRT.ANY, None, ACLResourcePatternType.ANY) == \
            {orders, star, ord_, miss, group}
        assert described(KRT.TOPIC, "orders", ACLResourcePatternType.ANY) == {orders}
        assert described(KRT.TOPIC, "orders", ACLResourcePatternType.MATCH) == \
            {orders, star, ord_}
        assert described(KRT.TOPIC, "ord", ACLResourcePatternType.PREFIXED) == {ord_}

        match = flt(KRT.TOPIC, "orders", ACLResourcePatternType.MATCH)
        nothing = flt(KRT.TOPIC, "nothing-here", ACLResourcePatternType.LITERAL)
        results = admin.delete_acls([match, nothing])
        assert [(f, set(acls), e) for f, acls, e in results] == \
            [(match, {orders, star, ord_}, kerr.NoError), (nothing, set(), kerr.NoError)]
        assert described(KRT.ANY, None, ACLResourcePatternType.ANY) == {miss, group}
        everything = flt(KRT.ANY, None, ACLResourcePatternType.ANY)
        [(_, gone, error)] = admin.delete_acls([everything])
        assert (set(gone), error) == ({miss, group}, kerr.NoError)
        assert described(KRT.ANY, None, ACLResourcePatternType.ANY) == set()
    finally:
        admin.close()


def test_acl_apis_need_cluster_alter_and_describe(acl):
    """A non-super user: CreateAcls and DeleteAcls need ALTER CLUSTER,
    DescribeAcls DESCRIBE CLUSTER; refused with CLUSTER_AUTHORIZATION_FAILED
    (31) per entry / top-level (§3 Authz) and nothing changes. ALTER
    implies DESCRIBE (§2.7)."""
    who = f"User:zed-au-{uuid.uuid4().hex[:6]}"
    existing = binding(who, ResourceType.TOPIC, "kept", AclOperation.READ)
    grant(acl, existing)
    new = binding(who, ResourceType.TOPIC, "not-created", AclOperation.READ)
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, who, None,
                                  AclOperation.ANY, AclPermissionType.ANY)
    alice = admin_of(acl, "alice")
    assert error_code(alice.create_acls([new])[new]) == CLUSTER_AUTHORIZATION_FAILED
    assert error_code(alice.delete_acls([everything])[everything]) == \
        CLUSTER_AUTHORIZATION_FAILED
    # librdkafka drops DescribeAcls' top-level error: alice just sees nothing.
    assert alice.describe_acls(everything).result(15) == []
    with Wire(acl, "alice") as wire:
        err, msg, found = wire.describe_acls(principal=who)
        assert (err, found) == (CLUSTER_AUTHORIZATION_FAILED, [])
        assert msg and "not authorized" in msg
    ka = KafkaAdminClient(**kp(acl, "alice"))
    try:
        with pytest.raises(kerr.ClusterAuthorizationFailedError):
            ka.describe_acls(ACLFilter(who, None, ACLOperation.ANY, ACLPermissionType.ANY,
                                       ResourcePatternFilter(KRT.ANY, None,
                                                             ACLResourcePatternType.ANY)))
        kacl = ACL(who, "*", ACLOperation.READ, ACLPermissionType.ALLOW,
                   ResourcePattern(KRT.TOPIC, "not-created"))
        assert ka.create_acls([kacl]) == {
            "succeeded": [], "failed": [kerr.ClusterAuthorizationFailedError]}
    finally:
        ka.close()
    # Nothing changed.
    assert set(admin_of(acl).describe_acls(everything).result(15)) == {existing}

    # dave, with ALTER on the cluster, may do all three.
    grant(acl, cluster_acl("dave", AclOperation.ALTER))
    dave = admin_of(acl, "dave")
    assert dave.create_acls([new])[new].result(15) is None
    assert set(dave.describe_acls(everything).result(15)) == {existing, new}
    assert set(dave.delete_acls([everything])[everything].result(15)) == {existing, new}
    assert admin_of(acl).describe_acls(everything).result(15) == []


def test_acl_apis_without_an_authorizer_are_security_disabled(broker_factory):
    """No authorizer configured: SECURITY_DISABLED (54) from all three ACL
    APIs (§3), and every supported operation authorized (§4)."""
    plain = broker_factory(name="no-authorizer")
    admin = AdminClient({"bootstrap.servers": plain.bootstrap})
    bd = binding("User:alice", ResourceType.TOPIC, "t", AclOperation.READ)
    flt = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                           AclOperation.ANY, AclPermissionType.ANY)
    assert error_code(admin.create_acls([bd])[bd]) == SECURITY_DISABLED
    assert error_code(admin.delete_acls([flt])[flt]) == SECURITY_DISABLED
    with Wire(plain, None) as wire:
        assert wire.describe_acls() == (
            SECURITY_DISABLED, "No Authorizer is configured on the broker", [])
    ka = KafkaAdminClient(bootstrap_servers=plain.bootstrap)
    try:
        with pytest.raises(kerr.SecurityDisabledError):
            ka.describe_acls(ACLFilter(None, None, ACLOperation.ANY, ACLPermissionType.ANY,
                                       ResourcePatternFilter(KRT.ANY, None,
                                                             ACLResourcePatternType.ANY)))
    finally:
        ka.close()
    t = unique_topic("noauth")
    admin.create_topics([NewTopic(t, 1, 1)])[t].result(15)
    description = admin.describe_topics(TopicCollection([t]),
                                        include_authorized_operations=True)[t].result(15)
    assert set(description.authorized_operations) == {
        AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DELETE,
        AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS,
        AclOperation.ALTER_CONFIGS}


# =============================================================================
# 2. Kafka's own tools
# =============================================================================

@pytest.fixture
def command_config(acl, tmp_path):
    def write(user: str) -> str:
        path = tmp_path / f"{user}.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in java_config(acl, user).items()
                                if k != "bootstrap.servers"))
        return str(path)
    return write


def test_acl_command_adds_lists_and_removes(acl, command_config):
    t = unique_topic("aclcmd")
    g = unique_topic("aclcmd-g")
    tool = "org.apache.kafka.tools.AclCommand"
    base = ["--bootstrap-server", acl.sasl_bootstrap, "--command-config", command_config("admin")]
    java_client.run_tool(tool, *base, "--add", "--allow-principal", "User:alice",
                         "--operation", "Read", "--operation", "Describe", "--topic", t,
                         "--group", g)
    java_client.run_tool(tool, *base, "--add", "--deny-principal", "User:bob",
                         "--operation", "Write", "--topic", t[:8],
                         "--resource-pattern-type", "prefixed")
    listed = java_client.run_tool(tool, *base, "--list", "--topic", t)
    assert f"ResourcePattern(resourceType=TOPIC, name={t}, patternType=LITERAL)" in listed
    assert "(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)" in listed
    assert "(principal=User:alice, host=*, operation=DESCRIBE, permissionType=ALLOW)" in listed
    listed = java_client.run_tool(tool, *base, "--list", "--topic", t[:8],
                                  "--resource-pattern-type", "prefixed")
    assert f"ResourcePattern(resourceType=TOPIC, name={t[:8]}, patternType=PREFIXED)" in listed
    assert "(principal=User:bob, host=*, operation=WRITE, permissionType=DENY)" in listed
    # what the tool added, as confluent's AdminClient sees it
    match = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                             AclOperation.ANY, AclPermissionType.ANY)
    seen = {(bd.restype, bd.name, bd.resource_pattern_type, bd.principal, bd.operation,
             bd.permission_type) for bd in admin_of(acl).describe_acls(match).result(15)}
    assert {(ResourceType.TOPIC, t, ResourcePatternType.LITERAL, "User:alice",
             AclOperation.READ, AclPermissionType.ALLOW),
            (ResourceType.GROUP, g, ResourcePatternType.LITERAL, "User:alice",
             AclOperation.DESCRIBE, AclPermissionType.ALLOW),
            (ResourceType.TOPIC, t[:8], ResourcePatternType.PREFIXED, "User:bob",
             AclOperation.WRITE, AclPermissionType.DENY)} <= seen
    # alice (not a super user) may not use the tool
    with pytest.raises(java_client.JavaClientError, match="ClusterAuthorizationException"):
        java_client.run_tool(tool, "--bootstrap-server", acl.sasl_bootstrap,
                             "--command-config", command_config("alice"), "--add",
                             "--allow-principal", "User:alice", "--operation", "All",
                             "--topic", t)
    java_client.run_tool(tool, *base, "--remove", "--force", "--allow-principal", "User:alice",
                         "--operation", "Read", "--operation", "Describe", "--topic", t,
                         "--group", g)
    java_client.run_tool(tool, *base, "--remove", "--force", "--topic", t[:8],
                         "--resource-pattern-type", "prefixed")
    assert "User:alice" not in java_client.run_tool(tool, *base, "--list", "--topic", t)
    assert "User:alice" not in java_client.run_tool(tool, *base, "--list", "--group", g)
    assert "User:bob" not in java_client.run_tool(
        tool, *base, "--list", "--topic", t[:8], "--resource-pattern-type", "prefixed")
    left = {(bd.name, bd.principal) for bd in admin_of(acl).describe_acls(match).result(15)}
    assert not left & {(t, "User:alice"), (g, "User:alice"), (t[:8], "User:bob")}


def test_config_command_alters_scram_credentials(acl, command_config):
    """ConfigCommand --alter --add-config SCRAM-SHA-256=[...] --entity-type
    users (AlterUserScramCredentials, ALTER CLUSTER): admin may, alice may
    not. (`--describe --entity-type users` also calls DescribeClientQuotas,
    which gregor does not serve yet; the credentials are described with
    DescribeUserScramCredentials instead.)"""
    tool = "org.apache.kafka.tools.ConfigCommand"
    user = f"sam-{uuid.uuid4().hex[:6]}"
    out = java_client.run_tool(
        tool, "--bootstrap-server", acl.sasl_bootstrap, "--command-config",
        command_config("admin"), "--alter", "--add-config",
        "SCRAM-SHA-256=[iterations=8192,password=x]", "--entity-type", "users",
        "--entity-name", user)
    assert f"Completed updating config for user {user}." in out
    description = admin_of(acl).describe_user_scram_credentials([user])[user].result(15)
    assert [(i.mechanism, i.iterations) for i in description.scram_credential_infos] == \
        [(ScramMechanism.SCRAM_SHA_256, 8192)]
    with pytest.raises(java_client.JavaClientError, match="ClusterAuthorizationException"):
        java_client.run_tool(
            tool, "--bootstrap-server", acl.sasl_bootstrap, "--command-config",
            command_config("alice"), "--alter", "--add-config",
            "SCRAM-SHA-512=[iterations=4096,password=y]", "--entity-type", "users",
            "--entity-name", user)
    # alice may not describe them either (DESCRIBE CLUSTER). (kafka-python:
    # confluent-kafka 2.16.1 aborts the process on this refusal, whose
    # per-user results carry no user name, as Kafka's do.)
    ka = KafkaAdminClient(**kp(acl, "alice"))
    try:
        with pytest.raises(kerr.ClusterAuthorizationFailedError):
            ka.describe_user_scram_credentials([user])
    finally:
        ka.close()
    description = admin_of(acl).describe_user_scram_credentials([user])[user].result(15)
    assert [(i.mechanism, i.iterations) for i in description.scram_credential_infos] == \
        [(ScramMechanism.SCRAM_SHA_256, 8192)]
    java_client.run_tool(
        tool, "--bootstrap-server", acl.sasl_bootstrap, "--command-config",
        command_config("admin"), "--alter", "--delete-config", "SCRAM-SHA-256",
        "--entity-type", "users", "--entity-name", user)
    assert error_code(admin_of(acl).describe_user_scram_credentials([user])[user]) == \
        CE.RESOURCE_NOT_FOUND
