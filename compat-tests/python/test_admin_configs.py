"""Topic administration APIs against gregor, with both Python admin clients.

Covers DescribeConfigs (topic and broker resources, sources, synonyms, config
types, documentation), AlterConfigs (replace-all semantics),
IncrementalAlterConfigs (SET / DELETE / APPEND / SUBTRACT), validate_only,
error codes, configs taking effect without a restart (max.message.bytes,
retention.bytes, retention.ms), persistence across SIGTERM and SIGKILL
restarts, CreatePartitions, DeleteRecords and DescribeLogDirs.

Clients: confluent-kafka's AdminClient (librdkafka) and kafka-python's
KafkaAdminClient. A few checks need what neither client can send (a key
filter from confluent-kafka, which always asks for every key;
include_documentation, which neither sets) and use a raw DescribeConfigs.

Expectations are Kafka's (KRaft, 3.x/4.x). Where Kafka's own answer is a quirk
rather than a contract, the comment next to the assertion says so and the
assertion is limited to what Kafka guarantees.
"""

from __future__ import annotations

import os
import time
import weakref

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewPartitions, NewTopic, OffsetSpec, ResourceType)
import kafka
import kafka.errors as kerr
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import AlterConfigOp
from kafka.admin import ConfigResource as KConfigResource
from kafka.admin import ConfigResourceType

import kafka_wire as kw
from conftest import Broker, BrokerError, wait_until

# Kafka error codes
OFFSET_OUT_OF_RANGE = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
MESSAGE_TOO_LARGE = 10
INVALID_PARTITIONS = 37
INVALID_REPLICA_ASSIGNMENT = 39
INVALID_CONFIG = 40
INVALID_REQUEST = 42

# ConfigSource codes
DYNAMIC_TOPIC_CONFIG = 1
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5

# ConfigType codes (DescribeConfigs v3+)
BOOLEAN, STRING, INT, LONG, DOUBLE, LIST = 1, 2, 3, 5, 6, 7

LONG_MAX = "9223372036854775807"

# Every topic config Kafka documents, with its ConfigDef type.
TOPIC_CONFIG_TYPES = {
    "cleanup.policy": LIST,
    "compression.type": STRING,
    "compression.gzip.level": INT,
    "compression.lz4.level": INT,
    "compression.zstd.level": INT,
    "delete.retention.ms": LONG,
    "file.delete.delay.ms": LONG,
    "flush.messages": LONG,
    "flush.ms": LONG,
    "follower.replication.throttled.replicas": LIST,
    "index.interval.bytes": INT,
    "leader.replication.throttled.replicas": LIST,
    "local.retention.bytes": LONG,
    "local.retention.ms": LONG,
    "max.compaction.lag.ms": LONG,
    "max.message.bytes": INT,
    "message.timestamp.after.max.ms": LONG,
    "message.timestamp.before.max.ms": LONG,
    "message.timestamp.type": STRING,
    "min.cleanable.dirty.ratio": DOUBLE,
    "min.compaction.lag.ms": LONG,
    "min.insync.replicas": INT,
    "preallocate": BOOLEAN,
    "remote.storage.enable": BOOLEAN,
    "retention.bytes": LONG,
    "retention.ms": LONG,
    "segment.bytes": INT,
    "segment.index.bytes": INT,
    "segment.jitter.ms": LONG,
    "segment.ms": LONG,
    "unclean.leader.election.enable": BOOLEAN,
}
TOPIC_CONFIG_NAMES = set(TOPIC_CONFIG_TYPES)
assert len(TOPIC_CONFIG_NAMES) == 31
# Later Kafka versions document these too; a broker may report them.
LATER_TOPIC_CONFIGS = {"remote.log.copy.disable", "remote.log.delete.on.disable"}

# Kafka's defaults for a broker started without settings.
KAFKA_TOPIC_DEFAULTS = {
    "cleanup.policy": "delete",
    "compression.type": "producer",
    "compression.gzip.level": "-1",
    "compression.lz4.level": "9",
    "compression.zstd.level": "3",
    "delete.retention.ms": "86400000",
    "file.delete.delay.ms": "60000",
    "flush.messages": LONG_MAX,
    "flush.ms": LONG_MAX,
    "follower.replication.throttled.replicas": "",
    "index.interval.bytes": "4096",
    "leader.replication.throttled.replicas": "",
    "local.retention.bytes": "-2",
    "local.retention.ms": "-2",
    "max.compaction.lag.ms": LONG_MAX,
    "max.message.bytes": "1048588",
    "message.timestamp.before.max.ms": LONG_MAX,
    "message.timestamp.type": "CreateTime",
    "min.cleanable.dirty.ratio": "0.5",
    "min.compaction.lag.ms": "0",
    "min.insync.replicas": "1",
    "preallocate": "false",
    "remote.storage.enable": "false",
    "retention.bytes": "-1",
    "retention.ms": "604800000",
    "segment.bytes": "1073741824",
    "segment.index.bytes": "10485760",
    "segment.jitter.ms": "0",
    "segment.ms": "604800000",
    "unclean.leader.election.enable": "false",
}
# Long.MAX_VALUE up to Kafka 3.9; one hour since 4.0 (KIP-1030).
TIMESTAMP_AFTER_MAX_DEFAULTS = {LONG_MAX, "3600000"}

# With synonyms, a topic config left at its default reports the broker
# setting that supplies the default, as DEFAULT_CONFIG (Kafka's
# ConfigHelper.configSynonyms over staticDefaultConfigs).
KAFKA_DEFAULT_SYNONYMS = {
    "cleanup.policy": ("log.cleanup.policy", "delete"),
    "compression.type": ("compression.type", "producer"),
    "delete.retention.ms": ("log.cleaner.delete.retention.ms", "86400000"),
    "file.delete.delay.ms": ("log.segment.delete.delay.ms", "60000"),
    "flush.messages": ("log.flush.interval.messages", LONG_MAX),
    "index.interval.bytes": ("log.index.interval.bytes", "4096"),
    "max.message.bytes": ("message.max.bytes", "1048588"),
    "message.timestamp.type": ("log.message.timestamp.type", "CreateTime"),
    "min.cleanable.dirty.ratio": ("log.cleaner.min.cleanable.ratio", "0.5"),
    "min.insync.replicas": ("min.insync.replicas", "1"),
    "preallocate": ("log.preallocate", "false"),
    "retention.bytes": ("log.retention.bytes", "-1"),
    "segment.bytes": ("log.segment.bytes", "1073741824"),
    "segment.index.bytes": ("log.index.size.max.bytes", "10485760"),
    "unclean.leader.election.enable": ("unclean.leader.election.enable", "false"),
}
# Topic configs with no broker-level setting: no synonyms at all.
NO_BROKER_SYNONYM = ["follower.replication.throttled.replicas", "leader.replication.throttled.replicas"]


# ---------------------------------------------------------------------------
# client helpers
# ---------------------------------------------------------------------------

_CF_ADMINS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def cf_admin(b) -> AdminClient:
    """One AdminClient per broker, kept alive with it (an AdminClient that is
    garbage-collected fails its pending futures with _DESTROY)."""
    a = _CF_ADMINS.get(b)
    if a is None:
        a = _CF_ADMINS[b] = AdminClient({"bootstrap.servers": b.bootstrap})
    return a


@pytest.fixture
def kp_admin_factory():
    made = []

    def make(b) -> KafkaAdminClient:
        a = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=15000)
        made.append(a)
        return a

    yield make
    for a in made:
        try:
            a.close()
        except Exception:
            pass


def cf_result(future, timeout=15):
    """The future's result, or ('ERR', code, message) for a KafkaException."""
    try:
        return future.result(timeout)
    except KafkaException as e:
        err = e.args[0]
        return ("ERR", err.code(), err.str())


def cf_only(futures: dict, timeout=15):
    assert len(futures) == 1, futures
    return cf_result(next(iter(futures.values())), timeout)


def create_topic(b, name, partitions=1, config=None):
    fs = cf_admin(b).create_topics([NewTopic(name, partitions, 1, config=config or {})],
                                   operation_timeout=15)
    fs[name].result(15)


def cf_describe(b, topic) -> dict:
    """confluent-kafka describe_configs of a topic: {name: ConfigEntry}."""
    return cf_only(cf_admin(b).describe_configs([ConfigResource(ResourceType.TOPIC, topic)]))


def cf_values(entries: dict) -> dict:
    return {k: (e.value, int(e.source)) for k, e in entries.items()}


def kp_describe(admin: KafkaAdminClient, topic, keys=None, synonyms=False, config_filter="all") -> dict:
    out = admin.describe_configs([KConfigResource(ConfigResourceType.TOPIC, topic, keys)],
                                 include_synonyms=synonyms, config_filter=config_filter)
    return out["topic"][topic]


def kp_synonyms(entry: dict) -> list[tuple]:
    return [(s["name"], s["value"], s["source"]) for s in entry["synonyms"]]


def cf_incremental(b, topic, *ops, validate_only=False, restype=ResourceType.TOPIC):
    """ops: (name, AlterConfigOpType, value)."""
    entries = [ConfigEntry(n, v, incremental_operation=op) for n, op, v in ops]
    res = ConfigResource(restype, topic, incremental_configs=entries)
    return cf_only(cf_admin(b).incremental_alter_configs([res], validate_only=validate_only))


def cf_alter(b, topic, configs: dict, validate_only=False, restype=ResourceType.TOPIC):
    res = ConfigResource(restype, topic, set_config=configs)
    return cf_only(cf_admin(b).alter_configs([res], validate_only=validate_only))


def assert_err(res, code, what=""):
    assert isinstance(res, tuple) and res[0] == "ERR", f"{what}: expected error {code}, got {res!r}"
    assert res[1] == code, f"{what}: expected error {code}, got {res!r}"
    assert res[2], f"{what}: error {code} without a message"


def overrides(b, topic) -> dict:
    """The topic's overrides (source 1), from confluent-kafka."""
    return {k: e.value for k, e in cf_describe(b, topic).items()
            if int(e.source) == DYNAMIC_TOPIC_CONFIG}


def partition_count(b, topic) -> int:
    md = cf_admin(b).list_topics(topic, timeout=10)
    t = md.topics[topic]
    assert t.error is None, t.error
    return len(t.partitions)


def make_producer(b, **conf) -> Producer:
    c = {"bootstrap.servers": b.bootstrap, "enable.idempotence": False, "acks": "all",
         "linger.ms": 0, "message.timeout.ms": 20000}
    c.update(conf)
    return Producer(c)


def produce(b, topic, values, partition=0) -> list:
    """Produce each value as its own batch (keyed, so compacted topics take
    them too); returns [(error_code|None, offset)]."""
    p = make_producer(b)
    out = []

    def cb(err, msg):
        out.append((err.code() if err else None, msg.offset()))

    for v in values:
        p.produce(topic, key=b"k", value=v, partition=partition, on_delivery=cb)
        p.flush(20)
    assert p.flush(20) == 0
    assert len(out) == len(values), out
    return out


def produce_ok(b, topic, values, partition=0) -> list[int]:
    res = produce(b, topic, values, partition)
    assert all(e is None for e, _ in res), res
    return [o for _, o in res]


def cf_offsets(b, topic, partition=0) -> tuple[int, int]:
    a = cf_admin(b)
    tp = TopicPartition(topic, partition)
    earliest = a.list_offsets({tp: OffsetSpec.earliest()}, request_timeout=10)[tp].result(10).offset
    latest = a.list_offsets({tp: OffsetSpec.latest()}, request_timeout=10)[tp].result(10).offset
    return earliest, latest


def cf_consume(b, topic, partition, start, n, timeout=15.0, **conf):
    """Messages (offset, value) from `start`, stopping at n or at partition EOF."""
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "admin-configs",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": True, **conf})
    try:
        c.assign([TopicPartition(topic, partition, start)])
        out, errors = [], []
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    break
                errors.append(m.error())
                break
            out.append((m.offset(), m.value()))
        return out, errors
    finally:
        c.close()


def kp_consumer(b, **conf) -> KafkaConsumer:
    c = dict(bootstrap_servers=b.bootstrap, group_id=None, enable_auto_commit=False,
             auto_offset_reset="earliest", fetch_max_wait_ms=200, request_timeout_ms=15000)
    c.update(conf)
    return KafkaConsumer(**c)


def kp_consume(b, topic, partition, start, n, timeout=15.0, **conf):
    c = kp_consumer(b, **conf)
    try:
        tp = kafka.TopicPartition(topic, partition)
        c.assign([tp])
        c.seek(tp, start)
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=200, max_records=n - len(out)).values():
                out.extend((r.offset, r.value) for r in recs)
        return out
    finally:
        c.close()


# ---------------------------------------------------------------------------
# raw DescribeConfigs (v1..v4), for what the clients cannot ask
# ---------------------------------------------------------------------------

def describe_configs_raw(b, version, resources, include_synonyms=False, include_documentation=False):
    """resources: [(resource_type, name, keys|None)]. Returns
    [{error_code, error_message, resource_type, resource_name, configs: [...]}]."""
    flexible = version >= 4

    def arr(items):
        return kw.uvarint(len(items) + 1) if flexible else kw.i32(len(items))

    def s(v):
        return kw.compact_string(v) if flexible else kw.string(v)

    body = arr(resources)
    for rtype, name, keys in resources:
        body += kw.i8(rtype) + s(name)
        if keys is None:
            body += kw.uvarint(0) if flexible else kw.i32(-1)
        else:
            body += arr(keys) + b"".join(s(k) for k in keys)
        if flexible:
            body += kw.TAGS_NONE
    body += kw.i8(1 if include_synonyms else 0)
    if version >= 3:
        body += kw.i8(1 if include_documentation else 0)
    if flexible:
        body += kw.TAGS_NONE
    corr = 7
    sock = kw.connect(b.host, b.port)
    try:
        sock.sendall(kw.frame(kw.request_header(32, version, corr, flexible=flexible) + body))
        r = kw.Reader(kw.recv_frame(sock))
    finally:
        sock.close()
    assert r.i32() == corr
    if flexible:
        r.skip_tags()
    rs = r.compact_string if flexible else r.string
    r.i32()  # throttle
    results = []
    for _ in range(r.array_len(flexible)):
        res = {"error_code": r.i16(), "error_message": rs(), "resource_type": r.i8(),
               "resource_name": rs(), "configs": []}
        for _ in range(r.array_len(flexible)):
            c = {"name": rs(), "value": rs(), "read_only": bool(r.i8()),
                 "source": r.i8(), "sensitive": bool(r.i8()), "synonyms": []}
            for _ in range(r.array_len(flexible)):
                c["synonyms"].append((rs(), rs(), r.i8()))
                if flexible:
                    r.skip_tags()
            if version >= 3:
                c["config_type"] = r.i8()
                c["documentation"] = rs()
            if flexible:
                r.skip_tags()
            res["configs"].append(c)
        if flexible:
            r.skip_tags()
        results.append(res)
    if flexible:
        r.skip_tags()
    assert r.remaining == 0, f"{r.remaining} trailing bytes in DescribeConfigs v{version} response"
    return results


# ===========================================================================
# DescribeConfigs
# ===========================================================================

def test_describe_defaults_confluent(broker, topic):
    create_topic(broker, topic)
    entries = cf_describe(broker, topic)
    names = set(entries)
    assert TOPIC_CONFIG_NAMES <= names, f"missing: {sorted(TOPIC_CONFIG_NAMES - names)}"
    assert names <= TOPIC_CONFIG_NAMES | LATER_TOPIC_CONFIGS, \
        f"not topic configs: {sorted(names - TOPIC_CONFIG_NAMES - LATER_TOPIC_CONFIGS)}"
    for name, e in entries.items():
        assert int(e.source) == DEFAULT_CONFIG, (name, e.source)
        assert e.is_default, name
        assert not e.is_read_only, name
        assert not e.is_sensitive, name
    got = {k: entries[k].value for k in KAFKA_TOPIC_DEFAULTS}
    # librdkafka reports an empty value as None or ""
    for k in NO_BROKER_SYNONYM:
        got[k] = got[k] or ""
    assert got == KAFKA_TOPIC_DEFAULTS
    assert entries["message.timestamp.after.max.ms"].value in TIMESTAMP_AFTER_MAX_DEFAULTS


def test_describe_defaults_kafka_python_with_synonyms(broker, topic, kp_admin_factory):
    create_topic(broker, topic)
    admin = kp_admin_factory(broker)
    # the default filter ('modified') hides defaults: nothing is modified yet
    assert kp_describe(admin, topic, config_filter="modified") == {}
    entries = kp_describe(admin, topic, synonyms=True)
    assert TOPIC_CONFIG_NAMES <= set(entries)
    for name, e in entries.items():
        assert e["config_source"] == "DEFAULT_CONFIG", (name, e)
        assert e["read_only"] is False and e["is_sensitive"] is False, (name, e)
    for name, value in KAFKA_TOPIC_DEFAULTS.items():
        assert entries[name]["value"] == value, name
    for name, (syn, value) in KAFKA_DEFAULT_SYNONYMS.items():
        assert kp_synonyms(entries[name]) == [(syn, value, "DEFAULT_CONFIG")], name
    # kafka-python asks for the newest version, which carries the config type
    for name, ctype in TOPIC_CONFIG_TYPES.items():
        assert entries[name]["config_type"] == {BOOLEAN: "BOOLEAN", STRING: "STRING", INT: "INT",
                                                LONG: "LONG", DOUBLE: "DOUBLE",
                                                LIST: "LIST"}[ctype], name
    # configs with no broker-level setting have no synonyms (Kafka's
    # LogConfig.TopicConfigSynonyms has no entry for them)
    for name in NO_BROKER_SYNONYM:
        assert kp_synonyms(entries[name]) == [], name


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_describe_raw_versions_types_and_documentation(broker, topic, version):
    create_topic(broker, topic, config={"retention.ms": "3600000"})
    [res] = describe_configs_raw(broker, version, [(2, topic, None)], include_synonyms=True,
                                 include_documentation=True)
    assert (res["error_code"], res["resource_type"], res["resource_name"]) == (0, 2, topic)
    by_name = {c["name"]: c for c in res["configs"]}
    assert TOPIC_CONFIG_NAMES <= set(by_name)
    ret = by_name["retention.ms"]
    assert (ret["value"], ret["source"], ret["read_only"], ret["sensitive"]) == \
        ("3600000", DYNAMIC_TOPIC_CONFIG, False, False)
    assert ret["synonyms"][0] == ("retention.ms", "3600000", DYNAMIC_TOPIC_CONFIG)
    assert by_name["max.message.bytes"]["synonyms"] == [("message.max.bytes", "1048588", DEFAULT_CONFIG)]
    if version >= 3:
        for name, ctype in TOPIC_CONFIG_TYPES.items():
            assert by_name[name]["config_type"] == ctype, name
            doc = by_name[name]["documentation"]
            assert isinstance(doc, str) and doc.strip(), f"{name}: documentation {doc!r}"
        [res2] = describe_configs_raw(broker, version, [(2, topic, ["retention.ms"])])
        [c] = res2["configs"]
        assert c["config_type"] == LONG
        # without include_synonyms, no synonyms
        assert c["synonyms"] == []
        # without include_documentation Kafka sends a null documentation
        # (ConfigHelper: "if (includeDocumentation) ... else null")
        assert c["documentation"] is None, c


def test_topic_created_with_configs_reports_source_1(broker, topic, kp_admin_factory):
    cfg = {"cleanup.policy": "compact", "retention.ms": "3600000", "max.message.bytes": "2000"}
    create_topic(broker, topic, config=cfg)

    entries = cf_describe(broker, topic)
    for name, value in cfg.items():
        e = entries[name]
        assert (e.value, int(e.source), e.is_default) == (value, DYNAMIC_TOPIC_CONFIG, False), name
    others = {k: (e.value, int(e.source)) for k, e in entries.items() if k not in cfg}
    assert all(src == DEFAULT_CONFIG for _, src in others.values()), others
    assert others["segment.bytes"] == ("1073741824", DEFAULT_CONFIG)

    admin = kp_admin_factory(broker)
    modified = kp_describe(admin, topic, config_filter="modified")
    assert {k: (v["value"], v["config_source"]) for k, v in modified.items()} == \
        {k: (v, "DYNAMIC_TOPIC_CONFIG") for k, v in cfg.items()}
    entries = kp_describe(admin, topic, synonyms=True)
    assert kp_synonyms(entries["max.message.bytes"]) == [
        ("max.message.bytes", "2000", "DYNAMIC_TOPIC_CONFIG"),
        ("message.max.bytes", "1048588", "DEFAULT_CONFIG")]
    assert kp_synonyms(entries["cleanup.policy"]) == [
        ("cleanup.policy", "compact", "DYNAMIC_TOPIC_CONFIG"),
        ("log.cleanup.policy", "delete", "DEFAULT_CONFIG")]
    # the override comes first; what follows from the broker's retention
    # settings is not asserted (see test_static_broker_settings...)
    assert kp_synonyms(entries["retention.ms"])[0] == \
        ("retention.ms", "3600000", "DYNAMIC_TOPIC_CONFIG")


def test_describe_specific_keys(broker, topic, kp_admin_factory):
    create_topic(broker, topic, config={"cleanup.policy": "compact"})
    admin = kp_admin_factory(broker)
    got = kp_describe(admin, topic, keys=["retention.ms", "cleanup.policy"])
    assert {k: (v["value"], v["config_source"]) for k, v in got.items()} == {
        "retention.ms": ("604800000", "DEFAULT_CONFIG"),
        "cleanup.policy": ("compact", "DYNAMIC_TOPIC_CONFIG")}
    # unknown names are left out, not errors
    got = kp_describe(admin, topic, keys=["segment.bytes", "no.such.config"])
    assert list(got) == ["segment.bytes"]
    assert got["segment.bytes"]["value"] == "1073741824"

    # the same on the wire (confluent-kafka cannot send a key filter), v1 and v4
    for version in (1, 4):
        [res] = describe_configs_raw(broker, version, [(2, topic, ["min.insync.replicas", "flush.ms"])])
        assert res["error_code"] == 0
        assert sorted((c["name"], c["value"], c["source"]) for c in res["configs"]) == [
            ("flush.ms", LONG_MAX, DEFAULT_CONFIG), ("min.insync.replicas", "1", DEFAULT_CONFIG)]

    # an empty key list is read like a null one: every config (Kafka's
    # ConfigHelper.describeConfigs: "configurationKeys == null ||
    # configurationKeys.isEmpty" answers all of them)
    for version in (1, 4):
        [res] = describe_configs_raw(broker, version, [(2, topic, [])])
        assert TOPIC_CONFIG_NAMES <= {c["name"] for c in res["configs"]}, \
            f"DescribeConfigs v{version} with an empty key list answered {[c['name'] for c in res['configs']]}"
    assert TOPIC_CONFIG_NAMES <= set(kp_describe(admin, topic, keys=[]))


def test_describe_unknown_topic(broker, topic):
    res = cf_only(cf_admin(broker).describe_configs([ConfigResource(ResourceType.TOPIC, topic)]))
    assert_err(res, UNKNOWN_TOPIC_OR_PARTITION, "describe_configs of a missing topic")
    [raw] = describe_configs_raw(broker, 4, [(2, topic, None)])
    assert raw["error_code"] == UNKNOWN_TOPIC_OR_PARTITION
    assert raw["configs"] == []


STATIC_SETTINGS = {"log.segment.bytes": "4096", "message.max.bytes": "500000",
                   "log.retention.hours": "24", "log.cleanup.policy": "compact"}


@pytest.fixture(scope="module")
def static_broker():
    """A broker started with some log settings (they become topic defaults)."""
    b = Broker(name="static", overrides=STATIC_SETTINGS)
    try:
        b.start()
    except BrokerError as e:
        b.cleanup()
        pytest.fail(str(e), pytrace=False)
    yield b
    b.cleanup()


def test_static_broker_settings_are_topic_defaults(static_broker, make_topic, kp_admin_factory):
    """Settings given at start-up are the topic defaults, with source
    STATIC_BROKER_CONFIG and synonyms [static, Kafka default]."""
    b = static_broker
    t = make_topic()
    create_topic(b, t)
    entries = cf_describe(b, t)
    assert cf_values({k: entries[k] for k in ("segment.bytes", "max.message.bytes", "cleanup.policy",
                                               "retention.bytes")}) == {
        "segment.bytes": ("4096", STATIC_BROKER_CONFIG),
        "max.message.bytes": ("500000", STATIC_BROKER_CONFIG),
        "cleanup.policy": ("compact", STATIC_BROKER_CONFIG),
        "retention.bytes": ("-1", DEFAULT_CONFIG)}
    # log.retention.hours=24 is a retention.ms of one day
    assert entries["retention.ms"].value == "86400000"

    admin = kp_admin_factory(b)
    entries = kp_describe(admin, t, synonyms=True)
    assert kp_synonyms(entries["segment.bytes"]) == [
        ("log.segment.bytes", "4096", "STATIC_BROKER_CONFIG"),
        ("log.segment.bytes", "1073741824", "DEFAULT_CONFIG")]
    assert kp_synonyms(entries["max.message.bytes"]) == [
        ("message.max.bytes", "500000", "STATIC_BROKER_CONFIG"),
        ("message.max.bytes", "1048588", "DEFAULT_CONFIG")]
    assert kp_synonyms(entries["cleanup.policy"]) == [
        ("log.cleanup.policy", "compact", "STATIC_BROKER_CONFIG"),
        ("log.cleanup.policy", "delete", "DEFAULT_CONFIG")]
    # Kafka's own answer for retention.ms here is a quirk: its synonym list
    # drops everything before a "log.retention.ms" entry, so a broker given
    # only log.retention.hours reports source DEFAULT_CONFIG and no synonyms.
    # Only the value is a contract; if synonyms are given, the static one must
    # be the hours setting as given.
    ret = entries["retention.ms"]
    assert ret["value"] == "86400000"
    assert ret["config_source"] in ("STATIC_BROKER_CONFIG", "DEFAULT_CONFIG")
    static = [s for s in kp_synonyms(ret) if s[2] == "STATIC_BROKER_CONFIG"]
    assert static in ([], [("log.retention.hours", "24", "STATIC_BROKER_CONFIG")]), static

    # a topic override on top of a static setting: [topic, static, default]
    res = cf_incremental(b, t, ("max.message.bytes", AlterConfigOpType.SET, "7000"))
    assert res is None, res
    entries = kp_describe(admin, t, synonyms=True)
    assert (entries["max.message.bytes"]["value"], entries["max.message.bytes"]["config_source"]) == \
        ("7000", "DYNAMIC_TOPIC_CONFIG")
    assert kp_synonyms(entries["max.message.bytes"]) == [
        ("max.message.bytes", "7000", "DYNAMIC_TOPIC_CONFIG"),
        ("message.max.bytes", "500000", "STATIC_BROKER_CONFIG"),
        ("message.max.bytes", "1048588", "DEFAULT_CONFIG")]
    # deleting the override falls back to the static setting
    assert cf_incremental(b, t, ("max.message.bytes", AlterConfigOpType.DELETE, None)) is None
    e = cf_describe(b, t)["max.message.bytes"]
    assert (e.value, int(e.source)) == ("500000", STATIC_BROKER_CONFIG)


def test_static_log_retention_ms_synonyms(broker_factory, make_topic, kp_admin_factory):
    """A broker given log.retention.ms: retention.ms is static, and its
    synonyms are [the static setting, Kafka's default]. Kafka's default is
    log.retention.hours=168: log.retention.ms and .minutes have no default
    value, so Kafka never reports them as DEFAULT_CONFIG synonyms."""
    b = broker_factory(**{"log.retention.ms": "3600000"})
    t = make_topic()
    create_topic(b, t)
    ret = kp_describe(kp_admin_factory(b), t, keys=["retention.ms"], synonyms=True)["retention.ms"]
    assert (ret["value"], ret["config_source"]) == ("3600000", "STATIC_BROKER_CONFIG")
    assert kp_synonyms(ret) == [("log.retention.ms", "3600000", "STATIC_BROKER_CONFIG"),
                                ("log.retention.hours", "168", "DEFAULT_CONFIG")]


def test_describe_broker_resource(static_broker):
    """The broker resource: settings given at start-up are static, the rest
    default; node.id and log.dirs are read-only."""
    b = static_broker
    bentries = cf_only(cf_admin(b).describe_configs([ConfigResource(ResourceType.BROKER, "1")]))
    assert not isinstance(bentries, tuple), bentries
    for name, value, source in [("node.id", "1", STATIC_BROKER_CONFIG),
                                ("log.dirs", str(b.data_dir), STATIC_BROKER_CONFIG),
                                ("log.segment.bytes", "4096", STATIC_BROKER_CONFIG),
                                ("message.max.bytes", "500000", STATIC_BROKER_CONFIG),
                                ("log.cleanup.policy", "compact", STATIC_BROKER_CONFIG),
                                ("num.partitions", "1", DEFAULT_CONFIG),
                                ("log.retention.bytes", "-1", DEFAULT_CONFIG)]:
        assert name in bentries, f"broker config {name} not described"
        e = bentries[name]
        assert (e.value, int(e.source)) == (value, source), name
    for name in ("node.id", "log.dirs"):
        assert bentries[name].is_read_only, name
    # a setting given at start-up is reported under its own name
    assert "log.retention.hours" in bentries, \
        f"broker config log.retention.hours (given as 24) not described; got {sorted(bentries)}"
    e = bentries["log.retention.hours"]
    assert (e.value, int(e.source)) == ("24", STATIC_BROKER_CONFIG)


def test_describe_broker_resource_synonyms(static_broker, kp_admin_factory):
    """With synonyms, a static broker setting lists itself then Kafka's
    default (kafka-python keeps both; librdkafka's dict merges same names)."""
    admin = kp_admin_factory(static_broker)
    bk = admin.describe_configs([KConfigResource(ConfigResourceType.BROKER, "1",
                                                 ["log.segment.bytes", "num.partitions"])],
                                include_synonyms=True, config_filter="all")["broker"]["1"]
    assert set(bk) == {"log.segment.bytes", "num.partitions"}
    assert kp_synonyms(bk["num.partitions"]) == [("num.partitions", "1", "DEFAULT_CONFIG")]
    assert (bk["log.segment.bytes"]["value"], bk["log.segment.bytes"]["config_source"]) == \
        ("4096", "STATIC_BROKER_CONFIG")
    assert kp_synonyms(bk["log.segment.bytes"]) == [
        ("log.segment.bytes", "4096", "STATIC_BROKER_CONFIG"),
        ("log.segment.bytes", "1073741824", "DEFAULT_CONFIG")]


# ===========================================================================
# AlterConfigs (replace all overrides)
# ===========================================================================

def test_alter_configs_replaces_all_overrides_confluent(broker, topic):
    create_topic(broker, topic, config={"retention.ms": "1000000", "cleanup.policy": "compact"})
    assert overrides(broker, topic) == {"retention.ms": "1000000", "cleanup.policy": "compact"}

    assert cf_alter(broker, topic, {"max.message.bytes": "5000", "segment.ms": "100000"}) is None
    entries = cf_describe(broker, topic)
    assert cf_values({k: entries[k] for k in ("max.message.bytes", "segment.ms", "retention.ms",
                                               "cleanup.policy")}) == {
        "max.message.bytes": ("5000", DYNAMIC_TOPIC_CONFIG),
        "segment.ms": ("100000", DYNAMIC_TOPIC_CONFIG),
        "retention.ms": ("604800000", DEFAULT_CONFIG),
        "cleanup.policy": ("delete", DEFAULT_CONFIG)}
    assert overrides(broker, topic) == {"max.message.bytes": "5000", "segment.ms": "100000"}

    # validate_only: accepted, nothing changes
    assert cf_alter(broker, topic, {"retention.bytes": "123456"}, validate_only=True) is None
    assert overrides(broker, topic) == {"max.message.bytes": "5000", "segment.ms": "100000"}

    # an empty set removes every override
    assert cf_alter(broker, topic, {}) is None
    assert overrides(broker, topic) == {}


@pytest.mark.parametrize("configs", [
    {"no.such.config": "1"},
    {"retention.ms": "abc"},
    {"max.message.bytes": "12.5"},
    {"cleanup.policy": "bogus"},
    {"message.timestamp.type": "WallClock"},
    {"preallocate": "maybe"},
    {"min.cleanable.dirty.ratio": "x"},
    {"retention.ms": "3600000", "no.such.config": "1"},
])
def test_alter_configs_invalid_confluent(broker, topic, configs):
    create_topic(broker, topic, config={"retention.ms": "1000000"})
    for validate_only in (True, False):
        res = cf_alter(broker, topic, configs, validate_only=validate_only)
        assert_err(res, INVALID_CONFIG, f"alter_configs {configs} validate_only={validate_only}")
    # nothing was applied, the old override is intact
    assert overrides(broker, topic) == {"retention.ms": "1000000"}


def test_alter_configs_unknown_topic_and_broker_resource(broker, topic):
    assert_err(cf_alter(broker, topic, {"retention.ms": "1000"}), UNKNOWN_TOPIC_OR_PARTITION,
               "alter_configs of a missing topic")
    # log.dirs cannot change at run time: Kafka answers INVALID_REQUEST
    assert_err(cf_alter(broker, "1", {"log.dirs": "/elsewhere"}, restype=ResourceType.BROKER),
               INVALID_REQUEST, "alter_configs of broker log.dirs")
    assert_err(cf_incremental(broker, "1", ("log.dirs", AlterConfigOpType.SET, "/elsewhere"),
                              restype=ResourceType.BROKER),
               INVALID_REQUEST, "incremental_alter_configs of broker log.dirs")
    b = cf_only(cf_admin(broker).describe_configs([ConfigResource(ResourceType.BROKER, "1")]))
    assert b["log.dirs"].value == str(broker.data_dir)


def test_alter_configs_kafka_python(broker, topic, kp_admin_factory):
    create_topic(broker, topic, config={"cleanup.policy": "compact"})
    admin = kp_admin_factory(broker)

    def res(cfg, **kwargs):
        return admin.alter_configs([KConfigResource(ConfigResourceType.TOPIC, topic, cfg)], **kwargs)

    # legacy AlterConfigs: kafka-python re-sends the other modified keys itself
    assert res({"retention.ms": "7200000"}, incremental=False) == {"topic": {topic: "OK"}}
    assert overrides(broker, topic) == {"cleanup.policy": "compact", "retention.ms": "7200000"}
    # IncrementalAlterConfigs (its default with this broker)
    assert res({"segment.bytes": "1048576"}) == {"topic": {topic: "OK"}}
    assert res({"retention.ms": (AlterConfigOp.DELETE, None),
                "cleanup.policy": (AlterConfigOp.APPEND, "delete")}) == {"topic": {topic: "OK"}}
    got = kp_describe(admin, topic, config_filter="modified")
    assert {k: (v["value"], v["config_source"]) for k, v in got.items()} == {
        "cleanup.policy": ("compact,delete", "DYNAMIC_TOPIC_CONFIG"),
        "segment.bytes": ("1048576", "DYNAMIC_TOPIC_CONFIG")}
    # validate_only, both request kinds
    for incremental in (True, False):
        assert res({"segment.ms": "60000"}, validate_only=True, incremental=incremental) == \
            {"topic": {topic: "OK"}}
    assert "segment.ms" not in kp_describe(admin, topic, config_filter="modified")
    # broker-side errors (raise_on_unknown=False skips kafka-python's own check)
    for incremental in (True, False):
        out = res({"no.such.config": "1"}, raise_on_unknown=False, incremental=incremental)
        assert out["topic"][topic].startswith(f"[Error {INVALID_CONFIG}]"), out
        out = res({"retention.ms": "soon"}, incremental=incremental)
        assert out["topic"][topic].startswith(f"[Error {INVALID_CONFIG}]"), out
    assert overrides(broker, topic) == {"cleanup.policy": "compact,delete", "segment.bytes": "1048576"}


# ===========================================================================
# IncrementalAlterConfigs
# ===========================================================================

def test_incremental_set_and_delete_confluent(broker, topic):
    create_topic(broker, topic, config={"cleanup.policy": "compact"})
    S, D = AlterConfigOpType.SET, AlterConfigOpType.DELETE
    assert cf_incremental(broker, topic, ("retention.ms", S, "1234567"),
                          ("max.message.bytes", S, "3000")) is None
    # other overrides are kept
    assert overrides(broker, topic) == {"cleanup.policy": "compact", "retention.ms": "1234567",
                                        "max.message.bytes": "3000"}
    assert cf_incremental(broker, topic, ("retention.ms", S, "2000000")) is None
    assert cf_incremental(broker, topic, ("max.message.bytes", D, None)) is None
    entries = cf_describe(broker, topic)
    assert cf_values({k: entries[k] for k in ("retention.ms", "max.message.bytes", "cleanup.policy")}) == {
        "retention.ms": ("2000000", DYNAMIC_TOPIC_CONFIG),
        "max.message.bytes": ("1048588", DEFAULT_CONFIG),
        "cleanup.policy": ("compact", DYNAMIC_TOPIC_CONFIG)}
    # deleting a key that is not set is fine and changes nothing
    assert cf_incremental(broker, topic, ("segment.ms", D, None)) is None
    assert overrides(broker, topic) == {"cleanup.policy": "compact", "retention.ms": "2000000"}
    # validate_only
    assert cf_incremental(broker, topic, ("retention.ms", D, None), ("flush.messages", S, "10"),
                          validate_only=True) is None
    assert overrides(broker, topic) == {"cleanup.policy": "compact", "retention.ms": "2000000"}


def test_incremental_append_subtract_confluent(broker, topic):
    create_topic(broker, topic)
    A, SUB = AlterConfigOpType.APPEND, AlterConfigOpType.SUBTRACT
    # APPEND starts from the default ("delete")
    assert cf_incremental(broker, topic, ("cleanup.policy", A, "compact")) is None
    e = cf_describe(broker, topic)["cleanup.policy"]
    assert (e.value, int(e.source)) == ("delete,compact", DYNAMIC_TOPIC_CONFIG)
    # appending a value already there does not repeat it
    assert cf_incremental(broker, topic, ("cleanup.policy", A, "compact")) is None
    assert overrides(broker, topic) == {"cleanup.policy": "delete,compact"}
    assert cf_incremental(broker, topic, ("cleanup.policy", SUB, "delete")) is None
    assert overrides(broker, topic) == {"cleanup.policy": "compact"}
    # subtracting a value that is not there changes nothing
    assert cf_incremental(broker, topic, ("cleanup.policy", SUB, "delete")) is None
    assert overrides(broker, topic) == {"cleanup.policy": "compact"}
    # validate_only
    assert cf_incremental(broker, topic, ("cleanup.policy", A, "delete"), validate_only=True) is None
    assert overrides(broker, topic) == {"cleanup.policy": "compact"}
    # a list config whose default is empty: APPEND starts from nothing
    name = "leader.replication.throttled.replicas"
    assert cf_incremental(broker, topic, (name, A, "0:1")) is None
    assert cf_incremental(broker, topic, (name, A, "1:1")) is None
    assert overrides(broker, topic) == {"cleanup.policy": "compact", name: "0:1,1:1"}
    assert cf_incremental(broker, topic, (name, SUB, "0:1")) is None
    assert overrides(broker, topic) == {"cleanup.policy": "compact", name: "1:1"}


@pytest.mark.parametrize("op,name,value", [
    # APPEND / SUBTRACT on a non-list config: Kafka (KRaft controller,
    # ConfigurationControlManager) answers INVALID_CONFIG "Can't APPEND to key
    # retention.ms because its type is not LIST."
    (AlterConfigOpType.APPEND, "retention.ms", "5"),
    (AlterConfigOpType.SUBTRACT, "max.message.bytes", "5"),
    (AlterConfigOpType.SET, "no.such.config", "1"),
    (AlterConfigOpType.SET, "retention.ms", "forever"),
    (AlterConfigOpType.SET, "segment.bytes", "9999999999"),  # not an int
    (AlterConfigOpType.APPEND, "cleanup.policy", "bogus"),
])
def test_incremental_invalid_confluent(broker, topic, op, name, value):
    create_topic(broker, topic, config={"retention.ms": "1000000"})
    for validate_only in (True, False):
        res = cf_incremental(broker, topic, (name, op, value), validate_only=validate_only)
        assert_err(res, INVALID_CONFIG, f"{op.name} {name}={value} validate_only={validate_only}")
    assert overrides(broker, topic) == {"retention.ms": "1000000"}


def test_incremental_unknown_topic(broker, topic):
    res = cf_incremental(broker, topic, ("retention.ms", AlterConfigOpType.SET, "1000"))
    assert_err(res, UNKNOWN_TOPIC_OR_PARTITION, "incremental_alter_configs of a missing topic")


# ===========================================================================
# configs take effect without a restart
# ===========================================================================

def test_max_message_bytes_takes_effect(broker, topic):
    create_topic(broker, topic)
    big = b"x" * 3000
    assert produce(broker, topic, [big]) == [(None, 0)]

    assert cf_incremental(broker, topic, ("max.message.bytes", AlterConfigOpType.SET, "1000")) is None
    [(err, _)] = produce(broker, topic, [big])
    assert err == KafkaError.MSG_SIZE_TOO_LARGE == MESSAGE_TOO_LARGE, err
    assert produce(broker, topic, [b"small"]) == [(None, 1)]

    # kafka-python's producer sees the same broker error. (Not idempotent:
    # kafka-python 3.0.12 turns any non-retriable batch error of a
    # non-transactional idempotent producer into a fatal producer state, so
    # the next send would fail too; that is the client's behaviour.)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=0,
                      enable_idempotence=False,
                      request_timeout_ms=15000, max_block_ms=20000, delivery_timeout_ms=30000)
    try:
        with pytest.raises(kerr.MessageSizeTooLargeError):
            p.send(topic, value=big, partition=0).get(20)
        assert p.send(topic, value=b"ok", partition=0).get(20).offset == 2
    finally:
        p.close(5)

    # AlterConfigs without the key resets it: large batches fit again
    assert cf_alter(broker, topic, {}) is None
    assert produce(broker, topic, [big]) == [(None, 3)]
    assert cf_offsets(broker, topic) == (0, 4)


RETENTION_BROKER = {"log.retention.check.interval.ms": "500", "log.segment.bytes": "2048"}


def retention_setup(broker_factory, make_topic, kp_admin_factory):
    """A broker checking retention every 500 ms with 2 KiB segments, and a
    topic holding 60 records (~12 KB) in several segments."""
    b = broker_factory(**RETENTION_BROKER)
    admin = kp_admin_factory(b)
    t = make_topic()
    create_topic(b, t)
    seg = kp_describe(admin, t, keys=["segment.bytes"])["segment.bytes"]
    assert (seg["value"], seg["config_source"]) == ("2048", "STATIC_BROKER_CONFIG")
    values = [f"{i:04d}".encode() + b"r" * 196 for i in range(60)]
    assert produce_ok(b, t, values) == list(range(60))
    segments = sorted(b.partition_dir(t).glob("*.log"))
    assert len(segments) >= 4, segments
    assert cf_offsets(b, t) == (0, 60)
    return b, admin, t, values


def test_retention_bytes_takes_effect(broker_factory, make_topic, kp_admin_factory):
    b, admin, t, values = retention_setup(broker_factory, make_topic, kp_admin_factory)
    # old segments go on the next check, the log start moves
    assert cf_incremental(b, t, ("retention.bytes", AlterConfigOpType.SET, "4096")) is None
    start = wait_until(lambda: cf_offsets(b, t)[0], timeout=15, what="retention.bytes deletion")
    assert 0 < start < 60
    assert cf_offsets(b, t)[1] == 60
    # Kafka deletes oldest segments while the rest still reaches retention.bytes
    size = wait_until(lambda: (lambda s: s if s < 4096 + 2048 else None)(
        kp_partition_size(admin, b, t, 0)), timeout=10, what="partition size under retention.bytes + a segment")
    assert size > 0
    # consumers see the new start: from offset 0 they reset to it
    start = cf_offsets(b, t)[0]
    got, errors = cf_consume(b, t, 0, 0, 1)
    assert (got, errors) == ([(start, values[start])], [])
    assert kp_consume(b, t, 0, 0, 1) == [(start, values[start])]
    assert produce_ok(b, t, [b"after"]) == [60]


def test_retention_ms_takes_effect(broker_factory, make_topic, kp_admin_factory):
    b, admin, t, values = retention_setup(broker_factory, make_topic, kp_admin_factory)
    # set with kafka-python: every segment is now older than 1 ms
    assert admin.alter_configs([KConfigResource(ConfigResourceType.TOPIC, t,
                                                {"retention.ms": "1"})]) == {"topic": {t: "OK"}}
    wait_until(lambda: cf_offsets(b, t)[0] > 0, timeout=15, what="retention.ms deletion")
    # Kafka deletes the active segment too (rolling a new, empty one first),
    # so the log start reaches the high watermark
    wait_offsets(b, t, (60, 60), timeout=10,
                 what="retention.ms=1 deleting every segment, the active one too (Kafka rolls a new one)")
    assert produce_ok(b, t, [b"after"]) == [60]


def wait_offsets(b, topic, want, timeout, what, partition=0):
    seen = []

    def check():
        got = cf_offsets(b, topic, partition)
        seen.append(got)
        return got == want

    try:
        wait_until(check, timeout=timeout, what=what)
    except AssertionError:
        segs = sorted(p.name for p in b.partition_dir(topic, partition).glob("*.log"))
        raise AssertionError(f"{what}: (earliest, latest) still {seen[-1]} after {timeout}s, "
                             f"want {want}; segments on disk: {segs}") from None


def kp_partition_size(admin, b, topic, partition):
    out = admin.describe_log_dirs({topic: [partition]})
    [d] = out[0]["log_dirs"]
    for tp in d["topics"]:
        if tp["name"] == topic:
            for p in tp["partitions"]:
                if p["partition_index"] == partition:
                    return p["partition_size"]
    raise AssertionError(f"{topic}-{partition} not in DescribeLogDirs: {out}")


# ===========================================================================
# CreatePartitions
# ===========================================================================

def test_create_partitions_confluent(broker, topic):
    create_topic(broker, topic)
    a = cf_admin(broker)

    def cp(count, assignment=None, validate_only=False, name=topic):
        np = NewPartitions(name, count) if assignment is None else \
            NewPartitions(name, count, replica_assignment=assignment)
        return cf_only(a.create_partitions([np], validate_only=validate_only, operation_timeout=15))

    assert cp(3, validate_only=True) is None
    assert partition_count(broker, topic) == 1
    assert cp(3) is None
    assert partition_count(broker, topic) == 3
    # usable at once, by a fresh client
    assert produce_ok(broker, topic, [b"p2-a", b"p2-b"], partition=2) == [0, 1]
    got, errors = cf_consume(broker, topic, 2, 0, 2)
    assert (got, errors) == ([(0, b"p2-a"), (1, b"p2-b")], [])
    assert cf_offsets(broker, topic, 1) == (0, 0)

    for count in (3, 2, 1):
        for vo in (True, False):
            assert_err(cp(count, validate_only=vo), INVALID_PARTITIONS, f"count {count} validate_only={vo}")
    assert_err(cp(5, name=topic + "-missing"), UNKNOWN_TOPIC_OR_PARTITION, "missing topic")

    # explicit assignments naming this broker, one per new partition
    assert cp(5, [[1], [1]]) is None
    assert partition_count(broker, topic) == 5
    # (librdkafka itself rejects an assignment list of the wrong length; the
    # kafka-python test sends those)
    for bad, why in [([[2]], "unknown broker"), ([[1, 2]], "a second, unknown broker"),
                     ([[1, 1]], "broker listed twice")]:
        for vo in (True, False):
            assert_err(cp(6, bad, validate_only=vo), INVALID_REPLICA_ASSIGNMENT, f"{why} validate_only={vo}")
    assert partition_count(broker, topic) == 5


def test_create_partitions_kafka_python(broker, topic, kp_admin_factory):
    create_topic(broker, topic, partitions=2)
    admin = kp_admin_factory(broker)

    def codes(resp):
        return [(r.name, r.error_code) for r in resp.results]

    assert codes(admin.create_partitions({topic: 4}, validate_only=True)) == [(topic, 0)]
    assert partition_count(broker, topic) == 2
    assert codes(admin.create_partitions({topic: 4})) == [(topic, 0)]
    assert partition_count(broker, topic) == 4
    assert codes(admin.create_partitions({topic: {"count": 5, "assignments": [[1]]}})) == [(topic, 0)]
    assert partition_count(broker, topic) == 5
    [desc] = admin.describe_topics([topic])
    assert sorted(p["partition_index"] for p in desc["partitions"]) == [0, 1, 2, 3, 4]

    assert codes(admin.create_partitions({topic: 5}, raise_errors=False)) == [(topic, INVALID_PARTITIONS)]
    with pytest.raises(kerr.InvalidPartitionsError):
        admin.create_partitions({topic: 3})
    assert codes(admin.create_partitions({topic: {"count": 6, "assignments": [[7]]}},
                                         raise_errors=False)) == [(topic, INVALID_REPLICA_ASSIGNMENT)]
    # one assignment per new partition: too few, too many
    assert codes(admin.create_partitions({topic: {"count": 7, "assignments": [[1]]}},
                                         raise_errors=False)) == [(topic, INVALID_REPLICA_ASSIGNMENT)]
    assert codes(admin.create_partitions({topic: {"count": 6, "assignments": [[1], [1]]}},
                                         raise_errors=False)) == [(topic, INVALID_REPLICA_ASSIGNMENT)]
    assert codes(admin.create_partitions({topic: {"count": 6, "assignments": [[]]}},
                                         raise_errors=False)) == [(topic, INVALID_REPLICA_ASSIGNMENT)]
    assert partition_count(broker, topic) == 5

    # the new partitions work with kafka-python's producer and consumer
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=0,
                      request_timeout_ms=15000, max_block_ms=20000)
    try:
        for part in (2, 3, 4):
            md = p.send(topic, value=f"v{part}".encode(), partition=part).get(20)
            assert (md.partition, md.offset) == (part, 0)
    finally:
        p.close(5)
    c = kp_consumer(broker)
    try:
        assert c.partitions_for_topic(topic) == {0, 1, 2, 3, 4}
    finally:
        c.close()
    assert kp_consume(broker, topic, 4, 0, 1) == [(0, b"v4")]


# ===========================================================================
# DeleteRecords
# ===========================================================================

def test_delete_records_confluent(broker, topic):
    create_topic(broker, topic)
    values = [f"m{i}".encode() for i in range(10)]
    produce_ok(broker, topic, values)
    a = cf_admin(broker)

    def delete(offset):
        tp = TopicPartition(topic, 0, offset)
        return cf_result(a.delete_records([tp], operation_timeout=10)[tp])

    r = delete(4)
    assert not isinstance(r, tuple), r
    assert r.low_watermark == 4
    assert cf_offsets(broker, topic) == (4, 10)
    # a consumer at an earlier offset is out of range and resets per policy
    got, errors = cf_consume(broker, topic, 0, 1, 3)
    assert (got, errors) == ([(4, b"m4"), (5, b"m5"), (6, b"m6")], [])
    got, errors = cf_consume(broker, topic, 0, 1, 3, **{"auto.offset.reset": "error"})
    assert got == [] and [e.code() for e in errors] == [KafkaError._AUTO_OFFSET_RESET], errors
    # below the current start: nothing changes
    assert delete(2).low_watermark == 4
    # beyond the high watermark
    assert_err(delete(11), OFFSET_OUT_OF_RANGE, "delete_records beyond the high watermark")
    assert cf_offsets(broker, topic) == (4, 10)
    # the high watermark itself (-1)
    assert delete(-1).low_watermark == 10
    assert cf_offsets(broker, topic) == (10, 10)
    assert produce_ok(broker, topic, [b"next"]) == [10]
    got, errors = cf_consume(broker, topic, 0, 0, 1)
    assert (got, errors) == ([(10, b"next")], [])


def test_delete_records_kafka_python(broker, topic, kp_admin_factory):
    create_topic(broker, topic, partitions=2)
    produce_ok(broker, topic, [f"a{i}".encode() for i in range(8)], partition=0)
    produce_ok(broker, topic, [f"b{i}".encode() for i in range(5)], partition=1)
    admin = kp_admin_factory(broker)
    tp0, tp1 = kafka.TopicPartition(topic, 0), kafka.TopicPartition(topic, 1)

    out = admin.delete_records({tp0: 3, tp1: -1})
    assert {tp: (r["low_watermark"], r["error_code"]) for tp, r in out.items()} == \
        {tp0: (3, 0), tp1: (5, 0)}
    c = kp_consumer(broker)
    try:
        assert c.beginning_offsets([tp0, tp1], timeout_ms=10000) == {tp0: 3, tp1: 5}
        assert c.end_offsets([tp0, tp1], timeout_ms=10000) == {tp0: 8, tp1: 5}
    finally:
        c.close()
    assert kp_consume(broker, topic, 0, 0, 2) == [(3, b"a3"), (4, b"a4")]

    # without a reset policy the consumer surfaces OFFSET_OUT_OF_RANGE
    c = kp_consumer(broker, auto_offset_reset="none")
    try:
        c.assign([tp0])
        c.seek(tp0, 1)
        deadline = time.monotonic() + 15
        with pytest.raises(kerr.OffsetOutOfRangeError):
            while time.monotonic() < deadline:
                c.poll(timeout_ms=200)
    finally:
        c.close()

    with pytest.raises(kerr.OffsetOutOfRangeError):
        admin.delete_records({tp0: 9})
    # sent straight to the broker (no client-side metadata check)
    with pytest.raises(kerr.UnknownTopicOrPartitionError):
        admin.delete_records({kafka.TopicPartition(topic + "-missing", 0): 0}, partition_leader_id=1)
    assert admin.delete_records({tp0: 8})[tp0]["low_watermark"] == 8


# ===========================================================================
# DescribeLogDirs
# ===========================================================================

def test_describe_log_dirs(broker, topic, kp_admin_factory):
    create_topic(broker, topic, partitions=2)
    admin = kp_admin_factory(broker)

    def mine(out):
        [entry] = out
        assert entry["broker"] == 1
        [d] = entry["log_dirs"]
        assert d["error_code"] == 0
        assert d["log_dir"] == str(broker.data_dir) and os.path.isabs(d["log_dir"])
        assert d["total_bytes"] > 0 and 0 < d["usable_bytes"] <= d["total_bytes"], d
        parts = {}
        for t in d["topics"]:
            if t["name"] == topic:
                for p in t["partitions"]:
                    assert p["offset_lag"] == 0 and p["is_future_key"] is False, p
                    parts[p["partition_index"]] = p["partition_size"]
        return parts

    assert mine(admin.describe_log_dirs()) == {0: 0, 1: 0}
    values = [b"z" * 500 for _ in range(10)]
    produce_ok(broker, topic, values, partition=0)
    sizes = mine(admin.describe_log_dirs([topic]))
    assert sizes[0] >= sum(len(v) for v in values), sizes
    assert sizes[1] == 0
    # the segment files hold exactly what is reported
    on_disk = sum(f.stat().st_size for f in broker.partition_dir(topic, 0).glob("*.log"))
    assert sizes[0] == on_disk
    # filter by partition, and by broker id
    assert mine(admin.describe_log_dirs({topic: [1]}, brokers=[1])) == {1: 0}
    produce_ok(broker, topic, [b"y" * 100], partition=1)
    after = mine(admin.describe_log_dirs({topic: [0, 1]}))
    assert after[0] == sizes[0] and after[1] >= 100, after


# ===========================================================================
# persistence
# ===========================================================================

def test_admin_state_survives_sigterm_and_sigkill(broker_factory, make_topic, kp_admin_factory):
    b = broker_factory()
    ta, tb = make_topic("a"), make_topic("b")
    create_topic(b, ta, config={"retention.ms": "3600000", "cleanup.policy": "compact"})
    create_topic(b, tb)
    A = AlterConfigOpType
    assert cf_incremental(b, ta, ("max.message.bytes", A.SET, "5000"),
                          ("cleanup.policy", A.APPEND, "delete")) is None
    assert cf_alter(b, tb, {"segment.ms": "100000", "min.insync.replicas": "1"}) is None
    assert cf_only(cf_admin(b).create_partitions([NewPartitions(ta, 3)])) is None
    produce_ok(b, ta, [f"v{i}".encode() for i in range(10)])
    tp = TopicPartition(ta, 0, 6)
    assert cf_result(cf_admin(b).delete_records([tp])[tp]).low_watermark == 6

    want_a = {"retention.ms": "3600000", "cleanup.policy": "compact,delete", "max.message.bytes": "5000"}
    want_b = {"segment.ms": "100000", "min.insync.replicas": "1"}

    def check(want_a, earliest):
        assert overrides(b, ta) == want_a
        assert overrides(b, tb) == want_b
        entries = cf_describe(b, ta)
        for k, e in entries.items():
            if k not in want_a and k in KAFKA_TOPIC_DEFAULTS:
                assert (e.value or "", int(e.source)) == (KAFKA_TOPIC_DEFAULTS[k], DEFAULT_CONFIG), k
        admin = kp_admin_factory(b)
        got = kp_describe(admin, ta, config_filter="modified")
        assert {k: v["value"] for k, v in got.items()} == want_a
        assert partition_count(b, ta) == 3
        assert cf_offsets(b, ta) == (earliest, 10)
        # still enforced
        [(err, _)] = produce(b, ta, [b"x" * 6000], partition=1)
        assert err == MESSAGE_TOO_LARGE

    check(want_a, 6)
    b.stop()
    assert b.exit_codes[-1] == 0, b.exit_codes
    b.start()
    check(want_a, 6)

    # changes acknowledged just before a crash are kept
    assert cf_incremental(b, ta, ("retention.ms", A.DELETE, None),
                          ("segment.bytes", A.SET, "1048576")) is None
    tp = TopicPartition(ta, 0, 8)
    assert cf_result(cf_admin(b).delete_records([tp])[tp]).low_watermark == 8
    b.kill()
    b.start()
    want_a2 = {"cleanup.policy": "compact,delete", "max.message.bytes": "5000", "segment.bytes": "1048576"}
    check(want_a2, 8)
    e = cf_describe(b, ta)["retention.ms"]
    assert (e.value, int(e.source)) == ("604800000", DEFAULT_CONFIG)
