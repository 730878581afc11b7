"""Broker configs against gregor, with both Python admin clients.

Covers DescribeConfigs on the BROKER resource (every config Kafka documents,
with value, source, read-only, sensitive, type, documentation and synonyms),
dynamic broker configs (KIP-226) set per broker (resource name "1") and as
the cluster-wide default (resource name "") with AlterConfigs and
IncrementalAlterConfigs, Kafka's refusals (read-only configs, per-broker-only
configs at cluster level, bad values), validate_only, DELETE, dynamic topic
defaults taking effect on existing topics without a restart, and
persistence across restarts.

Clients: confluent-kafka's AdminClient (librdkafka) and kafka-python's
KafkaAdminClient. Neither accepts the cluster-default resource name "", so
those requests are sent raw.

Kafka answers every broker config it will not apply with INVALID_REQUEST
(42), bad values included: ConfigAdminManager turns the validation error
into an InvalidRequestException (the KAFKA-13609 comment there keeps it so
for compatibility). Only APPEND/SUBTRACT on a non-list config answer
INVALID_CONFIG (40).
"""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AlterConfigOpType, ConfigResource, ResourceType
import kafka.errors as kerr
from kafka import KafkaProducer
from kafka.admin import ConfigResource as KConfigResource
from kafka.admin import ConfigResourceType

import kafka_wire as kw
from conftest import Broker, BrokerError, wait_until
from test_admin_configs import (assert_err, cf_admin, cf_alter, cf_describe, cf_incremental,
                                cf_offsets, cf_only, create_topic, describe_configs_raw,
                                kp_synonyms, produce, produce_ok)
from test_admin_configs import kp_admin_factory  # noqa: F401  (a fixture, used by name)

INVALID_CONFIG = 40
INVALID_REQUEST = 42
MESSAGE_TOO_LARGE = 10

# ConfigSource codes
DYNAMIC_TOPIC_CONFIG = 1
DYNAMIC_BROKER_CONFIG = 2
DYNAMIC_DEFAULT_BROKER_CONFIG = 3
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5

STATIC = {"log.retention.check.interval.ms": "500", "message.max.bytes": "500000"}
SET, DELETE = AlterConfigOpType.SET, AlterConfigOpType.DELETE


# ---------------------------------------------------------------------------
# raw AlterConfigs / IncrementalAlterConfigs, for the resource named ""
# ---------------------------------------------------------------------------

def _roundtrip(b, api_key, version, body):
    sock = kw.connect(b.host, b.port)
    try:
        sock.sendall(kw.frame(kw.request_header(api_key, version, 9) + body))
        r = kw.Reader(kw.recv_frame(sock))
    finally:
        sock.close()
    assert r.i32() == 9
    r.i32()  # throttle
    [res] = [(r.i16(), r.string(), r.i8(), r.string()) for _ in range(r.i32())]
    assert r.remaining == 0
    return res[0], res[1]


def incremental_raw(b, name, ops, validate_only=False):
    """IncrementalAlterConfigs v0 on broker resource `name`; ops:
    [(config, op code 0..3, value|None)]. Returns (error_code, message)."""
    body = kw.i32(1) + kw.i8(4) + kw.string(name) + kw.i32(len(ops))
    for config, op, value in ops:
        body += kw.string(config) + kw.i8(op) + kw.string(value)
    return _roundtrip(b, 44, 0, body + kw.i8(1 if validate_only else 0))


def alter_raw(b, name, configs: dict, validate_only=False):
    """AlterConfigs v1 (replaces every dynamic config of the resource)."""
    body = kw.i32(1) + kw.i8(4) + kw.string(name) + kw.i32(len(configs))
    for config, value in configs.items():
        body += kw.string(config) + kw.string(value)
    return _roundtrip(b, 33, 1, body + kw.i8(1 if validate_only else 0))


def describe_default(b, keys=None):
    """The cluster-default resource: {name: (value, source, [synonyms])}."""
    [res] = describe_configs_raw(b, 4, [(4, "", keys)], include_synonyms=True)
    assert res["error_code"] == 0, res
    return {c["name"]: (c["value"], c["source"], c["synonyms"]) for c in res["configs"]}


# ---------------------------------------------------------------------------
# fixtures and helpers
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dyn_broker():
    """A broker for this module: retention checked every 500 ms, and a static
    message.max.bytes to sit behind the dynamic values."""
    b = Broker(name="dynamic", overrides=STATIC)
    try:
        b.start()
    except BrokerError as e:
        b.cleanup()
        pytest.fail(str(e), pytrace=False)
    yield b
    b.cleanup()


@pytest.fixture
def b(dyn_broker):
    """The module's broker; every dynamic config is cleared after each test."""
    yield dyn_broker
    if dyn_broker.running:
        assert alter_raw(dyn_broker, "1", {}) == (0, None)
        assert alter_raw(dyn_broker, "", {}) == (0, None)


def cf_broker(b) -> dict:
    return cf_only(cf_admin(b).describe_configs([ConfigResource(ResourceType.BROKER, "1")]))


def kp_broker(admin, keys=None, synonyms=True) -> dict:
    out = admin.describe_configs([KConfigResource(ConfigResourceType.BROKER, "1", keys)],
                                 include_synonyms=synonyms, config_filter="all")
    return out["broker"]["1"]


def dynamic_entries(b) -> dict:
    return {k: e.value for k, e in cf_broker(b).items()
            if int(e.source) in (DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG)}


def value_source(entry) -> tuple:
    return entry.value, int(entry.source)


# ===========================================================================
# DescribeConfigs on the broker
# ===========================================================================

def test_describe_broker_lists_every_documented_config_confluent(b):
    entries = cf_broker(b)
    assert len(entries) >= 300, f"only {len(entries)} broker configs described"
    expect = {
        # name: (value, source, read_only)
        "num.network.threads": ("3", DEFAULT_CONFIG, False),
        "num.io.threads": ("8", DEFAULT_CONFIG, False),
        "background.threads": ("10", DEFAULT_CONFIG, False),
        "auto.create.topics.enable": ("true", DEFAULT_CONFIG, True),
        "log.dirs": (str(b.data_dir), STATIC_BROKER_CONFIG, True),
        "node.id": ("1", STATIC_BROKER_CONFIG, True),
        "message.max.bytes": ("500000", STATIC_BROKER_CONFIG, False),
        "log.retention.check.interval.ms": ("500", STATIC_BROKER_CONFIG, True),
        "log.retention.hours": ("168", DEFAULT_CONFIG, True),
        "transaction.max.timeout.ms": ("900000", DEFAULT_CONFIG, True),
        "log.cleanup.policy": ("delete", DEFAULT_CONFIG, False),
        "ssl.client.auth": ("none", DEFAULT_CONFIG, False),
    }
    for name, (value, source, read_only) in expect.items():
        assert name in entries, f"broker config {name} not described"
        e = entries[name]
        assert (e.value, int(e.source), e.is_read_only) == (value, source, read_only), name
        assert not e.is_sensitive, name
    # Kafka's default is null and the hours setting carries the value
    assert value_source(entries["log.retention.ms"]) == (None, DEFAULT_CONFIG)
    # passwords are sensitive: never a value
    for name in ("ssl.keystore.password", "ssl.key.password", "sasl.jaas.config",
                 "delegation.token.secret.key"):
        e = entries[name]
        assert e.is_sensitive and e.value is None, (name, e)
    assert "controller.quorum.voters" in entries and "group.coordinator.threads" in entries


def test_describe_broker_kafka_python_keys_types_and_synonyms(b, kp_admin_factory):
    admin = kp_admin_factory(b)
    keys = ["num.network.threads", "message.max.bytes", "ssl.keystore.password",
            "log.cleanup.policy", "log.dirs", "no.such.config"]
    got = kp_broker(admin, keys)
    assert set(got) == set(keys) - {"no.such.config"}
    assert {k: v["config_type"] for k, v in got.items()} == {
        "num.network.threads": "INT", "message.max.bytes": "INT",
        "ssl.keystore.password": "PASSWORD", "log.cleanup.policy": "LIST", "log.dirs": "STRING"}
    secret = got["ssl.keystore.password"]
    assert (secret["value"], secret["is_sensitive"], secret["read_only"]) == (None, True, False)
    assert got["log.dirs"]["read_only"] is True
    assert kp_synonyms(got["message.max.bytes"]) == [
        ("message.max.bytes", "500000", "STATIC_BROKER_CONFIG"),
        ("message.max.bytes", "1048588", "DEFAULT_CONFIG")]
    assert kp_synonyms(got["num.network.threads"]) == [("num.network.threads", "3", "DEFAULT_CONFIG")]
    # every entry is typed and documented when documentation is asked for
    [res] = describe_configs_raw(b, 4, [(4, "1", None)], include_documentation=True)
    assert res["error_code"] == 0 and len(res["configs"]) >= 300
    for c in res["configs"]:
        assert c["config_type"] > 0 and c["documentation"], c
    # another broker's id is not this broker
    [res] = describe_configs_raw(b, 4, [(4, "2", None)])
    assert res["error_code"] == INVALID_REQUEST


# ===========================================================================
# dynamic configs: per broker, cluster default, precedence
# ===========================================================================

def test_per_broker_and_cluster_default_sources_and_synonyms(b, make_topic, kp_admin_factory):
    t = make_topic()
    create_topic(b, t)
    # cluster-wide defaults (resource ""), then a per-broker value
    assert incremental_raw(b, "", [("message.max.bytes", 0, "200000"),
                                   ("log.retention.ms", 0, "7200000")]) == (0, None)
    assert cf_incremental(b, "1", ("message.max.bytes", SET, "100000"),
                          restype=ResourceType.BROKER) is None

    admin = kp_admin_factory(b)
    got = kp_broker(admin, ["message.max.bytes", "log.retention.ms", "log.retention.hours"])
    mmb = got["message.max.bytes"]
    assert (mmb["value"], mmb["config_source"], mmb["read_only"]) == \
        ("100000", "DYNAMIC_BROKER_CONFIG", False)
    assert kp_synonyms(mmb) == [
        ("message.max.bytes", "100000", "DYNAMIC_BROKER_CONFIG"),
        ("message.max.bytes", "200000", "DYNAMIC_DEFAULT_BROKER_CONFIG"),
        ("message.max.bytes", "500000", "STATIC_BROKER_CONFIG"),
        ("message.max.bytes", "1048588", "DEFAULT_CONFIG")]
    ret = got["log.retention.ms"]
    assert (ret["value"], ret["config_source"]) == ("7200000", "DYNAMIC_DEFAULT_BROKER_CONFIG")
    assert kp_synonyms(ret) == [("log.retention.ms", "7200000", "DYNAMIC_DEFAULT_BROKER_CONFIG"),
                                ("log.retention.hours", "168", "DEFAULT_CONFIG")]
    # the hours setting is still read-only and at its default
    hours = got["log.retention.hours"]
    assert (hours["value"], hours["read_only"]) == ("168", True)

    # confluent-kafka sees the same sources
    entries = cf_broker(b)
    assert value_source(entries["message.max.bytes"]) == ("100000", DYNAMIC_BROKER_CONFIG)
    assert value_source(entries["log.retention.ms"]) == ("7200000", DYNAMIC_DEFAULT_BROKER_CONFIG)

    # the cluster-default resource holds only the defaults, without the
    # per-broker value in its synonyms
    default = describe_default(b)
    assert set(default) == {"message.max.bytes", "log.retention.ms"}
    assert default["message.max.bytes"] == ("200000", DYNAMIC_DEFAULT_BROKER_CONFIG, [
        ("message.max.bytes", "200000", DYNAMIC_DEFAULT_BROKER_CONFIG),
        ("message.max.bytes", "500000", STATIC_BROKER_CONFIG),
        ("message.max.bytes", "1048588", DEFAULT_CONFIG)])
    assert set(describe_default(b, ["log.retention.ms"])) == {"log.retention.ms"}

    # a topic without overrides inherits them, with Kafka's synonym order
    te = cf_describe(b, t)
    assert value_source(te["max.message.bytes"]) == ("100000", DYNAMIC_BROKER_CONFIG)
    assert value_source(te["retention.ms"]) == ("7200000", DYNAMIC_DEFAULT_BROKER_CONFIG)
    out = admin.describe_configs([KConfigResource(ConfigResourceType.TOPIC, t,
                                                  ["max.message.bytes", "retention.ms"])],
                                 include_synonyms=True, config_filter="all")["topic"][t]
    assert kp_synonyms(out["max.message.bytes"]) == [
        ("message.max.bytes", "100000", "DYNAMIC_BROKER_CONFIG"),
        ("message.max.bytes", "200000", "DYNAMIC_DEFAULT_BROKER_CONFIG"),
        ("message.max.bytes", "500000", "STATIC_BROKER_CONFIG"),
        ("message.max.bytes", "1048588", "DEFAULT_CONFIG")]
    assert kp_synonyms(out["retention.ms"]) == [
        ("log.retention.ms", "7200000", "DYNAMIC_DEFAULT_BROKER_CONFIG"),
        ("log.retention.hours", "168", "DEFAULT_CONFIG")]

    # DELETE falls back a level at a time
    assert cf_incremental(b, "1", ("message.max.bytes", DELETE, None),
                          restype=ResourceType.BROKER) is None
    assert value_source(cf_describe(b, t)["max.message.bytes"]) == \
        ("200000", DYNAMIC_DEFAULT_BROKER_CONFIG)
    assert incremental_raw(b, "", [("message.max.bytes", 1, None)]) == (0, None)
    assert value_source(cf_describe(b, t)["max.message.bytes"]) == ("500000", STATIC_BROKER_CONFIG)
    assert set(describe_default(b)) == {"log.retention.ms"}


def test_alter_configs_kafka_python_broker_resource(b, kp_admin_factory):
    admin = kp_admin_factory(b)

    def alter(configs, **kwargs):
        return admin.alter_configs([KConfigResource(ConfigResourceType.BROKER, "1", configs)],
                                   **kwargs)

    # IncrementalAlterConfigs (kafka-python's default)
    assert alter({"log.cleaner.threads": "2", "num.io.threads": "4"}) == {"broker": {"1": "OK"}}
    assert dynamic_entries(b) == {"log.cleaner.threads": "2", "num.io.threads": "4"}
    # legacy AlterConfigs replaces the set (kafka-python re-sends the others)
    assert alter({"log.cleaner.threads": "3"}, incremental=False) == {"broker": {"1": "OK"}}
    assert dynamic_entries(b) == {"log.cleaner.threads": "3", "num.io.threads": "4"}
    got = kp_broker(admin, ["log.cleaner.threads"])["log.cleaner.threads"]
    assert (got["value"], got["config_source"]) == ("3", "DYNAMIC_BROKER_CONFIG")
    # validate_only, both request kinds
    for incremental in (True, False):
        assert alter({"background.threads": "5"}, validate_only=True,
                     incremental=incremental) == {"broker": {"1": "OK"}}
    assert "background.threads" not in dynamic_entries(b)
    # Kafka's refusals reach kafka-python as error strings
    out = alter({"num.partitions": "3"}, raise_on_unknown=False)
    assert out["broker"]["1"].startswith(f"[Error {INVALID_REQUEST}]"), out
    out = alter({"num.io.threads": "many"})
    assert out["broker"]["1"].startswith(f"[Error {INVALID_REQUEST}]"), out
    assert dynamic_entries(b) == {"log.cleaner.threads": "3", "num.io.threads": "4"}


# ===========================================================================
# refusals
# ===========================================================================

@pytest.mark.parametrize("name,value", [
    ("log.dirs", "/elsewhere"),
    ("num.partitions", "3"),
    ("auto.create.topics.enable", "false"),
    ("log.retention.hours", "1"),
    ("node.id", "7"),
])
def test_read_only_configs_are_refused(b, name, value):
    want = f"Cannot update these configs dynamically: Set({name})"
    for validate_only in (True, False):
        res = cf_incremental(b, "1", (name, SET, value), validate_only=validate_only,
                             restype=ResourceType.BROKER)
        assert_err(res, INVALID_REQUEST, f"incremental {name}")
        assert want in res[2], res
        res = cf_alter(b, "1", {name: value}, validate_only=validate_only,
                       restype=ResourceType.BROKER)
        assert_err(res, INVALID_REQUEST, f"alter {name}")
        assert incremental_raw(b, "", [(name, 0, value)], validate_only) == (INVALID_REQUEST, want)
    assert dynamic_entries(b) == {}


def test_per_broker_configs_cannot_be_cluster_defaults(b):
    # listeners may change per broker (checked only here), never cluster-wide
    assert cf_incremental(b, "1", ("listeners", SET, "PLAINTEXT://127.0.0.1:1"), validate_only=True,
                          restype=ResourceType.BROKER) is None
    assert incremental_raw(b, "", [("listeners", 0, "PLAINTEXT://127.0.0.1:1")]) == (
        INVALID_REQUEST,
        "Cannot update these configs at default cluster level, broker id must be specified: "
        "Set(listeners)")
    # SSL stores change only per listener (listener.name.<l>.ssl...)
    code, message = incremental_raw(b, "1", [("ssl.keystore.password", 0, "secret")])
    assert code == INVALID_REQUEST and "per-listener" in message, message
    # ... and a listener's settings only per broker; its connection limit
    # may be the cluster's
    keystore = "listener.name.ssl.ssl.keystore.location"
    assert incremental_raw(b, "", [(keystore, 0, "/k.p12")], True) == (
        INVALID_REQUEST,
        "Cannot update these configs at default cluster level, broker id must be specified: "
        f"Set({keystore})")
    assert incremental_raw(b, "", [("listener.name.plaintext.max.connections", 0, "50")],
                           True) == (0, None)
    # another broker's resource
    code, message = incremental_raw(b, "2", [("num.io.threads", 0, "4")])
    assert (code, message) == (INVALID_REQUEST, "Unexpected broker id, expected 1, but received 2")
    assert dynamic_entries(b) == {}
    assert describe_default(b) == {}


@pytest.mark.parametrize("name,value,reason", [
    ("log.retention.ms", "soon", "Not a number of type LONG"),
    ("message.max.bytes", "9999999999", "Not a number of type INT"),
    ("message.max.bytes", "-5", "Value must be at least 0"),
    ("log.segment.bytes", "1000", "Value must be at least 1048576"),
    ("log.cleaner.min.cleanable.ratio", "2", "Value must be no more than 1"),
    ("log.message.timestamp.type", "WallClock", "String must be one of"),
    ("log.cleanup.policy", "compact,shred", "shred"),
    ("unclean.leader.election.enable", "maybe", "true or false"),
])
def test_bad_values_are_refused(b, name, value, reason):
    for validate_only in (True, False):
        res = cf_incremental(b, "1", (name, SET, value), validate_only=validate_only,
                             restype=ResourceType.BROKER)
        assert_err(res, INVALID_REQUEST, f"{name}={value}")
        assert f"Invalid value {value} for configuration {name}" in res[2] and reason in res[2], res
        code, message = incremental_raw(b, "", [(name, 0, value)], validate_only)
        assert code == INVALID_REQUEST and reason in message, message
    assert dynamic_entries(b) == {}


def test_append_subtract_and_delete_restore_defaults(b):
    A, SUB = AlterConfigOpType.APPEND, AlterConfigOpType.SUBTRACT
    # APPEND on a list starts from Kafka's default
    assert cf_incremental(b, "1", ("log.cleanup.policy", A, "compact"),
                          restype=ResourceType.BROKER) is None
    assert value_source(cf_broker(b)["log.cleanup.policy"]) == ("delete,compact", DYNAMIC_BROKER_CONFIG)
    assert cf_incremental(b, "1", ("log.cleanup.policy", SUB, "delete"),
                          restype=ResourceType.BROKER) is None
    assert value_source(cf_broker(b)["log.cleanup.policy"]) == ("compact", DYNAMIC_BROKER_CONFIG)
    # APPEND on a config that is not a list: INVALID_CONFIG, as Kafka
    res = cf_incremental(b, "1", ("num.io.threads", A, "2"), restype=ResourceType.BROKER)
    assert_err(res, INVALID_CONFIG, "APPEND to an int")
    # a config gregor does not act on is still stored and reported
    assert cf_incremental(b, "1", ("num.io.threads", SET, "2"),
                          restype=ResourceType.BROKER) is None
    assert value_source(cf_broker(b)["num.io.threads"]) == ("2", DYNAMIC_BROKER_CONFIG)
    # DELETE restores the defaults
    assert cf_incremental(b, "1", ("log.cleanup.policy", DELETE, None), ("num.io.threads", DELETE, None),
                          restype=ResourceType.BROKER) is None
    entries = cf_broker(b)
    assert value_source(entries["log.cleanup.policy"]) == ("delete", DEFAULT_CONFIG)
    assert value_source(entries["num.io.threads"]) == ("8", DEFAULT_CONFIG)
    # deleting what is not set is fine
    assert cf_incremental(b, "1", ("num.io.threads", DELETE, None),
                          restype=ResourceType.BROKER) is None
    assert dynamic_entries(b) == {}


def test_validate_only_changes_nothing(b, make_topic):
    t = make_topic()
    create_topic(b, t)
    assert cf_incremental(b, "1", ("message.max.bytes", SET, "1000"), validate_only=True,
                          restype=ResourceType.BROKER) is None
    assert cf_alter(b, "1", {"message.max.bytes": "1000"}, validate_only=True,
                    restype=ResourceType.BROKER) is None
    assert incremental_raw(b, "", [("message.max.bytes", 0, "1000")], validate_only=True) == (0, None)
    assert alter_raw(b, "", {"message.max.bytes": "1000"}, validate_only=True) == (0, None)
    assert dynamic_entries(b) == {} and describe_default(b) == {}
    assert value_source(cf_describe(b, t)["max.message.bytes"]) == ("500000", STATIC_BROKER_CONFIG)
    # not enforced either
    assert produce(b, t, [b"x" * 3000]) == [(None, 0)]


# ===========================================================================
# taking effect without a restart
# ===========================================================================

def test_dynamic_message_max_bytes_takes_effect_on_existing_topics(b, make_topic):
    t, overridden = make_topic(), make_topic()
    create_topic(b, t)
    create_topic(b, overridden, config={"max.message.bytes": "5000"})
    big = b"x" * 3000
    assert produce(b, t, [big]) == [(None, 0)]

    assert cf_incremental(b, "1", ("message.max.bytes", SET, "1000"),
                          restype=ResourceType.BROKER) is None
    [(err, _)] = produce(b, t, [big])
    assert err == MESSAGE_TOO_LARGE, err
    assert produce(b, t, [b"small"]) == [(None, 1)]
    # kafka-python's producer sees the same broker error
    p = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all", linger_ms=0,
                      enable_idempotence=False, request_timeout_ms=15000, max_block_ms=20000,
                      delivery_timeout_ms=30000)
    try:
        with pytest.raises(kerr.MessageSizeTooLargeError):
            p.send(t, value=big, partition=0).get(20)
    finally:
        p.close(5)
    # a topic's own override still wins
    assert produce(b, overridden, [big]) == [(None, 0)]
    # a topic created now gets the dynamic value too
    later = t + "-later"
    create_topic(b, later)
    [(err, _)] = produce(b, later, [big])
    assert err == MESSAGE_TOO_LARGE, err

    # the per-broker value removed, the cluster default applies
    assert incremental_raw(b, "", [("message.max.bytes", 0, "2000")]) == (0, None)
    assert cf_incremental(b, "1", ("message.max.bytes", DELETE, None),
                          restype=ResourceType.BROKER) is None
    [(err, _)] = produce(b, t, [big])
    assert err == MESSAGE_TOO_LARGE, err
    assert produce(b, t, [b"y" * 1500]) == [(None, 2)]
    # and without it, the static value again
    assert alter_raw(b, "", {}) == (0, None)
    assert produce(b, t, [big]) == [(None, 3)]


def test_dynamic_log_retention_ms_deletes_old_segments(b, make_topic):
    t = make_topic()
    create_topic(b, t, config={"segment.bytes": "2048"})
    values = [f"{i:04d}".encode() + b"r" * 196 for i in range(60)]
    assert produce_ok(b, t, values) == list(range(60))
    assert len(list(b.partition_dir(t).glob("*.log"))) >= 4
    assert cf_offsets(b, t) == (0, 60)
    # the cluster-wide default: every segment is now older than 1 ms
    assert incremental_raw(b, "", [("log.retention.ms", 0, "1")]) == (0, None)
    wait_until(lambda: cf_offsets(b, t) == (60, 60), timeout=15,
               what="dynamic log.retention.ms=1 deleting every segment")
    assert produce_ok(b, t, [b"after"]) == [60]


# ===========================================================================
# persistence
# ===========================================================================

def test_dynamic_configs_survive_restarts(broker_factory, make_topic, kp_admin_factory):
    b = broker_factory()
    t = make_topic()
    create_topic(b, t)
    assert cf_incremental(b, "1", ("message.max.bytes", SET, "1000"), ("num.io.threads", SET, "4"),
                          restype=ResourceType.BROKER) is None
    assert incremental_raw(b, "", [("log.retention.ms", 0, "7200000")]) == (0, None)

    def check(want_broker):
        entries = cf_broker(b)
        got = {k: value_source(entries[k]) for k in want_broker}
        assert got == want_broker
        assert value_source(entries["log.retention.ms"]) == ("7200000", DYNAMIC_DEFAULT_BROKER_CONFIG)
        assert set(describe_default(b)) == {"log.retention.ms"}
        assert value_source(cf_describe(b, t)["retention.ms"]) == \
            ("7200000", DYNAMIC_DEFAULT_BROKER_CONFIG)
        # still enforced after the restart
        [(err, _)] = produce(b, t, [b"x" * 3000])
        assert err == MESSAGE_TOO_LARGE, err

    want = {"message.max.bytes": ("1000", DYNAMIC_BROKER_CONFIG),
            "num.io.threads": ("4", DYNAMIC_BROKER_CONFIG)}
    check(want)
    b.stop()
    assert b.exit_codes[-1] == 0, b.exit_codes
    b.start()
    check(want)

    # a change acknowledged just before a crash is kept
    admin = kp_admin_factory(b)
    assert admin.alter_configs([KConfigResource(ConfigResourceType.BROKER, "1",
                                                {"num.io.threads": "6"})]) == {"broker": {"1": "OK"}}
    b.kill()
    b.start()
    check({"message.max.bytes": ("1000", DYNAMIC_BROKER_CONFIG),
           "num.io.threads": ("6", DYNAMIC_BROKER_CONFIG)})
