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
NO_REASSIGNMENT_IN_PROGRESS = 85
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
ASSIGN_GROUPS = "assign-"


_admins: dict[tuple[int, str], AdminClient] = {}


def sasl_broker(name: str, **extra) -> Broker:
    """A started broker: PLAINTEXT on `port` (User:ANONYMOUS),
    SASL_PLAINTEXT/PLAIN on `sasl_port`, Kafka's StandardAuthorizer, admin a
    super user."""
    sasl_port = free_port()
    b = Broker(name=name)
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
        **extra,
    })
    b.start()
    b.sasl_port = sasl_port
    b.sasl_bootstrap = f"127.0.0.1:{sasl_port}"
    return b


def forget_admins(b: Broker) -> None:
    for key in [k for k in _admins if k[0] == b.port]:
        del _admins[key]


@pytest.fixture(scope="module")
def acl():
    """The module's broker (see sasl_broker): everything but the super
    user's requests denied unless an ACL allows it."""
    b = sasl_broker("acls")
    # Consumers that assign partitions still look up their group's
    # coordinator (DESCRIBE GROUP): groups named assign-* are describable.
    grant(b, binding("User:*", ResourceType.GROUP, ASSIGN_GROUPS, AclOperation.DESCRIBE,
                     pattern=ResourcePatternType.PREFIXED))
    yield b
    forget_admins(b)
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

    # JoinGroup v9 / SyncGroup v5 / Heartbeat v4 / LeaveGroup v5
    def join_group(self, group: str, member_id: str = "") -> dict:
        body = (w.compact_string(group) + w.i32(10000) + w.i32(10000)
                + w.compact_string(member_id) + w.compact_string(None)
                + w.compact_string("consumer")
                + w.uvarint(2) + w.compact_string("range") + w.compact_bytes(b"") + w.TAGS_NONE
                + w.compact_string(None) + w.TAGS_NONE)
        r = self.call(11, 9, body, True)
        r.i32()
        out = {"error_code": r.i16(), "generation_id": r.i32(), "protocol_type": r.s(),
               "protocol_name": r.s(), "leader": r.s()}
        r.i8()                                      # skip_assignment
        out["member_id"] = r.s()
        out["members"] = r.n()
        return out

    def sync_group(self, group: str, protocol_type: str | None = "consumer",
                   protocol_name: str | None = "range") -> tuple[int, bytes | None]:
        body = (w.compact_string(group) + w.i32(1) + w.compact_string("m")
                + w.compact_string(None) + w.compact_string(protocol_type)
                + w.compact_string(protocol_name) + w.uvarint(1) + w.TAGS_NONE)
        r = self.call(14, 5, body, True)
        r.i32()
        err = r.i16()
        r.s()
        r.s()
        return err, r.nbytes()

    def heartbeat(self, group: str) -> int:
        body = (w.compact_string(group) + w.i32(1) + w.compact_string("m")
                + w.compact_string(None) + w.TAGS_NONE)
        r = self.call(12, 4, body, True)
        r.i32()
        return r.i16()

    def leave_group(self, group: str) -> tuple[int, int]:
        """(error_code, number of member results)."""
        body = (w.compact_string(group) + w.uvarint(2) + w.compact_string("m")
                + w.compact_string(None) + w.compact_string(None) + w.TAGS_NONE + w.TAGS_NONE)
        r = self.call(13, 5, body, True)
        r.i32()
        return r.i16(), r.n()

    # OffsetFetch v8 (one group; topics None: all)
    def offset_fetch_v8(self, group: str, topics: dict[str, list[int]] | None
                        ) -> tuple[int, dict[tuple[str, int], tuple[int, int]]]:
        """(group error, {(topic, partition): (committed offset, error)})."""
        if topics is None:
            wanted = w.uvarint(0)
        else:
            wanted = w.uvarint(len(topics) + 1) + b"".join(
                w.compact_string(t) + w.uvarint(len(ps) + 1) + b"".join(w.i32(p) for p in ps)
                + w.TAGS_NONE for t, ps in topics.items())
        body = (w.uvarint(2) + w.compact_string(group) + wanted + w.TAGS_NONE
                + w.i8(0) + w.TAGS_NONE)
        r = self.call(9, 8, body, True)
        r.i32()
        assert r.n() == 1
        r.s()
        out = {}
        for _ in range(r.n()):
            name = r.s()
            for _ in range(r.n()):
                p, off, _epoch = r.i32(), r.i64(), r.i32()
                r.s()
                out[(name, p)] = (off, r.i16())
                r.tags()
            r.tags()
        return r.i16(), out

    # OffsetForLeaderEpoch v4
    def offset_for_leader_epoch(self, topic: str, partitions: list[int],
                                replica_id: int = -1) -> dict[int, tuple[int, int, int]]:
        """{partition: (error, leader_epoch, end_offset)}."""
        body = (w.i32(replica_id) + w.uvarint(2) + w.compact_string(topic)
                + w.uvarint(len(partitions) + 1)
                + b"".join(w.i32(p) + w.i32(-1) + w.i32(0) + w.TAGS_NONE for p in partitions)
                + w.TAGS_NONE + w.TAGS_NONE)
        r = self.call(23, 4, body, True)
        r.i32()
        out = {}
        for _ in range(r.n()):
            r.s()
            for _ in range(r.n()):
                err, p, epoch, end = r.i16(), r.i32(), r.i32(), r.i64()
                r.tags()
                out[p] = (err, epoch, end)
            r.tags()
        return out

    # DescribeLogDirs v4 (all topics)
    def describe_log_dirs(self) -> tuple[int, int]:
        """(top-level error, number of log dirs)."""
        r = self.call(35, 4, w.uvarint(0) + w.TAGS_NONE, True)
        r.i32()
        return r.i16(), r.n()

    # AlterPartitionReassignments v1, ListPartitionReassignments v0
    def alter_partition_reassignment(self, topic: str, replicas: list[int] | None
                                     ) -> tuple[int, int]:
        """(top-level error, the partition's error) for partition 0."""
        target = (w.uvarint(0) if replicas is None
                  else w.uvarint(len(replicas) + 1) + b"".join(w.i32(r) for r in replicas))
        body = (w.i32(10000) + w.i8(1) + w.uvarint(2) + w.compact_string(topic)
                + w.uvarint(2) + w.i32(0) + target + w.TAGS_NONE + w.TAGS_NONE + w.TAGS_NONE)
        r = self.call(45, 1, body, True)
        r.i32()
        r.i8()
        top = r.i16()
        r.compact_string()
        assert r.n() == 1
        r.compact_string()
        assert r.n() == 1
        r.i32()
        return top, r.i16()

    def list_partition_reassignments(self) -> int:
        """The top-level error."""
        r = self.call(46, 0, w.i32(10000) + w.uvarint(0) + w.TAGS_NONE, True)
        r.i32()
        return r.i16()

    # DescribeTopicPartitions v0
    def describe_topic_partitions(self, topics: list[str]) -> list[tuple[int, str | None, int]]:
        """[(error, name, topic_authorized_operations)] in response order."""
        body = (w.uvarint(len(topics) + 1)
                + b"".join(w.compact_string(t) + w.TAGS_NONE for t in topics)
                + w.i32(2000) + w.i8(-1) + w.TAGS_NONE)
        r = self.call(75, 0, body, True)
        r.i32()
        out = []
        for _ in range(r.n()):
            err, name = r.i16(), r.s()
            r.take(16)                              # topic_id
            r.i8()                                  # is_internal
            for _ in range(r.n()):
                r.i16(); r.i32(); r.i32(); r.i32()
                for _ in range(4):                  # replicas, isr, elr, last known elr
                    for _ in range(max(r.n(), 0)):
                        r.i32()
                for _ in range(r.n()):              # offline replicas
                    r.i32()
                r.tags()
            out.append((err, name, r.i32()))
            r.tags()
        return out

    # DescribeCluster v0
    def cluster_authorized_operations(self, include: bool = True) -> int:
        r = self.call(60, 0, w.i8(1 if include else 0) + w.TAGS_NONE, True)
        r.i32()
        assert r.i16() == NONE
        r.s()                                       # error_message
        r.s()                                       # cluster_id
        r.i32()                                     # controller_id
        for _ in range(r.n()):
            r.i32(); r.s(); r.i32(); r.s()
            r.tags()
        return r.i32()

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
    at `count` values or the first error. Assigning consumers use a group
    every user may DESCRIBE (librdkafka looks up its coordinator)."""
    c = Consumer(cf(b, user, **{"group.id": group or unique_topic(ASSIGN_GROUPS + user),
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
    not. (The credentials are checked with DescribeUserScramCredentials;
    the tool's `--describe` is covered with quotas in test_client_quotas.)"""
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


# =============================================================================
# 3. The authorization matrix
# =============================================================================

def test_produce_needs_write_on_the_topic(acl):
    """Produce: WRITE per topic, else TOPIC_AUTHORIZATION_FAILED (29) with
    base_offset -1 and nothing appended (§1 Produce 2); with acks=0 an error
    closes the connection (§1 Produce 3)."""
    t = create_topic(acl)
    # DESCRIBE (so the clients find the topic): only WRITE is missing.
    grant(acl, topic_acl("alice", t, AclOperation.DESCRIBE))
    assert [code for code, _ in deliver(acl, "alice", t, [b"c0", b"c1"])] == \
        [TOPIC_AUTHORIZATION_FAILED] * 2
    producer = KafkaProducer(**kp(acl, "alice"), acks="all", max_block_ms=10000, retries=0)
    try:
        with pytest.raises(kerr.TopicAuthorizationFailedError):
            producer.send(t, b"k0", partition=0).get(15)
    finally:
        producer.close(5)
    with Wire(acl, "alice") as wire:
        r = wire.produce_raw(t, [b"w0"])
        assert (r.error_code, r.base_offset) == (TOPIC_AUTHORIZATION_FAILED, -1)
        now = int(time.time() * 1000)
        wire.sock.sendall(w.produce_request(9, wire.next_corr(), t, 0,
                                            w.record_batch([w.Rec(None, b"z", now)]), acks=0))
        assert w.wait_closed(wire.sock, 10) == (True, b""), \
            "acks=0 produce refused: the connection must close"
    assert end_offset(acl, t) == 0

    grant(acl, topic_acl("alice", t, AclOperation.WRITE))
    assert deliver(acl, "alice", t, [b"c0", b"c1"]) == [(NONE, 0), (NONE, 1)]
    producer = KafkaProducer(**kp(acl, "alice"), acks="all", max_block_ms=10000)
    try:
        assert producer.send(t, b"k0", partition=0).get(15).offset == 2
    finally:
        producer.close(5)
    with Wire(acl, "alice") as wire:
        assert wire.produce_raw(t, [b"w0"]).base_offset == 3
    assert end_offset(acl, t) == 4


def test_an_unknown_topic_without_describe_is_unauthorized_not_unknown(acl):
    """Authorization comes before existence: an unknown topic alice may
    not DESCRIBE is TOPIC_AUTHORIZATION_FAILED, not UNKNOWN_TOPIC_OR_PARTITION
    (§0 General rule), and it is not auto-created (§1 Metadata 3)."""
    name = unique_topic("ghost")
    with Wire(acl, "alice") as wire:
        assert wire.produce_raw(name, [b"x"]).error_code == TOPIC_AUTHORIZATION_FAILED
        assert wire.metadata_v4([name], allow_auto_create=True) == \
            {name: (TOPIC_AUTHORIZATION_FAILED, 0)}
    assert [code for code, _ in deliver(acl, "alice", name, [b"x"])] == \
        [TOPIC_AUTHORIZATION_FAILED]
    producer = KafkaProducer(**kp(acl, "alice"), max_block_ms=5000)
    try:
        with pytest.raises(kerr.TopicAuthorizationFailedError):
            producer.send(name, b"x").get(10)
    finally:
        producer.close(5)
    assert name not in topics(acl)
    # With WRITE it is an unknown topic (and Produce creates nothing).
    grant(acl, topic_acl("alice", name, AclOperation.WRITE))
    with Wire(acl, "alice") as wire:
        assert wire.produce_raw(name, [b"x"]).error_code == UNKNOWN_TOPIC_OR_PARTITION
    assert name not in topics(acl)


def test_fetch_needs_read_on_the_topic(acl):
    """Fetch (consumer): READ per topic, else TOPIC_AUTHORIZATION_FAILED
    (§1 Fetch, Consumer)."""
    t = create_topic(acl, records=3)
    grant(acl, topic_acl("alice", t, AclOperation.DESCRIBE))
    assert consume(acl, "alice", t, 3) == ([], [TOPIC_AUTHORIZATION_FAILED])
    with Wire(acl, "alice") as wire:
        got = wire.fetch_raw([(t, 0, 0)])[(t, 0)]
        assert (got.error_code, got.records) == (TOPIC_AUTHORIZATION_FAILED, b"")
    kc = KafkaConsumer(**kp(acl, "alice"), group_id=None, enable_auto_commit=False)
    try:
        kc.assign([KTP(t, 0)])
        kc.seek(KTP(t, 0), 0)
        with pytest.raises(kerr.TopicAuthorizationFailedError):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                assert not kc.poll(timeout_ms=300), "alice read records without READ"
    finally:
        kc.close()

    grant(acl, topic_acl("alice", t, AclOperation.READ))
    assert consume(acl, "alice", t, 3) == ([b"r0", b"r1", b"r2"], [])
    kc = KafkaConsumer(**kp(acl, "alice"), group_id=None, enable_auto_commit=False)
    try:
        kc.assign([KTP(t, 0)])
        kc.seek(KTP(t, 0), 0)
        values = []
        deadline = time.monotonic() + 10
        while len(values) < 3 and time.monotonic() < deadline:
            for records in kc.poll(timeout_ms=300).values():
                values += [r.value for r in records]
        assert values == [b"r0", b"r1", b"r2"]
    finally:
        kc.close()


def test_consuming_in_a_group_needs_read_on_the_group(acl):
    """FindCoordinator needs DESCRIBE GROUP, JoinGroup READ GROUP, else
    GROUP_AUTHORIZATION_FAILED (30) (§1 FindCoordinator, JoinGroup), and no
    group is created."""
    t = create_topic(acl, records=2)
    grant(acl, topic_acl("alice", t, AclOperation.READ))
    nothing, describe_only = unique_topic("g-none"), unique_topic("g-describe")
    grant(acl, group_acl("alice", describe_only, AclOperation.DESCRIBE))
    with Wire(acl, "alice") as wire:
        assert wire.find_coordinator(nothing, 0) == \
            {"error_code": GROUP_AUTHORIZATION_FAILED, "node_id": -1, "host": "", "port": -1}
        assert wire.find_coordinator(describe_only, 0)["error_code"] == NONE
    for g in (nothing, describe_only):
        assert consume(acl, "alice", t, 2, group=g, subscribe=True) == \
            ([], [GROUP_AUTHORIZATION_FAILED]), g
    kc = KafkaConsumer(t, **kp(acl, "alice"), group_id=describe_only,
                       auto_offset_reset="earliest", enable_auto_commit=False)
    try:
        with pytest.raises(kerr.GroupAuthorizationFailedError):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                assert not kc.poll(timeout_ms=300), "alice consumed without group READ"
    finally:
        kc.close()
    assert not {nothing, describe_only} & groups(acl)
    assert committed(acl, describe_only, t) == -1001

    grant(acl, group_acl("alice", describe_only, AclOperation.READ))
    assert consume(acl, "alice", t, 2, group=describe_only, subscribe=True) == \
        ([b"r0", b"r1"], [])
    assert describe_only in groups(acl)


def cf_commit(consumer: Consumer, offsets: list[TopicPartition]) -> int:
    """Commits synchronously; the error code (one for all partitions)."""
    try:
        result = consumer.commit(offsets=offsets, asynchronous=False)
    except KafkaException as e:
        return e.args[0].code()
    codes = {tp.error.code() if tp.error else NONE for tp in result}
    assert len(codes) == 1, codes
    return codes.pop()


def test_offset_commit_needs_read_on_the_group(acl):
    """OffsetCommit: READ GROUP, else every partition 30 and nothing is
    committed; then READ TOPIC per topic, else 29 for that topic's
    partitions only (§1 OffsetCommit)."""
    t, t2 = create_topic(acl, records=3), create_topic(acl, records=1)
    g = unique_topic("g-commit")
    grant(acl, topic_acl("alice", t, AclOperation.READ),
          group_acl("alice", g, AclOperation.DESCRIBE))
    with Wire(acl, "alice") as wire:
        assert wire.offset_commit(g, {(t, 0): 2, (t2, 0): 1}) == \
            {(t, 0): GROUP_AUTHORIZATION_FAILED, (t2, 0): GROUP_AUTHORIZATION_FAILED}
    c = Consumer(cf(acl, "alice", **{"group.id": g, "enable.auto.commit": False}))
    try:
        assert cf_commit(c, [TopicPartition(t, 0, 2)]) == GROUP_AUTHORIZATION_FAILED
    finally:
        c.close()
    kc = KafkaConsumer(**kp(acl, "alice"), group_id=g, enable_auto_commit=False)
    try:
        kc.assign([KTP(t, 0)])
        with pytest.raises(kerr.GroupAuthorizationFailedError):
            kc.commit({KTP(t, 0): OffsetAndMetadata(2, "", -1)})
    finally:
        kc.close()
    assert committed(acl, g, t) == -1001
    assert g not in groups(acl)

    grant(acl, group_acl("alice", g, AclOperation.READ))
    with Wire(acl, "alice") as wire:
        assert wire.offset_commit(g, {(t, 0): 2, (t2, 0): 1}) == \
            {(t, 0): NONE, (t2, 0): TOPIC_AUTHORIZATION_FAILED}
    assert (committed(acl, g, t), committed(acl, g, t2)) == (2, -1001)
    c = Consumer(cf(acl, "alice", **{"group.id": g, "enable.auto.commit": False}))
    try:
        assert cf_commit(c, [TopicPartition(t, 0, 3)]) == NONE
    finally:
        c.close()
    assert committed(acl, g, t) == 3


def test_metadata_hides_topics_alice_may_not_describe(acl):
    """Metadata: an all-topics request silently omits topics without
    DESCRIBE; a by-name request answers TOPIC_AUTHORIZATION_FAILED
    (§1 Metadata 4)."""
    seen, hidden = create_topic(acl), create_topic(acl)
    grant(acl, topic_acl("alice", seen, AclOperation.DESCRIBE))
    listed = admin_of(acl, "alice").list_topics(timeout=10).topics
    assert seen in listed and hidden not in listed
    named = admin_of(acl, "alice").list_topics(hidden, timeout=10).topics[hidden]
    assert named.error is not None and named.error.code() == TOPIC_AUTHORIZATION_FAILED
    ka = KafkaAdminClient(**kp(acl, "alice"))
    try:
        names = ka.list_topics()
        assert seen in names and hidden not in names
    finally:
        ka.close()
    with Wire(acl, "alice") as wire:
        everything = wire.metadata_v4(None, allow_auto_create=False)
        assert everything.get(seen) == (NONE, 1) and hidden not in everything
        assert wire.metadata_v4([hidden, seen], allow_auto_create=False) == \
            {hidden: (TOPIC_AUTHORIZATION_FAILED, 0), seen: (NONE, 1)}
    assert {seen, hidden} <= topics(acl)


def test_metadata_auto_creates_only_with_create(acl):
    """Auto-creation (allow_auto_topic_creation, auto.create.topics.enable)
    applies to DESCRIBE-authorized missing topics and needs CREATE (cluster
    or topic); otherwise TOPIC_AUTHORIZATION_FAILED and nothing is created
    (§1 Metadata 3)."""
    u = uuid.uuid4().hex[:8]
    describe_only, create_only, both = f"ac-{u}-d", f"ac-{u}-c", f"ac-{u}-dc"
    grant(acl, topic_acl("alice", describe_only, AclOperation.DESCRIBE),
          topic_acl("alice", create_only, AclOperation.CREATE),
          topic_acl("alice", both, AclOperation.DESCRIBE),
          topic_acl("alice", f"ac-{u}-dc", AclOperation.CREATE,
                    pattern=ResourcePatternType.PREFIXED))
    with Wire(acl, "alice") as wire:
        assert wire.metadata_v4([describe_only, create_only], allow_auto_create=True) == \
            {describe_only: (TOPIC_AUTHORIZATION_FAILED, 0),
             create_only: (TOPIC_AUTHORIZATION_FAILED, 0)}
    producer = KafkaProducer(**kp(acl, "alice"), max_block_ms=5000)
    try:
        with pytest.raises(kerr.TopicAuthorizationFailedError):
            producer.send(describe_only, b"x").get(10)
    finally:
        producer.close(5)
    assert not {describe_only, create_only} & topics(acl)
    with Wire(acl, "alice") as wire:
        error, _ = wire.metadata_v4([both], allow_auto_create=True)[both]
        assert error in (NONE, 5), error       # 5: LEADER_NOT_AVAILABLE while it starts
    wait_until(lambda: both in topics(acl), timeout=10, what=f"{both} auto-created")
    assert not {describe_only, create_only} & topics(acl)


def test_create_topics_needs_create(acl):
    """CreateTopics: CREATE CLUSTER, else CREATE TOPIC per name (LITERAL or
    PREFIXED ACLs), else TOPIC_AUTHORIZATION_FAILED, even for an existing
    topic (29, not TOPIC_ALREADY_EXISTS) (§1 CreateTopics 2)."""
    u = uuid.uuid4().hex[:8]
    denied, existing = f"ct-{u}-denied", create_topic(acl)
    alice = admin_of(acl, "alice")
    fs = alice.create_topics([NewTopic(denied, 1, 1), NewTopic(existing, 1, 1)])
    assert {n: error_code(f) for n, f in fs.items()} == \
        {denied: TOPIC_AUTHORIZATION_FAILED, existing: TOPIC_AUTHORIZATION_FAILED}
    ka = KafkaAdminClient(**kp(acl, "alice"))
    try:
        with pytest.raises(kerr.TopicAuthorizationFailedError):
            ka.create_topics([KNewTopic(denied, 1, 1)])
        assert denied not in topics(acl)

        grant(acl, topic_acl("alice", f"ct-{u}-ok", AclOperation.CREATE,
                             pattern=ResourcePatternType.PREFIXED))
        fs = alice.create_topics([NewTopic(f"ct-{u}-ok-1", 1, 1), NewTopic(denied, 1, 1)])
        assert {n: error_code(f) for n, f in fs.items()} == \
            {f"ct-{u}-ok-1": NONE, denied: TOPIC_AUTHORIZATION_FAILED}
        ka.create_topics([KNewTopic(f"ct-{u}-ok-2", 2, 1)])
    finally:
        ka.close()
    assert {f"ct-{u}-ok-1", f"ct-{u}-ok-2"} <= topics(acl) and denied not in topics(acl)
    assert partition_count(acl, f"ct-{u}-ok-2") == 2

    grant(acl, cluster_acl("carol", AclOperation.CREATE))
    fs = admin_of(acl, "carol").create_topics([NewTopic(denied, 1, 1),
                                               NewTopic(existing, 1, 1)])
    assert {n: error_code(f) for n, f in fs.items()} == \
        {denied: NONE, existing: TOPIC_ALREADY_EXISTS}
    assert denied in topics(acl)


def test_delete_topics_needs_delete(acl):
    """DeleteTopics by name: not describable → 29 (before existence);
    describable but missing → UNKNOWN_TOPIC_OR_PARTITION; describable,
    existing, not deletable → 29 (§1 DeleteTopics). DELETE implies
    DESCRIBE."""
    described, bare = create_topic(acl), create_topic(acl)
    missing = unique_topic("missing")
    grant(acl, topic_acl("alice", described, AclOperation.DESCRIBE),
          topic_acl("alice", missing, AclOperation.DESCRIBE))
    alice = admin_of(acl, "alice")
    fs = alice.delete_topics([described, bare, missing], operation_timeout=10)
    assert {n: error_code(f) for n, f in fs.items()} == {
        described: TOPIC_AUTHORIZATION_FAILED, bare: TOPIC_AUTHORIZATION_FAILED,
        missing: UNKNOWN_TOPIC_OR_PARTITION}
    ka = KafkaAdminClient(**kp(acl, "alice"))
    try:
        with pytest.raises(kerr.TopicAuthorizationFailedError):
            ka.delete_topics([described])
    finally:
        ka.close()
    assert {described, bare} <= topics(acl)

    grant(acl, topic_acl("alice", described, AclOperation.DELETE),
          topic_acl("alice", bare, AclOperation.DELETE))
    fs = alice.delete_topics([described, bare], operation_timeout=10)
    assert {n: error_code(f) for n, f in fs.items()} == {described: NONE, bare: NONE}
    wait_until(lambda: not {described, bare} & topics(acl), timeout=10, what="deleted")


def test_create_partitions_needs_alter(acl):
    t = create_topic(acl)
    grant(acl, topic_acl("alice", t, AclOperation.DESCRIBE))
    alice = admin_of(acl, "alice")
    assert error_code(alice.create_partitions([NewPartitions(t, 3)])[t]) == \
        TOPIC_AUTHORIZATION_FAILED
    assert partition_count(acl, t) == 1
    grant(acl, topic_acl("alice", t, AclOperation.ALTER))
    assert error_code(alice.create_partitions([NewPartitions(t, 3)])[t]) == NONE
    wait_until(lambda: partition_count(acl, t) == 3, timeout=10, what="3 partitions")


def test_configs_need_describe_configs_and_alter_configs(acl):
    """DescribeConfigs: DESCRIBE_CONFIGS TOPIC → 29, BROKER needs
    DESCRIBE_CONFIGS CLUSTER → 31; AlterConfigs and IncrementalAlterConfigs:
    ALTER_CONFIGS TOPIC → 29 and the config is unchanged; ALTER_CONFIGS
    implies DESCRIBE_CONFIGS (§1 DescribeConfigs, AlterConfigs; §2.7)."""
    t = create_topic(acl)
    before = topic_config(acl, t, "retention.ms")
    assert before != "12345"
    alice = admin_of(acl, "alice")
    resource = ConfigResource(ResourceType.TOPIC, t)

    def incremental(value):
        return ConfigResource(ResourceType.TOPIC, t, incremental_configs=[
            ConfigEntry("retention.ms", value, incremental_operation=AlterConfigOpType.SET)])

    def legacy(value):
        return ConfigResource(ResourceType.TOPIC, t, set_config={"retention.ms": value})

    assert error_code(alice.describe_configs([resource])[resource]) == TOPIC_AUTHORIZATION_FAILED
    broker = ConfigResource(ResourceType.BROKER, str(BROKER_ID))
    assert error_code(alice.describe_configs([broker])[broker]) == CLUSTER_AUTHORIZATION_FAILED
    r = incremental("12345")
    assert error_code(alice.incremental_alter_configs([r])[r]) == TOPIC_AUTHORIZATION_FAILED
    r = legacy("12345")
    assert error_code(alice.alter_configs([r])[r]) == TOPIC_AUTHORIZATION_FAILED
    assert topic_config(acl, t, "retention.ms") == before

    grant(acl, topic_acl("alice", t, AclOperation.DESCRIBE_CONFIGS))
    configs = alice.describe_configs([resource])[resource].result(10)
    assert configs["retention.ms"].value == before
    r = incremental("12345")
    assert error_code(alice.incremental_alter_configs([r])[r]) == TOPIC_AUTHORIZATION_FAILED
    assert topic_config(acl, t, "retention.ms") == before

    revoke(acl, topic_acl("alice", t, AclOperation.DESCRIBE_CONFIGS))
    grant(acl, topic_acl("alice", t, AclOperation.ALTER_CONFIGS))
    configs = alice.describe_configs([resource])[resource].result(10)
    assert configs["retention.ms"].value == before
    r = incremental("12345")
    assert error_code(alice.incremental_alter_configs([r])[r]) == NONE
    assert topic_config(acl, t, "retention.ms") == "12345"


def test_delete_records_needs_delete(acl):
    t = create_topic(acl, records=3)
    grant(acl, topic_acl("alice", t, AclOperation.DESCRIBE))
    alice = admin_of(acl, "alice")
    tp = TopicPartition(t, 0, 2)
    assert error_code(alice.delete_records([tp])[tp]) == TOPIC_AUTHORIZATION_FAILED
    assert start_offset(acl, t) == 0
    grant(acl, topic_acl("alice", t, AclOperation.DELETE))
    assert alice.delete_records([tp])[tp].result(10).low_watermark == 2
    assert start_offset(acl, t) == 2


def test_list_offsets_needs_describe(acl):
    """ListOffsets: DESCRIBE per topic, else 29 with timestamp and offset -1
    (§1 ListOffsets)."""
    t = create_topic(acl, records=3)
    alice = admin_of(acl, "alice")
    tp = TopicPartition(t, 0)
    # librdkafka fails at its Metadata lookup first (DESCRIBE there too),
    # reporting _NOENT; the ListOffsets answer itself is checked raw.
    assert error_code(alice.list_offsets({tp: OffsetSpec.latest()})[tp]) in \
        (TOPIC_AUTHORIZATION_FAILED, CE._NOENT)
    with Wire(acl, "alice") as wire:
        assert wire.list_offsets_raw(t) == (TOPIC_AUTHORIZATION_FAILED, -1, -1)
    grant(acl, topic_acl("alice", t, AclOperation.DESCRIBE))
    alice = AdminClient(cf(acl, "alice"))       # no cached "unauthorized" metadata
    assert alice.list_offsets({tp: OffsetSpec.latest()})[tp].result(10).offset == 3
    with Wire(acl, "alice") as wire:
        assert wire.list_offsets_raw(t) == (NONE, -1, 3)


def test_transactional_ids_need_write(acl):
    """InitProducerId, FindCoordinator(TRANSACTION), transactional Produce,
    AddPartitionsToTxn and EndTxn need WRITE (DESCRIBE for FindCoordinator)
    on the TRANSACTIONAL_ID, else TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53)
    (§1 InitProducerId, FindCoordinator, Produce 1, AddPartitionsToTxn,
    EndTxn); nothing is created or appended."""
    t = create_topic(acl)
    txn = unique_topic("txn-alice")
    grant(acl, topic_acl("alice", t, AclOperation.WRITE))
    with Wire(acl, "alice") as wire:
        r = wire.init_producer_id(version=4, transactional_id=txn)
        assert (r.error_code, r.producer_id, r.producer_epoch) == \
            (TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1, -1)
        assert wire.find_coordinator(txn, 1)["error_code"] == \
            TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        r = wire.produce_raw(t, [], txn_id=txn, batch=raw_batch([b"x"], 4242, 0, 0))
        assert (r.error_code, r.base_offset) == (TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1)
        assert wire.add_partitions_to_txn(txn, 4242, 0, {t: [0]}) == \
            {(t, 0): TRANSACTIONAL_ID_AUTHORIZATION_FAILED}
        assert wire.end_txn(txn, 4242, 0, True) == TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    p = Producer(cf(acl, "alice", **{"transactional.id": txn}))
    with pytest.raises(KafkaException) as refused:
        p.init_transactions(15)
    assert refused.value.args[0].code() == TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    del p
    with Wire(acl, "admin") as wire:
        assert wire.describe_transactions([txn])[txn].error_code == TRANSACTIONAL_ID_NOT_FOUND
    assert end_offset(acl, t) == 0

    grant(acl, txn_acl("alice", txn, AclOperation.WRITE))
    p = Producer(cf(acl, "alice", **{"transactional.id": txn}))
    p.init_transactions(15)
    p.begin_transaction()
    p.produce(t, value=b"in-txn", partition=0)
    p.commit_transaction(15)
    assert end_offset(acl, t) == 2          # the record and the commit marker


def test_idempotent_producer_needs_idempotent_write_or_write_on_some_topic(acl):
    """InitProducerId without a transactional id: IDEMPOTENT_WRITE CLUSTER,
    or WRITE on at least one topic (authorizeByResourceType), else
    CLUSTER_AUTHORIZATION_FAILED (31), producer id -1 (§1 InitProducerId,
    §2.8). ivan has no WRITE anywhere."""
    t = create_topic(acl)
    grant(acl, topic_acl("ivan", t, AclOperation.DESCRIBE))

    def init() -> tuple[int, int, int]:
        with Wire(acl, "ivan") as wire:
            r = wire.init_producer_id(version=4)
        return r.error_code, r.producer_id, r.producer_epoch

    assert init() == (CLUSTER_AUTHORIZATION_FAILED, -1, -1)
    # librdkafka: a fatal error (raised from poll, or given to error_cb).
    errors = []
    p = Producer(cf(acl, "ivan", **{"enable.idempotence": True, "error_cb": errors.append}))
    p.produce(t, value=b"i0", partition=0)
    deadline = time.monotonic() + 15
    while not any(e.fatal() for e in errors) and time.monotonic() < deadline:
        try:
            p.poll(0.2)
        except KafkaException as e:
            errors.append(e.args[0])
    assert [(e.code(), e.fatal()) for e in errors if e.fatal()][:1] == \
        [(CLUSTER_AUTHORIZATION_FAILED, True)], errors
    del p
    assert end_offset(acl, t) == 0

    # WRITE on some other topic (here PREFIXED, on topics that need not exist).
    on_some = topic_acl("ivan", f"ivan-{uuid.uuid4().hex[:6]}", AclOperation.WRITE,
                        pattern=ResourcePatternType.PREFIXED)
    grant(acl, on_some)
    code, pid, epoch = init()
    assert (code, pid >= 0, epoch) == (NONE, True, 0)
    revoke(acl, on_some)
    assert init() == (CLUSTER_AUTHORIZATION_FAILED, -1, -1)

    grant(acl, cluster_acl("ivan", AclOperation.IDEMPOTENT_WRITE))
    code, pid, epoch = init()
    assert (code, pid >= 0, epoch) == (NONE, True, 0)
    # and with WRITE on the topic the idempotent producer delivers
    grant(acl, topic_acl("ivan", t, AclOperation.WRITE))
    assert deliver(acl, "ivan", t, [b"i0"], **{"enable.idempotence": True}) == [(NONE, 0)]


def test_groups_are_listed_described_and_deleted_by_acl(acl):
    """ListGroups without DESCRIBE CLUSTER: silently filtered to groups with
    DESCRIBE; DescribeGroups: DESCRIBE GROUP per group, else 30 with state
    "" and authorized_operations INT32_MIN; DeleteGroups: DELETE GROUP per
    group (§1 ListGroups, DescribeGroups, DeleteGroups; §4)."""
    t = create_topic(acl, records=2)
    mine, theirs = unique_topic("g-mine"), unique_topic("g-theirs")
    admin = admin_of(acl)
    for g in (mine, theirs):
        request = [ConsumerGroupTopicPartitions(g, [TopicPartition(t, 0, 1)])]
        admin.alter_consumer_group_offsets(request)[g].result(10)
    assert {mine, theirs} <= groups(acl)
    grant(acl, group_acl("alice", mine, AclOperation.DESCRIBE))
    alice = admin_of(acl, "alice")
    listed = {g.group_id for g in alice.list_consumer_groups().result(10).valid}
    assert mine in listed and theirs not in listed
    ka = KafkaAdminClient(**kp(acl, "alice"))
    try:
        listed = {g["group_id"] for g in ka.list_groups()}
        assert mine in listed and theirs not in listed
        with Wire(acl, "alice") as wire:
            assert wire.describe_groups([theirs, mine]) == {
                theirs: (GROUP_AUTHORIZATION_FAILED, "", INT32_MIN),
                mine: (NONE, "Empty", 1 << AclOperation.DESCRIBE.value)}
        assert error_code(alice.describe_consumer_groups([theirs])[theirs]) == \
            GROUP_AUTHORIZATION_FAILED
        # DeleteGroups: DESCRIBE is not DELETE.
        assert error_code(alice.delete_consumer_groups([mine])[mine]) == \
            GROUP_AUTHORIZATION_FAILED
        assert ka.delete_groups([mine]) == {mine: "GroupAuthorizationFailedError"}
        assert {mine, theirs} <= groups(acl)
        assert committed(acl, mine, t) == 1

        grant(acl, group_acl("alice", mine, AclOperation.DELETE))
        assert error_code(alice.delete_consumer_groups([mine])[mine]) == NONE
    finally:
        ka.close()
    assert mine not in groups(acl) and theirs in groups(acl)


def test_group_membership_requests_need_read_on_the_group(acl):
    """JoinGroup, SyncGroup, Heartbeat, LeaveGroup: READ GROUP, else 30
    with the error response's defaults (JoinGroup: generation -1, leader
    and member id "", protocol_name null, no members); SyncGroup v5 checks
    its protocol fields first (INCONSISTENT_GROUP_PROTOCOL, 23) (§1
    JoinGroup / SyncGroup / Heartbeat / LeaveGroup)."""
    g = unique_topic("g-member")
    grant(acl, group_acl("alice", g, AclOperation.DESCRIBE))
    with Wire(acl, "alice") as wire:
        observed = {"JoinGroup": wire.join_group(g),
                    "SyncGroup": wire.sync_group(g),
                    "SyncGroup without protocol": wire.sync_group(g, None, None)[0],
                    "Heartbeat": wire.heartbeat(g),
                    "LeaveGroup": wire.leave_group(g)}
    assert observed == {
        "JoinGroup": {"error_code": GROUP_AUTHORIZATION_FAILED, "generation_id": -1,
                      "protocol_type": None, "protocol_name": None, "leader": "",
                      "member_id": "", "members": 0},
        "SyncGroup": (GROUP_AUTHORIZATION_FAILED, b""),
        "SyncGroup without protocol": 23,
        "Heartbeat": GROUP_AUTHORIZATION_FAILED,
        "LeaveGroup": (GROUP_AUTHORIZATION_FAILED, 0)}
    assert g not in groups(acl)
    grant(acl, group_acl("alice", g, AclOperation.READ))
    with Wire(acl, "alice") as wire:
        joined = wire.join_group(g)
        assert joined["error_code"] == 79            # MEMBER_ID_REQUIRED: the first round
        joined = wire.join_group(g, joined["member_id"])
        assert (joined["error_code"], joined["generation_id"]) == (NONE, 1)
    assert g in groups(acl)


def test_offset_fetch_and_offset_delete_need_group_and_topic_rights(acl):
    """OffsetFetch: DESCRIBE GROUP (else group error 30), then DESCRIBE TOPIC
    per requested topic (else 29, offset -1); all topics: silently filtered.
    OffsetDelete: DELETE GROUP (else top-level 30), then READ TOPIC per
    topic (else 29) (§1 OffsetFetch, OffsetDelete)."""
    seen, hidden = create_topic(acl, records=2), create_topic(acl, records=2)
    g = unique_topic("g-fetch")
    request = [ConsumerGroupTopicPartitions(g, [TopicPartition(seen, 0, 1),
                                                TopicPartition(hidden, 0, 2)])]
    admin_of(acl).alter_consumer_group_offsets(request)[g].result(10)
    grant(acl, topic_acl("alice", seen, AclOperation.DESCRIBE))
    with Wire(acl, "alice") as wire:
        assert wire.offset_fetch_v8(g, {seen: [0]}) == (GROUP_AUTHORIZATION_FAILED, {})
    grant(acl, group_acl("alice", g, AclOperation.DESCRIBE))
    with Wire(acl, "alice") as wire:
        assert wire.offset_fetch_v8(g, {seen: [0], hidden: [0]}) == \
            (NONE, {(seen, 0): (1, NONE), (hidden, 0): (-1, TOPIC_AUTHORIZATION_FAILED)})
        assert wire.offset_fetch_v8(g, None) == (NONE, {(seen, 0): (1, NONE)})
    listed = admin_of(acl, "alice").list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(g)])[g].result(10).topic_partitions
    assert [(tp.topic, tp.partition, tp.offset) for tp in listed] == [(seen, 0, 1)]

    ka = KafkaAdminClient(**kp(acl, "alice"))
    try:
        with pytest.raises(kerr.GroupAuthorizationFailedError):
            ka.delete_group_offsets(g, [KTP(seen, 0)])
        assert (committed(acl, g, seen), committed(acl, g, hidden)) == (1, 2)
        grant(acl, group_acl("alice", g, AclOperation.DELETE))
        assert ka.delete_group_offsets(g, [KTP(seen, 0), KTP(hidden, 0)]) == {
            KTP(seen, 0): kerr.TopicAuthorizationFailedError,
            KTP(hidden, 0): kerr.TopicAuthorizationFailedError}
        assert (committed(acl, g, seen), committed(acl, g, hidden)) == (1, 2)
        grant(acl, topic_acl("alice", seen, AclOperation.READ))
        assert ka.delete_group_offsets(g, [KTP(seen, 0)]) == {KTP(seen, 0): kerr.NoError}
    finally:
        ka.close()
    assert (committed(acl, g, seen), committed(acl, g, hidden)) == (-1001, 2)


def test_transactional_offset_commits_need_the_group(acl):
    """AddOffsetsToTxn: WRITE TRANSACTIONAL_ID (53), then READ GROUP (30).
    TxnOffsetCommit: WRITE TRANSACTIONAL_ID → all 53, READ GROUP → all 30,
    READ TOPIC → 29 (§1 AddOffsetsToTxn, TxnOffsetCommit). Nothing is
    committed."""
    t, t2 = create_topic(acl, records=2), create_topic(acl, records=1)
    g, txn = unique_topic("g-txn"), unique_topic("txn-offsets")
    with Wire(acl, "alice") as wire:
        assert wire.add_offsets_to_txn(txn, 1, 0, g) == TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        assert wire.txn_offset_commit(txn, g, 1, 0, {(t, 0): 1}) == \
            {(t, 0): TRANSACTIONAL_ID_AUTHORIZATION_FAILED}
    grant(acl, txn_acl("alice", txn, AclOperation.WRITE),
          topic_acl("alice", t, AclOperation.READ))
    with Wire(acl, "alice") as wire:
        r = wire.init_producer_id(version=4, transactional_id=txn)
        assert r.error_code == NONE
        pid, epoch = r.producer_id, r.producer_epoch
        assert wire.add_offsets_to_txn(txn, pid, epoch, g) == GROUP_AUTHORIZATION_FAILED
        assert wire.txn_offset_commit(txn, g, pid, epoch, {(t, 0): 1, (t2, 0): 1}) == \
            {(t, 0): GROUP_AUTHORIZATION_FAILED, (t2, 0): GROUP_AUTHORIZATION_FAILED}
    assert committed(acl, g, t) == -1001 and g not in groups(acl)
    grant(acl, group_acl("alice", g, AclOperation.READ))
    with Wire(acl, "alice") as wire:
        assert wire.add_offsets_to_txn(txn, pid, epoch, g) == NONE
        assert wire.txn_offset_commit(txn, g, pid, epoch, {(t, 0): 1, (t2, 0): 1}) == \
            {(t, 0): NONE, (t2, 0): TOPIC_AUTHORIZATION_FAILED}
        assert wire.end_txn(txn, pid, epoch, True) == NONE
    wait_until(lambda: committed(acl, g, t) == 1, timeout=10, what="the offset committed")
    assert committed(acl, g, t2) == -1001


def test_transaction_listings_are_filtered(acl):
    """ListTransactions: silently filtered to DESCRIBE TRANSACTIONAL_ID;
    DescribeTransactions: 53 per denied id, the partitions filtered to
    DESCRIBE TOPIC; DescribeProducers: READ TOPIC (not DESCRIBE) → 29
    (§1 ListTransactions, DescribeTransactions, DescribeProducers)."""
    t = create_topic(acl)
    mine, theirs = unique_topic("txn-mine"), unique_topic("txn-theirs")
    producers = []
    for txn in (mine, theirs):
        p = Producer(cf(acl, "admin", **{"transactional.id": txn}))
        p.init_transactions(15)
        p.begin_transaction()
        p.produce(t, value=txn.encode(), partition=0)
        assert p.flush(15) == 0
        producers.append(p)
    try:
        grant(acl, txn_acl("alice", mine, AclOperation.DESCRIBE),
              topic_acl("alice", t, AclOperation.DESCRIBE))
        with Wire(acl, "alice") as wire:
            error, _, listed = wire.list_transactions()
            assert error == NONE and mine in listed and theirs not in listed
            described = wire.describe_transactions([theirs, mine])
            assert described[theirs].error_code == TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            assert (described[mine].error_code, described[mine].state,
                    described[mine].partitions) == (NONE, "Ongoing", {t: [0]})
            assert wire.describe_producers(t, [0]) == {0: (TOPIC_AUTHORIZATION_FAILED, [])}
        # without DESCRIBE on the topic, its partitions are left out
        revoke(acl, topic_acl("alice", t, AclOperation.DESCRIBE))
        with Wire(acl, "alice") as wire:
            described = wire.describe_transactions([mine])[mine]
            assert (described.error_code, described.partitions) == (NONE, {})
        # READ (which DescribeProducers needs, and which implies DESCRIBE)
        grant(acl, txn_acl("bob", mine, AclOperation.DESCRIBE),
              topic_acl("bob", t, AclOperation.READ))
        with Wire(acl, "bob") as wire:
            assert wire.describe_transactions([mine])[mine].partitions == {t: [0]}
            error, producers_seen = wire.describe_producers(t, [0])[0]
            assert error == NONE and len(producers_seen) == 2
    finally:
        for p in producers:
            p.abort_transaction(15)


def test_cluster_and_topic_describing_apis(acl):
    """DescribeLogDirs: DESCRIBE CLUSTER, else 31 and no results;
    ElectLeaders and AlterPartitionReassignments: ALTER CLUSTER, else 31;
    ListPartitionReassignments: DESCRIBE CLUSTER, else 31; OffsetForLeaderEpoch: DESCRIBE
    TOPIC (unless CLUSTER_ACTION), else 29; DescribeTopicPartitions: DESCRIBE
    TOPIC, denied names last with 29, authorized operations always set
    (§1 DescribeLogDirs, ElectLeaders, OffsetForLeaderEpoch,
    DescribeTopicPartitions)."""
    seen, hidden = create_topic(acl, records=1), create_topic(acl, records=1)
    grant(acl, topic_acl("alice", seen, AclOperation.DESCRIBE))
    with Wire(acl, "alice") as wire:
        assert wire.describe_log_dirs() == (CLUSTER_AUTHORIZATION_FAILED, 0)
        assert wire.offset_for_leader_epoch(hidden, [0]) == \
            {0: (TOPIC_AUTHORIZATION_FAILED, -1, -1)}
        assert wire.offset_for_leader_epoch(seen, [0])[0][0] == NONE
        assert wire.describe_topic_partitions([hidden, seen]) == [
            (NONE, seen, 1 << AclOperation.DESCRIBE.value),
            (TOPIC_AUTHORIZATION_FAILED, hidden, INT32_MIN)]
        # Reassignments: ALTER CLUSTER to change, DESCRIBE CLUSTER to list;
        # refused whole (top level and partition) and nothing changes.
        assert wire.alter_partition_reassignment(seen, [1]) == \
            (CLUSTER_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED)
        assert wire.list_partition_reassignments() == CLUSTER_AUTHORIZATION_FAILED
    with Wire(acl, "admin") as wire:
        error, dirs = wire.describe_log_dirs()
        assert error == NONE and dirs >= 1
        # The super user may: the one broker already holds partition 0.
        assert wire.alter_partition_reassignment(seen, [1]) == (NONE, NONE)
        assert wire.alter_partition_reassignment(seen, None) == \
            (NONE, NO_REASSIGNMENT_IN_PROGRESS)
        assert wire.list_partition_reassignments() == NONE
    from confluent_kafka import ElectionType
    future = admin_of(acl, "alice").elect_leaders(ElectionType.PREFERRED,
                                                  [TopicPartition(seen, 0)])
    assert error_code(future) == CLUSTER_AUTHORIZATION_FAILED


def test_raft_voter_changes_need_cluster_alter(acl):
    """AddRaftVoter and RemoveRaftVoter (KIP-853): ALTER CLUSTER, else 31,
    as Kafka's ControllerApis asks; the super user passes to the quorum,
    which refuses them on a lone broker's kraft.version 0 (35)."""
    import struct

    directory = bytes(range(1, 17))

    def call(wire, api_key: int, body: bytes) -> int:
        corr = wire.next_corr()
        wire.sock.sendall(w.frame(w.request_header(api_key, 0, corr, flexible=True) + body))
        r = w.Reader(w.recv_frame(wire.sock))
        assert r.i32() == corr
        r.skip_tags()
        r.i32()
        return r.i16()

    add = (w.compact_string(None) + w.i32(5000) + w.i32(7) + directory + w.uvarint(2)
           + w.compact_string("CONTROLLER") + w.compact_string("127.0.0.1")
           + struct.pack(">H", 9999) + w.TAGS_NONE + w.TAGS_NONE)
    remove = w.compact_string(None) + w.i32(7) + directory + w.TAGS_NONE
    with Wire(acl, "alice") as wire:
        assert call(wire, 80, add) == CLUSTER_AUTHORIZATION_FAILED
        assert call(wire, 81, remove) == CLUSTER_AUTHORIZATION_FAILED
    with Wire(acl, "admin") as wire:
        assert call(wire, 80, add) == 35
        assert call(wire, 81, remove) == 35


def test_deny_overrides_allow(acl):
    """ALLOW User:* READ + DENY User:alice READ: alice refused, bob allowed;
    DENY READ does not deny DESCRIBE, DENY DESCRIBE does (§2.3, §2.7)."""
    t = create_topic(acl, records=2)
    grant(acl, binding("User:*", ResourceType.TOPIC, t, AclOperation.READ),
          topic_acl("alice", t, AclOperation.READ, allow=False))
    assert consume(acl, "alice", t, 2) == ([], [TOPIC_AUTHORIZATION_FAILED])
    assert consume(acl, "bob", t, 2) == ([b"r0", b"r1"], [])
    with Wire(acl, "alice") as wire:
        assert wire.fetch_raw([(t, 0, 0)])[(t, 0)].error_code == TOPIC_AUTHORIZATION_FAILED
    assert t in admin_of(acl, "alice").list_topics(timeout=10).topics
    grant(acl, topic_acl("alice", t, AclOperation.DESCRIBE, allow=False))
    assert t not in admin_of(acl, "alice").list_topics(timeout=10).topics
    assert t in admin_of(acl, "bob").list_topics(timeout=10).topics


def test_prefixed_acls(acl):
    """PREFIXED ALLOW WRITE on "pfx-U-" applies to "pfx-U-a", not to
    "pfx-U"; a PREFIXED DENY on "pfx-U-secret" wins over it (§2.3, §2.4)."""
    u = uuid.uuid4().hex[:8]
    prefix = f"pfx-{u}-"
    inside, secret, outside = prefix + "a", prefix + "secret-1", f"pfx-{u}"
    for t in (inside, secret, outside):
        create_topic(acl, t)
    grant(acl, topic_acl("alice", prefix, AclOperation.WRITE,
                         pattern=ResourcePatternType.PREFIXED),
          topic_acl("alice", prefix + "secret", AclOperation.WRITE, allow=False,
                    pattern=ResourcePatternType.PREFIXED))
    with Wire(acl, "alice") as wire:
        assert [wire.produce_raw(t, [b"x"]).error_code for t in (inside, secret, outside)] == \
            [NONE, TOPIC_AUTHORIZATION_FAILED, TOPIC_AUTHORIZATION_FAILED]
    assert deliver(acl, "alice", inside, [b"y"]) == [(NONE, 1)]
    assert [end_offset(acl, t) for t in (inside, secret, outside)] == [2, 0, 0]


def test_the_super_user_needs_no_acls(acl):
    """super.users: admin may do everything, even against DENY ACLs (§2.1)."""
    t = unique_topic("super")
    g = unique_topic("g-super")
    grant(acl, binding("User:admin", ResourceType.TOPIC, t, AclOperation.ALL, allow=False),
          binding("User:*", ResourceType.TOPIC, t, AclOperation.ALL, allow=False),
          binding("User:admin", ResourceType.GROUP, g, AclOperation.ALL, allow=False))
    admin = admin_of(acl)
    create_topic(acl, t, records=2)
    assert deliver(acl, "admin", t, [b"a"]) == [(NONE, 2)]
    assert consume(acl, "admin", t, 3, group=g, subscribe=True) == ([b"r0", b"r1", b"a"], [])
    r = ConfigResource(ResourceType.TOPIC, t, incremental_configs=[
        ConfigEntry("retention.ms", "54321", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([r])[r].result(10)
    assert topic_config(acl, t, "retention.ms") == "54321"
    admin.create_partitions([NewPartitions(t, 2)])[t].result(10)
    tp = TopicPartition(t, 0, 1)
    assert admin.delete_records([tp])[tp].result(10).low_watermark == 1
    admin.delete_consumer_groups([g])[g].result(10)
    admin.delete_topics([t], operation_timeout=10)[t].result(10)
    wait_until(lambda: t not in topics(acl), timeout=10, what=f"{t} deleted")


def test_allow_everyone_if_no_acl_found_applies_to_resources_without_any_acl():
    """allow.everyone.if.no.acl.found=true: a resource no ACL matches is
    open to everyone; once any ACL matches the resource (even another
    principal's, another operation's), what it does not allow is denied
    (§2.2, §2.3)."""
    b = sasl_broker("acls-open", **{"allow.everyone.if.no.acl.found": "true"})
    try:
        open_, bobs = create_topic(b, records=1), create_topic(b, records=1)
        grant(b, topic_acl("bob", bobs, AclOperation.READ))
        with Wire(b, "alice") as wire:
            assert wire.produce_raw(open_, [b"a"]).error_code == NONE
            got = wire.fetch_raw([(open_, 0, 0), (bobs, 0, 0)])
            assert {k: v.error_code for k, v in got.items()} == \
                {(open_, 0): NONE, (bobs, 0): TOPIC_AUTHORIZATION_FAILED}
            assert wire.produce_raw(bobs, [b"a"]).error_code == TOPIC_AUTHORIZATION_FAILED
            # the cluster has no ACL: open too
            assert wire.describe_log_dirs()[0] == NONE
        assert (end_offset(b, open_), end_offset(b, bobs)) == (2, 1)
        assert consume(b, "bob", bobs, 1) == ([b"r0"], [])
    finally:
        forget_admins(b)
        b.cleanup()


def test_acls_for_another_host_do_not_apply(acl):
    """Host matching is exact on the client's IP: an ACL for 10.9.9.9
    neither allows nor denies 127.0.0.1 (§2.6)."""
    t = create_topic(acl, records=1)
    grant(acl, topic_acl("alice", t, AclOperation.READ, host="10.9.9.9"))
    with Wire(acl, "alice") as wire:
        assert wire.fetch_raw([(t, 0, 0)])[(t, 0)].error_code == TOPIC_AUTHORIZATION_FAILED
        assert wire.metadata_v4([t], allow_auto_create=False) == \
            {t: (TOPIC_AUTHORIZATION_FAILED, 0)}
    grant(acl, topic_acl("alice", t, AclOperation.READ, host="127.0.0.1"),
          topic_acl("alice", t, AclOperation.ALL, allow=False, host="10.9.9.9"))
    with Wire(acl, "alice") as wire:
        assert wire.fetch_raw([(t, 0, 0)])[(t, 0)].error_code == NONE
    assert consume(acl, "alice", t, 1) == ([b"r0"], [])


def test_anonymous_is_a_principal_like_any_other(acl):
    """User:ANONYMOUS on the PLAINTEXT listener gets nothing but what ACLs
    give it (§2.9)."""
    t = create_topic(acl, records=1)
    with Wire(acl, None) as wire:
        assert t not in wire.metadata_v4(None, allow_auto_create=False)
        assert wire.metadata_v4([t], allow_auto_create=False) == \
            {t: (TOPIC_AUTHORIZATION_FAILED, 0)}
    grant(acl, binding("User:ANONYMOUS", ResourceType.TOPIC, t, AclOperation.READ))
    with Wire(acl, None) as wire:
        assert wire.metadata_v4(None, allow_auto_create=False).get(t) == (NONE, 1)
        got = wire.fetch_raw([(t, 0, 0)])[(t, 0)]
        assert (got.error_code, len(w.batch_offsets(got.records))) == (NONE, 1)


def test_a_forged_follower_fetch_is_refused(acl):
    """A Fetch with replica_id >= 0 needs CLUSTER_ACTION: alice (who may READ
    the topic) gets TOPIC_AUTHORIZATION_FAILED on every partition, no
    records, and the high watermark does not move (§1 Fetch, Follower)."""
    t = create_topic(acl, partitions=2, records=3)
    other, ghost = create_topic(acl, records=1), unique_topic("ghost")
    grant(acl, topic_acl("alice", t, AclOperation.READ))
    with Wire(acl, "alice") as wire:
        got = wire.fetch_raw([(t, 0, 0)])[(t, 0)]
        assert (got.error_code, got.high_watermark) == (NONE, 3)
        for replica_id in (BROKER_ID, 2):
            for fetch_offset in (3, 1000):
                got = wire.fetch_raw([(t, 0, fetch_offset), (t, 1, 0), (other, 0, 0),
                                      (ghost, 0, 0)], replica_id=replica_id)
                assert {k: (v.error_code, v.records) for k, v in got.items()} == {
                    (t, 0): (TOPIC_AUTHORIZATION_FAILED, b""),
                    (t, 1): (TOPIC_AUTHORIZATION_FAILED, b""),
                    (other, 0): (TOPIC_AUTHORIZATION_FAILED, b""),
                    (ghost, 0): (TOPIC_AUTHORIZATION_FAILED, b"")}, (replica_id, fetch_offset)
        assert wire.list_offsets_raw(t) == (NONE, -1, 3)
    assert end_offset(acl, t) == 3
    assert offset_of(acl, t, OffsetSpec.latest(), committed=True) == 3
    assert consume(acl, "alice", t, 3) == ([b"r0", b"r1", b"r2"], [])


@pytest.fixture
def pair():
    """Two brokers with the module's security settings: node 1 (broker and
    the only controller) and node 2 (broker). They fetch from each other
    over PLAINTEXT, as User:ANONYMOUS, here a super user (as Kafka's
    inter-broker principal would be). A frozen follower stays in the ISR."""
    controller = free_port()
    brokers = []
    for node in (1, 2):
        plain, sasl = free_port(), free_port()
        listeners = f"PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl}"
        b = Broker(name=f"acl-node-{node}", port=plain, overrides={
            "node.id": node,
            "process.roles": "broker,controller" if node == 1 else "broker",
            "listeners": listeners + (f",CONTROLLER://127.0.0.1:{controller}"
                                      if node == 1 else ""),
            "advertised.listeners": listeners,
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "controller.quorum.voters": f"1@127.0.0.1:{controller}",
            "sasl.enabled.mechanisms": "PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
            "authorizer.class.name": AUTHORIZER,
            "super.users": "User:admin;User:ANONYMOUS",
            "broker.session.timeout.ms": "30000",
            "replica.lag.time.max.ms": "60000",
            "broker.heartbeat.interval.ms": "500",
        })
        b.sasl_port, b.sasl_bootstrap = sasl, f"127.0.0.1:{sasl}"
        brokers.append(b)
    try:
        for b in brokers:
            b.start_async()
        for b in brokers:
            b.wait_ready()
        wait_until(lambda: len(admin_of(brokers[0]).describe_cluster().result(10).nodes) == 2,
                   timeout=30, what="both brokers registered")
        yield brokers
    finally:
        for b in brokers:
            b.thaw()
            forget_admins(b)
            b.cleanup()


def test_a_forged_follower_fetch_does_not_move_the_high_watermark(pair):
    """The follower is frozen: the leader's high watermark stays at 0 while
    acks=1 records arrive. alice (who may READ the topic) fetches as the
    follower at the log end offset: TOPIC_AUTHORIZATION_FAILED, and the high
    watermark stays at 0 (§1 Fetch, Follower). bob, granted CLUSTER_ACTION,
    sends the same fetch: a follower's, it moves the high watermark (the
    control: the forged fetch would have moved it)."""
    t = unique_topic("hw")
    admin = admin_of(pair[0])
    admin.create_topics([NewTopic(t, num_partitions=1, replica_assignment=[[1, 2]])])[t] \
        .result(15)

    def partition():
        return admin.list_topics(t, timeout=10).topics[t].partitions[0]

    wait_until(lambda: sorted(partition().isrs) == [1, 2] and partition().leader in (1, 2),
               timeout=20, what="both replicas in the ISR")
    leader_id = partition().leader
    leader, follower = pair[leader_id - 1], pair[2 - leader_id]
    follower_id = 3 - leader_id
    # Every ACL before the freeze (an admin client might ask the frozen node).
    grant(pair[0], topic_acl("alice", t, AclOperation.READ),
          cluster_acl("bob", AclOperation.CLUSTER_ACTION))

    def high_watermark() -> int:
        with Wire(leader, "admin") as wire:
            error, _, offset = wire.list_offsets_raw(t)
        assert error == NONE
        return offset

    follower.freeze()
    with Wire(leader, "admin") as wire:
        result = wire.produce_raw(t, [b"hw0", b"hw1", b"hw2"], acks=1)
        assert (result.error_code, result.base_offset) == (NONE, 0)
    assert high_watermark() == 0, "the frozen follower holds the high watermark"
    with Wire(leader, "alice") as wire:
        for fetch_offset in (3, 2, 3):
            got = wire.fetch_raw([(t, 0, fetch_offset)], replica_id=follower_id)[(t, 0)]
            assert (got.error_code, got.records) == (TOPIC_AUTHORIZATION_FAILED, b"")
        time.sleep(0.5)
        # as a consumer alice still sees nothing above the high watermark
        got = wire.fetch_raw([(t, 0, 0)])[(t, 0)]
        assert (got.error_code, got.high_watermark, got.records) == (NONE, 0, b"")
    assert high_watermark() == 0, "a forged follower fetch moved the high watermark"

    with Wire(leader, "bob") as wire:
        got = wire.fetch_raw([(t, 0, 3)], replica_id=follower_id)[(t, 0)]
        assert got.error_code == NONE
    wait_until(lambda: high_watermark() == 3, timeout=10,
               what="the high watermark moved by an authorized follower fetch")


def test_forged_transaction_markers_are_refused(acl):
    """WriteTxnMarkers needs ALTER or CLUSTER_ACTION on the cluster: alice
    gets CLUSTER_AUTHORIZATION_FAILED for every partition and no marker is
    written: the transaction stays open (§1 WriteTxnMarkers)."""
    t = create_topic(acl, partitions=2)
    txn = unique_topic("txn-open")
    p = Producer(cf(acl, "admin", **{"transactional.id": txn}))
    p.init_transactions(15)
    p.begin_transaction()
    p.produce(t, value=b"open-0", partition=0)
    p.produce(t, value=b"open-1", partition=1)
    assert p.flush(15) == 0
    try:
        with Wire(acl, "admin") as wire:
            state = wire.describe_transactions([txn])[txn]
        assert (state.error_code, state.state) == (NONE, "Ongoing")
        grant(acl, topic_acl("alice", t, AclOperation.ALL))
        with Wire(acl, "alice") as wire:
            for commit in (True, False):
                assert wire.write_txn_markers(state.producer_id, state.producer_epoch, commit,
                                              {t: [0, 1]}) == \
                    {(t, 0): CLUSTER_AUTHORIZATION_FAILED, (t, 1): CLUSTER_AUTHORIZATION_FAILED}
        with Wire(acl, "admin") as wire:
            after = wire.describe_transactions([txn])[txn]
            assert (after.state, after.producer_epoch) == ("Ongoing", state.producer_epoch)
            for partition in (0, 1):
                got = wire.fetch(t, partition, 0, isolation=1)
                assert (got.error_code, got.high_watermark, got.last_stable_offset,
                        got.records) == (NONE, 1, 0, b""), partition
        assert offset_of(acl, t, OffsetSpec.latest(), committed=True) == 0
        # a read_committed consumer (librdkafka's default) sees nothing yet
        assert consume(acl, "alice", t, 1, timeout=3) == ([], [])
    finally:
        p.abort_transaction(15)


def test_authorized_operations(acl):
    """include_authorized_operations: a topic's bitfield (alice, ALLOW READ:
    READ and DESCRIBE); the cluster's (DESCRIBE CLUSTER denied: 0, i.e.
    none) (§1 Metadata 6, §4)."""
    t, hidden = create_topic(acl), create_topic(acl)
    grant(acl, topic_acl("alice", t, AclOperation.READ))
    alice, admin = admin_of(acl, "alice"), admin_of(acl)
    A = AclOperation
    got = alice.describe_topics(TopicCollection([t]),
                                include_authorized_operations=True)[t].result(10)
    assert set(got.authorized_operations) == {A.READ, A.DESCRIBE}
    assert error_code(alice.describe_topics(TopicCollection([hidden]),
                                            include_authorized_operations=True)[hidden]) == \
        TOPIC_AUTHORIZATION_FAILED
    got = admin.describe_topics(TopicCollection([t]),
                                include_authorized_operations=True)[t].result(10)
    assert set(got.authorized_operations) == {
        A.READ, A.WRITE, A.CREATE, A.DELETE, A.ALTER, A.DESCRIBE, A.DESCRIBE_CONFIGS,
        A.ALTER_CONFIGS}

    # librdkafka shows 0 (no operation) like INT32_MIN (not asked): None.
    assert not alice.describe_cluster(include_authorized_operations=True).result(10) \
        .authorized_operations
    with Wire(acl, "alice") as wire:
        assert wire.cluster_authorized_operations() == 0
        assert wire.cluster_authorized_operations(include=False) == INT32_MIN
    all_cluster = {A.CREATE, A.ALTER, A.DESCRIBE, A.CLUSTER_ACTION, A.DESCRIBE_CONFIGS,
                   A.ALTER_CONFIGS, A.IDEMPOTENT_WRITE}
    assert set(admin.describe_cluster(include_authorized_operations=True).result(10)
               .authorized_operations) == all_cluster
    olga = admin_of(acl, "olga")
    grant(acl, cluster_acl("olga", A.CREATE))
    with Wire(acl, "olga") as wire:
        assert wire.cluster_authorized_operations() == 0    # DESCRIBE CLUSTER comes first
    grant(acl, cluster_acl("olga", A.ALTER))
    assert set(olga.describe_cluster(include_authorized_operations=True).result(10)
               .authorized_operations) == {A.CREATE, A.ALTER, A.DESCRIBE}


# =============================================================================
# 4. Kafka's Java client
# =============================================================================

def test_java_producer_needs_write(acl, command_config):
    """The Java producer as alice: refused with TopicAuthorizationException
    without WRITE (idempotence off, so the refusal is Produce's own; alice
    may DESCRIBE the topic); AclCommand adds WRITE; the same produce then
    succeeds, idempotent or not."""
    t = create_topic(acl)
    tool = "org.apache.kafka.tools.AclCommand"
    base = ["--bootstrap-server", acl.sasl_bootstrap, "--command-config", command_config("admin")]
    java_client.run_tool(tool, *base, "--add", "--allow-principal", "User:alice",
                         "--operation", "Describe", "--topic", t)
    config = {**java_config(acl, "alice"), "enable.idempotence": "false",
              "max.block.ms": "15000", "request.timeout.ms": "10000",
              "delivery.timeout.ms": "15000"}
    assert java_client.run(config, "try-produce", t, "j0") == \
        ["error TopicAuthorizationException"]
    assert end_offset(acl, t) == 0
    java_client.run_tool(tool, *base, "--add", "--allow-principal", "User:alice",
                         "--operation", "Write", "--topic", t)
    assert java_client.run(config, "try-produce", t, "j0", "j1") == ["offset 0", "offset 1"]
    del config["enable.idempotence"]
    assert java_client.run(config, "try-produce", t, "j2") == ["offset 2"]
    assert end_offset(acl, t) == 3
