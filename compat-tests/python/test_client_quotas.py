"""Client quotas (KIP-13, KIP-124, KIP-219, KIP-546, KIP-599, KIP-612) with
Kafka's semantics (/tmp/quota-spec.md is the spec these tests follow):

* DescribeClientQuotas / AlterClientQuotas through Kafka's `kafka-configs`
  tool (its exact output), franz-go (the Go harness: every match type,
  strict, validation errors, validate-only) and raw v0/v1 requests
  (filter errors, null entries on error).
* Enforcement: a client over producer_byte_rate, consumer_byte_rate or
  request_percentage gets its answer at once with throttle_time_ms > 0 and
  its connection is muted for that long; every record still arrives, at
  its offset, once. confluent-kafka reports it through `throttle_cb`,
  kafka-python through its `throttle-time-max` metric; a client without a
  quota is never throttled.
* controller_mutation_rate: CreateTopics v6+, CreatePartitions v3+ and
  DeleteTopics v5+ (kafka-python) are refused per topic with
  THROTTLING_QUOTA_EXCEEDED once the bucket is overdrawn; older versions
  (librdkafka sends CreateTopics v4) are accepted and throttled.
* connection_creation_rate: connections from an IP over its rate are
  closed unanswered.
* DESCRIBE_CONFIGS / ALTER_CONFIGS on the cluster with the authorizer on.
* Quotas survive a restart.

Tests on the shared broker name their own client ids; tests that set
default entities (which would reach every other test's clients) or a
connection rate start their own broker."""

from __future__ import annotations

import socket
import struct
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AclOperation, AdminClient, NewTopic
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTP

import go_client
import java_client
import kafka_wire as w
import test_acls as acls
from conftest import unique_topic, wait_until

pytestmark = pytest.mark.timeout(180)

# Kafka error codes.
NONE = 0
CLUSTER_AUTHORIZATION_FAILED = 31
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42
THROTTLING_QUOTA_EXCEEDED = 89

CONFIG_COMMAND = "org.apache.kafka.tools.ConfigCommand"

# Bandwidth quotas are measured over 11 one-second samples, the rate's
# window padded to 10 s at first: a client may send about 10 s worth of
# its quota before it is throttled. The enforcement tests move 12 s worth.
RATE = 40_000
RECORD_BYTES = 1000
RECORDS = 12 * RATE // RECORD_BYTES


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def payload(i: int) -> bytes:
    head = f"q-{i:05d}-".encode()
    return head + b"x" * (RECORD_BYTES - len(head))


# ---------------------------------------------------------------------------
# Raw DescribeClientQuotas (48) / AlterClientQuotas (49), v0 and v1
# ---------------------------------------------------------------------------

def _s(value, flexible: bool) -> bytes:
    return w.compact_string(value) if flexible else w.string(value)


def _array(items: list[bytes], flexible: bool) -> bytes:
    head = w.uvarint(len(items) + 1) if flexible else w.i32(len(items))
    return head + b"".join(items)


def _tags(flexible: bool) -> bytes:
    return w.TAGS_NONE if flexible else b""


def _rs(r: w.Reader, flexible: bool):
    return r.compact_string() if flexible else r.string()


def _call(sock: socket.socket, api_key: int, version: int, body: bytes,
          client_id: str = "quota-raw") -> tuple[w.Reader, bool]:
    flexible = version >= 1
    corr = (api_key << 8) | version
    sock.sendall(w.frame(w.request_header(api_key, version, corr, client_id,
                                          flexible=flexible) + body))
    r = w.Reader(w.recv_frame(sock))
    assert r.i32() == corr
    if flexible:
        r.skip_tags()
    return r, flexible


def entity_key(entity: dict) -> frozenset:
    return frozenset(entity.items())


def describe_raw(sock: socket.socket, components: list[tuple[str, int, str | None]],
                 strict: bool = False, version: int = 1):
    """(error_code, error_message, entries) where entries is None (null) or
    {frozenset of (type, name): {key: value}}."""
    flexible = version >= 1
    body = _array([_s(t, flexible) + w.i8(match_type) + _s(match, flexible) + _tags(flexible)
                   for t, match_type, match in components], flexible)
    body += w.i8(1 if strict else 0) + _tags(flexible)
    r, flexible = _call(sock, 48, version, body)
    r.i32()                                   # throttle_time_ms
    error, message = r.i16(), _rs(r, flexible)
    n = r.array_len(flexible)
    entries = None
    if n >= 0:
        entries = {}
        for _ in range(n):
            entity = {}
            for _ in range(r.array_len(flexible)):
                t = _rs(r, flexible)
                entity[t] = _rs(r, flexible)
                if flexible:
                    r.skip_tags()
            values = {}
            for _ in range(r.array_len(flexible)):
                key = _rs(r, flexible)
                values[key] = struct.unpack(">d", r.take(8))[0]
                if flexible:
                    r.skip_tags()
            if flexible:
                r.skip_tags()
            entries[entity_key(entity)] = values
    return error, message, entries


def alter_raw(sock: socket.socket, entries: list[tuple[dict, dict]],
              validate_only: bool = False, version: int = 1) -> dict:
    """entries: [(entity {type: name|None}, ops {key: value | None (remove)})].
    Returns {frozenset(entity): (error_code, error_message)}."""
    flexible = version >= 1
    items = []
    for entity, ops in entries:
        e = _array([_s(t, flexible) + _s(name, flexible) + _tags(flexible)
                    for t, name in entity.items()], flexible)
        o = _array([_s(key, flexible) + struct.pack(">d", 0.0 if value is None else value)
                    + w.i8(1 if value is None else 0) + _tags(flexible)
                    for key, value in ops.items()], flexible)
        items.append(e + o + _tags(flexible))
    body = _array(items, flexible) + w.i8(1 if validate_only else 0) + _tags(flexible)
    r, flexible = _call(sock, 49, version, body)
    r.i32()                                   # throttle_time_ms
    out = {}
    for _ in range(r.array_len(flexible)):
        error, message = r.i16(), _rs(r, flexible)
        entity = {}
        for _ in range(r.array_len(flexible)):
            t = _rs(r, flexible)
            entity[t] = _rs(r, flexible)
            if flexible:
                r.skip_tags()
        if flexible:
            r.skip_tags()
        out[entity_key(entity)] = (error, message)
    return out


def codes(results: dict) -> dict:
    """alter_raw's results without the messages."""
    return {entity: code for entity, (code, _) in results.items()}


def set_quotas(port: int, entries: list[tuple[dict, dict]]) -> None:
    """Alters (asserting every entity succeeded) and waits until describe
    shows what was set. (Only error codes: the raw test checks the rest.)"""
    with w.connect("127.0.0.1", port) as s:
        results = alter_raw(s, entries)
        assert codes(results) == {entity_key(e): NONE for e, _ in entries}, results
        for entity, ops in entries:
            want = {k: v for k, v in ops.items() if v is not None}
            filt = [(t, 0 if n is not None else 1, n) for t, n in entity.items()]

            def shown():
                got = describe_raw(s, filt, strict=True)[2]
                have = (got or {}).get(entity_key(entity), {})
                return all(have.get(k) == v for k, v in want.items()) and \
                    not any(k in have for k, v in ops.items() if v is None)
            wait_until(shown, 10, what=f"quota {entity} {ops} served")


def describe_all(port: int) -> dict:
    with w.connect("127.0.0.1", port) as s:
        error, message, entries = describe_raw(s, [], strict=False)
    assert error == NONE, (error, message)
    return entries


# ---------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------

def confluent_produce(bootstrap: str, topic: str, client_id: str, values: list[bytes],
                      **extra) -> tuple[list, list[float]]:
    """Produces partition 0 with confluent-kafka: ([(error, offset)], every
    throttle time throttle_cb reported, in seconds)."""
    throttles: list[float] = []
    reports: list = []
    p = Producer({"bootstrap.servers": bootstrap, "client.id": client_id, "acks": "all",
                  "linger.ms": 20, "throttle_cb": lambda ev: throttles.append(ev.throttle_time),
                  **extra})
    for v in values:
        p.produce(topic, value=v, partition=0,
                  on_delivery=lambda err, msg: reports.append((err, msg.offset())))
        p.poll(0)
    assert p.flush(60) == 0
    p.poll(0.2)
    return reports, throttles


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(15)


def poll_from_start(c: KafkaConsumer, topic: str, count: int,
                    timeout: float) -> list[tuple[int, bytes]]:
    """(offset, value) of partition 0 from the start, until `count` came or
    `timeout` seconds passed."""
    tp = KTP(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        for records in c.poll(timeout_ms=500).values():
            got += [(r.offset, r.value) for r in records]
    return got


def read_all(bootstrap: str, topic: str, count: int) -> list[tuple[int, bytes]]:
    """(offset, value) of partition 0 from the start, by an unquota'd kafka-python consumer."""
    c = KafkaConsumer(bootstrap_servers=bootstrap, client_id=uid("reader"),
                      enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        return poll_from_start(c, topic, count, 60)
    finally:
        c.close()


def kp_throttle_max(metrics: dict, prefix: str) -> float:
    value = metrics[f"{prefix}-metrics"]["throttle-time-max"]
    return 0.0 if value is None or value != value or value == float("-inf") else value


def franz(b, *args: str) -> list[str]:
    return go_client.run(go_client.FRANZ, b.bootstrap, *args)


def config_command(bootstrap: str, *args: str, command_config: str | None = None) -> str:
    extra = ["--command-config", command_config] if command_config else []
    return java_client.run_tool(CONFIG_COMMAND, "--bootstrap-server", bootstrap, *extra, *args)


def quota_lines(out: str) -> dict[str, set[str]]:
    """kafka-configs' describe output: {entity text: {key=value, ...}} (the
    order of several keys is a HashMap's)."""
    got = {}
    for line in out.splitlines():
        if not line.startswith("Quota configs for "):
            continue
        head, _, values = line[len("Quota configs for "):].rpartition(" are ")
        got[head] = set(values.split(", "))
    return got


# ===========================================================================
# 1. kafka-configs
# ===========================================================================

@pytest.mark.timeout(400)      # two dozen runs of the tool, a JVM each
def test_kafka_configs_alters_and_describes_client_quotas(broker_factory):
    """Kafka's ConfigCommand (kafka-configs.sh) with --bootstrap-server: its
    exact lines for clients, users+clients, defaults and ips, --delete-config,
    and the broker's validation errors as the tool reports them."""
    b = broker_factory()
    boot = b.bootstrap

    out = config_command(boot, "--alter", "--add-config", "producer_byte_rate=1024",
                         "--entity-type", "clients", "--entity-name", "app-x")
    assert "Completed updating config for client app-x." in out.splitlines()
    out = config_command(boot, "--describe", "--entity-type", "clients", "--entity-name", "app-x")
    assert out.splitlines() == ["Quota configs for client-id 'app-x' are producer_byte_rate=1024.0"]

    out = config_command(boot, "--alter", "--add-config",
                         "producer_byte_rate=2048,consumer_byte_rate=4096,request_percentage=12.5",
                         "--entity-type", "users", "--entity-name", "alice",
                         "--entity-type", "clients", "--entity-name", "app-y")
    assert "Completed updating config for user alice." in out.splitlines()
    out = config_command(boot, "--describe", "--entity-type", "users", "--entity-name", "alice",
                         "--entity-type", "clients", "--entity-name", "app-y")
    assert quota_lines(out) == {"user-principal 'alice', client-id 'app-y'": {
        "producer_byte_rate=2048.0", "consumer_byte_rate=4096.0", "request_percentage=12.5"}}

    out = config_command(boot, "--alter", "--add-config", "consumer_byte_rate=1000000",
                         "--entity-type", "clients", "--entity-default")
    assert "Completed updating default config for clients in the cluster." in out.splitlines()
    out = config_command(boot, "--describe", "--entity-type", "clients", "--entity-default")
    assert out.splitlines() == [
        "Quota configs for the default client-id are consumer_byte_rate=1000000.0"]

    out = config_command(boot, "--alter", "--add-config", "controller_mutation_rate=2.5",
                         "--entity-type", "users", "--entity-default")
    assert "Completed updating default config for users in the cluster." in out.splitlines()
    out = config_command(boot, "--alter", "--add-config", "producer_byte_rate=1.2E7",
                         "--entity-type", "users", "--entity-default",
                         "--entity-type", "clients", "--entity-name", "app-z")

    out = config_command(boot, "--alter", "--add-config", "connection_creation_rate=100",
                         "--entity-type", "ips", "--entity-name", "192.0.2.7")
    assert "Completed updating config for ip 192.0.2.7." in out.splitlines()
    out = config_command(boot, "--describe", "--entity-type", "ips", "--entity-name", "192.0.2.7")
    assert out.splitlines() == ["Quota configs for ip '192.0.2.7' are connection_creation_rate=100.0"]
    config_command(boot, "--alter", "--add-config", "connection_creation_rate=1000",
                   "--entity-type", "ips", "--entity-default")
    out = config_command(boot, "--describe", "--entity-type", "ips")
    assert quota_lines(out) == {"ip '192.0.2.7'": {"connection_creation_rate=100.0"},
                                "the default ip": {"connection_creation_rate=1000.0"}}

    # Every client-id-only entity (any name, defaults included), strictly.
    out = config_command(boot, "--describe", "--entity-type", "clients")
    assert quota_lines(out) == {"client-id 'app-x'": {"producer_byte_rate=1024.0"},
                                "the default client-id": {"consumer_byte_rate=1000000.0"}}
    # users and clients both specified: the pairs, a default user's too.
    out = config_command(boot, "--describe", "--entity-type", "users", "--entity-type", "clients")
    assert quota_lines(out) == {
        "user-principal 'alice', client-id 'app-y'": {
            "producer_byte_rate=2048.0", "consumer_byte_rate=4096.0", "request_percentage=12.5"},
        "the default user-principal, client-id 'app-z'": {"producer_byte_rate=1.2E7"}}

    # --delete-config: one key, then the last key (the entity is gone).
    config_command(boot, "--alter", "--delete-config", "request_percentage",
                   "--entity-type", "users", "--entity-name", "alice",
                   "--entity-type", "clients", "--entity-name", "app-y")
    out = config_command(boot, "--describe", "--entity-type", "users", "--entity-name", "alice",
                         "--entity-type", "clients", "--entity-name", "app-y")
    assert quota_lines(out) == {"user-principal 'alice', client-id 'app-y'": {
        "producer_byte_rate=2048.0", "consumer_byte_rate=4096.0"}}
    out = config_command(boot, "--alter", "--delete-config", "producer_byte_rate",
                         "--entity-type", "clients", "--entity-name", "app-x")
    assert "Completed updating config for client app-x." in out.splitlines()
    assert config_command(boot, "--describe", "--entity-type", "clients",
                          "--entity-name", "app-x").splitlines() == []
    # Deleting a key the entity does not have: the tool refuses (it described first).
    with pytest.raises(java_client.JavaClientError, match="Invalid config"):
        config_command(boot, "--alter", "--delete-config", "request_percentage",
                       "--entity-type", "clients", "--entity-default")

    # The broker's validation, as the tool reports it; nothing written.
    with pytest.raises(java_client.JavaClientError,
                       match="Quota producer_byte_rate must be greater than 0"):
        config_command(boot, "--alter", "--add-config", "producer_byte_rate=0",
                       "--entity-type", "clients", "--entity-name", "app-bad")
    with pytest.raises(java_client.JavaClientError,
                       match="consumer_byte_rate cannot be a fractional value"):
        config_command(boot, "--alter", "--add-config", "consumer_byte_rate=10.5",
                       "--entity-type", "clients", "--entity-name", "app-bad")
    assert config_command(boot, "--describe", "--entity-type", "clients",
                          "--entity-name", "app-bad").splitlines() == []

    # What the tool wrote, as the raw describe sees it.
    assert describe_all(b.port) == {
        entity_key({"user": "alice", "client-id": "app-y"}):
            {"producer_byte_rate": 2048.0, "consumer_byte_rate": 4096.0},
        entity_key({"client-id": None}): {"consumer_byte_rate": 1000000.0},
        entity_key({"user": None}): {"controller_mutation_rate": 2.5},
        entity_key({"user": None, "client-id": "app-z"}): {"producer_byte_rate": 1.2e7},
        entity_key({"ip": "192.0.2.7"}): {"connection_creation_rate": 100.0},
        entity_key({"ip": None}): {"connection_creation_rate": 1000.0},
    }


# ===========================================================================
# 2. franz-go: match types, strict, validation, validate-only
# ===========================================================================

def test_franz_go_describes_with_every_match_type(broker_factory):
    """DescribeClientQuotas filters: exact (0), default (1) and specified (2,
    which matches default names too), strict or not, and Kafka's filter
    errors; AlterClientQuotas updates, removes (a missing key is no error)
    and drops an entity with its last key."""
    b = broker_factory()
    out = franz(b, "quotas-alter",
                "entity", "user=alice", "set", "producer_byte_rate=1024",
                "entity", "user=alice,client-id=app", "set", "consumer_byte_rate=2048",
                "entity", "user=<default>", "set", "request_percentage=12.5",
                "entity", "user=<default>,client-id=<default>", "set", "producer_byte_rate=4096",
                "entity", "client-id=app", "set", "controller_mutation_rate=3.5",
                "set", "producer_byte_rate=1000000",
                "entity", "client-id=<default>", "set", "consumer_byte_rate=1000000",
                "entity", "ip=192.0.2.1", "set", "connection_creation_rate=5",
                "entity", "ip=<default>", "set", "connection_creation_rate=500")
    assert sorted(out) == sorted([
        "altered user=alice", "altered user=alice client-id=app", "altered user=<default>",
        "altered user=<default> client-id=<default>", "altered client-id=app",
        "altered client-id=<default>", "altered ip=192.0.2.1", "altered ip=<default>"])

    alice = "quota user=alice producer_byte_rate=1024"
    alice_app = "quota user=alice client-id=app consumer_byte_rate=2048"
    user_default = "quota user=<default> request_percentage=12.5"
    both_default = "quota user=<default> client-id=<default> producer_byte_rate=4096"
    app = "quota client-id=app controller_mutation_rate=3.5 producer_byte_rate=1000000"
    client_default = "quota client-id=<default> consumer_byte_rate=1000000"
    ip = "quota ip=192.0.2.1 connection_creation_rate=5"
    ip_default = "quota ip=<default> connection_creation_rate=500"

    def describe(*args: str) -> tuple[set[str], list[str]]:
        lines = franz(b, "quotas-describe", *args)
        quotas = [line for line in lines if line.startswith("quota ")]
        assert lines[-1] == f"described {len(quotas)}", lines
        return set(quotas), lines

    everything = {alice, alice_app, user_default, both_default, app, client_default, ip,
                  ip_default}
    assert describe()[0] == everything                        # no filter, not strict
    assert describe("strict")[0] == set()                     # no filter, strict
    assert describe("strict", "user=alice")[0] == {alice}
    assert describe("user=alice")[0] == {alice, alice_app}
    assert describe("strict", "user=<default>")[0] == {user_default}
    assert describe("user=<default>")[0] == {user_default, both_default}
    assert describe("strict", "user")[0] == {alice, user_default}
    assert describe("user")[0] == {alice, alice_app, user_default, both_default}
    assert describe("strict", "user", "client-id")[0] == {alice_app, both_default}
    assert describe("user", "client-id=<default>")[0] == {both_default}
    assert describe("strict", "user=alice", "client-id=<default>")[0] == set()
    assert describe("client-id=app")[0] == {alice_app, app}
    assert describe("strict", "client-id")[0] == {app, client_default}
    assert describe("strict", "ip")[0] == {ip, ip_default}
    assert describe("ip=192.0.2.1")[0] == {ip}
    assert describe("strict", "ip=<default>")[0] == {ip_default}
    assert describe("user=nobody")[0] == set()

    # Filter errors: the whole response fails (no entries).
    for args, error in [
        (("ip", "user"), "42 Invalid entity filter component combination. IP filter component "
                         "should not be used with user or clientId filter component."),
        (("client-id=app", "ip=<default>"), "42 Invalid entity filter component combination. "
         "IP filter component should not be used with user or clientId filter component."),
        (("user", "user=alice"), "42 Entity type user cannot appear more than once in the filter."),
        (("foo",), "35 Unsupported entity type foo"),
        (("/0/x",), "42 Invalid empty entity type."),
        (("user/0/<null>",), "42 Request specified MATCH_TYPE_EXACT, but set match string to null."),
        (("user/1/alice",),
         "42 Request specified MATCH_TYPE_DEFAULT, but also specified a match string."),
        (("user/2/alice",),
         "42 Request specified MATCH_TYPE_SPECIFIED, but also specified a match string."),
        (("user/7/<null>",), "42 Unknown match type 7"),
    ]:
        assert describe(*args)[1] == [f"describe-error {error}", "described 0"], args

    # Update, remove (the last key drops the entity; a key never set is no error).
    out = franz(b, "quotas-alter",
                "entity", "client-id=app", "set", "controller_mutation_rate=7",
                "remove", "producer_byte_rate",
                "entity", "user=alice", "remove", "producer_byte_rate",
                "entity", "client-id=ghost", "remove", "consumer_byte_rate",
                "entity", "ip=192.0.2.1", "remove", "no_such_key")
    assert sorted(out) == sorted(["altered client-id=app", "altered user=alice",
                                  "altered client-id=ghost", "altered ip=192.0.2.1"])
    assert describe()[0] == {alice_app, user_default, both_default,
                             "quota client-id=app controller_mutation_rate=7", client_default,
                             ip, ip_default}


def test_franz_go_alter_validation_and_validate_only(broker):
    """AlterClientQuotas' per-entity validation (INVALID_REQUEST with Kafka's
    messages): one bad entity fails alone, a bad op fails its whole entity;
    validate_only answers the same and writes nothing."""
    p = uuid.uuid4().hex[:8]
    c = lambda n: f"qv-{p}-{n}"  # noqa: E731
    out = franz(broker, "quotas-alter",
                "entity", f"client-id={c(1)}", "set", "producer_byte_rate=1024",
                "entity", f"client-id={c(2)}", "set", "foo=1",
                "entity", f"client-id={c(3)}", "set", "producer_byte_rate=0",
                "entity", f"client-id={c(4)}", "set", "consumer_byte_rate=-5",
                "entity", f"client-id={c(5)}", "set", "consumer_byte_rate=1.5",
                "entity", f"user={c(6)},ip=192.0.2.1", "set", "producer_byte_rate=100",
                "entity", "ip=192.0.2.2", "set", "producer_byte_rate=100",
                "entity", f"client-id={c(7)}", "set", "connection_creation_rate=5",
                "entity", "ip=192.0.2.3", "set", "connection_creation_rate=3000000000",
                "entity", "ip=192.0.2.4", "set", "connection_creation_rate=2.5",
                "entity", "user=", "set", "producer_byte_rate=100",
                "entity", "client-id=", "set", "producer_byte_rate=100",
                "entity", f"foo={c(8)}", "set", "producer_byte_rate=100",
                "entity", f"client-id={c(9)}", "set", "request_percentage=0.5",
                "set", "controller_mutation_rate=2.25",
                "entity", f"client-id={c(10)}", "set", "producer_byte_rate=100", "set", "foo=1")
    bad = INVALID_REQUEST
    assert sorted(out) == sorted([
        f"altered client-id={c(1)}",
        f"alter-error client-id={c(2)} {bad} Invalid configuration key foo",
        f"alter-error client-id={c(3)} {bad} Quota producer_byte_rate must be greater than 0",
        f"alter-error client-id={c(4)} {bad} Quota consumer_byte_rate must be greater than 0",
        f"alter-error client-id={c(5)} {bad} consumer_byte_rate cannot be a fractional value.",
        f"alter-error user={c(6)} ip=192.0.2.1 {bad} Invalid quota entity combination, "
        "IP entity shouldnot be combined with User or ClientId",
        f"alter-error ip=192.0.2.2 {bad} Invalid configuration key producer_byte_rate",
        f"alter-error client-id={c(7)} {bad} Invalid configuration key connection_creation_rate",
        f"alter-error ip=192.0.2.3 {bad} Proposed value for connection_creation_rate is too "
        "large for an INT.",
        f"alter-error ip=192.0.2.4 {bad} connection_creation_rate cannot be a fractional value.",
        f"alter-error user= {bad} Empty user not supported",
        f"alter-error client-id= {bad} Empty client-id not supported",
        f"alter-error foo={c(8)} {bad} Unhandled client quota entity type: foo",
        f"altered client-id={c(9)}",
        f"alter-error client-id={c(10)} {bad} Invalid configuration key foo",
    ])

    def mine() -> set[str]:
        lines = franz(broker, "quotas-describe")
        assert lines[-1].startswith("described ")
        return {line for line in lines[:-1] if p in line or "192.0.2." in line}

    assert mine() == {f"quota client-id={c(1)} producer_byte_rate=1024",
                      f"quota client-id={c(9)} controller_mutation_rate=2.25 "
                      "request_percentage=0.5"}

    # validate_only: the same answers, nothing written.
    out = franz(broker, "quotas-alter", "validate-only",
                "entity", f"client-id={c(11)}", "set", "producer_byte_rate=2048",
                "entity", f"client-id={c(1)}", "set", "producer_byte_rate=4096",
                "entity", f"client-id={c(9)}", "remove", "request_percentage",
                "entity", f"client-id={c(12)}", "set", "foo=1")
    assert sorted(out) == sorted([
        f"altered client-id={c(11)}", f"altered client-id={c(1)}", f"altered client-id={c(9)}",
        f"alter-error client-id={c(12)} {bad} Invalid configuration key foo"])
    assert mine() == {f"quota client-id={c(1)} producer_byte_rate=1024",
                      f"quota client-id={c(9)} controller_mutation_rate=2.25 "
                      "request_percentage=0.5"}

    # An empty request is an empty answer; removing a key never set (or an
    # unknown one) succeeds and changes nothing.
    assert franz(broker, "quotas-alter") == []
    out = franz(broker, "quotas-alter",
                "entity", f"client-id={c(1)}", "remove", "consumer_byte_rate",
                "remove", "bogus_key",
                "entity", f"user={c(13)}", "remove", "producer_byte_rate")
    assert sorted(out) == sorted([f"altered client-id={c(1)}", f"altered user={c(13)}"])
    assert mine() == {f"quota client-id={c(1)} producer_byte_rate=1024",
                      f"quota client-id={c(9)} controller_mutation_rate=2.25 "
                      "request_percentage=0.5"}
    franz(broker, "quotas-alter", "entity", f"client-id={c(1)}", "remove", "producer_byte_rate",
          "entity", f"client-id={c(9)}", "remove", "request_percentage",
          "remove", "controller_mutation_rate")
    assert mine() == set()


# ===========================================================================
# 3. Raw v0 and v1
# ===========================================================================

@pytest.mark.parametrize("version", [0, 1])
def test_raw_describe_and_alter_at_each_version(broker, version):
    """Both encodings (v1 flexible): values as doubles, null names for
    defaults in a filter, a failed describe's entries null and its message
    null when it is the error's default text."""
    name = uid(f"raw-v{version}")
    with w.connect("127.0.0.1", broker.port) as s:
        assert alter_raw(s, [({"client-id": name}, {"producer_byte_rate": 1024.0,
                                                    "request_percentage": 0.25}),
                             ({"user": name, "client-id": name}, {"consumer_byte_rate": 77.0})],
                         version=version) == {
            entity_key({"client-id": name}): (NONE, None),
            entity_key({"user": name, "client-id": name}): (NONE, None)}
        wait_until(lambda: describe_raw(s, [("client-id", 0, name)], version=version)[2],
                   10, what="the quota served")
        assert describe_raw(s, [("client-id", 0, name)], strict=True, version=version) == (
            NONE, None, {entity_key({"client-id": name}): {"producer_byte_rate": 1024.0,
                                                           "request_percentage": 0.25}})
        assert describe_raw(s, [("client-id", 0, name)], version=version) == (NONE, None, {
            entity_key({"client-id": name}): {"producer_byte_rate": 1024.0,
                                              "request_percentage": 0.25},
            entity_key({"user": name, "client-id": name}): {"consumer_byte_rate": 77.0}})
        assert describe_raw(s, [("user", 0, name), ("client-id", 2, None)], strict=True,
                            version=version) == (
            NONE, None, {entity_key({"user": name, "client-id": name}):
                         {"consumer_byte_rate": 77.0}})
        assert describe_raw(s, [("foo", 2, None)], version=version) == (
            UNSUPPORTED_VERSION, "Unsupported entity type foo", None)
        assert describe_raw(s, [("ip", 2, None), ("client-id", 0, name)], version=version) == (
            INVALID_REQUEST, "Invalid entity filter component combination. IP filter component "
            "should not be used with user or clientId filter component.", None)
        assert alter_raw(s, [({"client-id": name}, {"producer_byte_rate": None,
                                                    "request_percentage": None}),
                             ({"user": name, "client-id": name}, {"bogus": 1.0})],
                         version=version) == {
            entity_key({"client-id": name}): (NONE, None),
            entity_key({"user": name, "client-id": name}): (INVALID_REQUEST,
                                                            "Invalid configuration key bogus")}
        wait_until(lambda: describe_raw(s, [("client-id", 0, name)], strict=True,
                                        version=version)[2] == {}, 10, what="the quota removed")
        assert describe_raw(s, [("client-id", 0, name)], version=version) == (NONE, None, {
            entity_key({"user": name, "client-id": name}): {"consumer_byte_rate": 77.0}})
        alter_raw(s, [({"user": name, "client-id": name}, {"consumer_byte_rate": None})],
                  version=version)


# ===========================================================================
# 4. Enforcement: bandwidth and request quotas
# ===========================================================================

def test_confluent_producer_over_producer_byte_rate_is_throttled(broker, topic):
    """A librdkafka producer whose client id has producer_byte_rate=RATE
    sends 12 s worth: its throttle_cb reports a throttle, every record is
    acknowledged at its offset, the muted connection goes on afterwards;
    another client id producing as much is never throttled."""
    create_topic(broker.bootstrap, topic)
    limited, free = uid("q-prod"), uid("q-free")
    set_quotas(broker.port, [({"client-id": limited}, {"producer_byte_rate": float(RATE)})])

    values = [payload(i) for i in range(RECORDS)]
    reports, throttles = confluent_produce(broker.bootstrap, topic, limited, values)
    assert [(err, off) for err, off in reports] == [(None, i) for i in range(RECORDS)]
    assert throttles and max(throttles) > 0, throttles
    # The throttled connection is muted, not dropped: more records follow.
    more = [payload(RECORDS + i) for i in range(20)]
    reports, _ = confluent_produce(broker.bootstrap, topic, limited, more)
    assert reports == [(None, RECORDS + i) for i in range(20)]

    reports, throttles = confluent_produce(broker.bootstrap, topic, free, values)
    assert reports == [(None, RECORDS + 20 + i) for i in range(RECORDS)]
    assert all(t == 0 for t in throttles), throttles

    got = read_all(broker.bootstrap, topic, 2 * RECORDS + 20)
    assert got == [(i, v) for i, v in enumerate(values + more + values)]


def test_kafka_python_producer_over_a_user_and_client_quota_is_throttled(broker, topic):
    """kafka-python's producer under a (user, client-id) quota -- ANONYMOUS on
    the PLAINTEXT listener -- sees a throttle in its throttle-time-max
    metric; every record lands once at its offset."""
    create_topic(broker.bootstrap, topic)
    client = uid("q-kp-prod")
    set_quotas(broker.port, [({"user": "ANONYMOUS", "client-id": client},
                              {"producer_byte_rate": float(RATE)})])
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, client_id=client, acks="all",
                      linger_ms=5)
    try:
        futures = [p.send(topic, value=payload(i), partition=0) for i in range(RECORDS)]
        p.flush(90)
        assert [f.get(10).offset for f in futures] == list(range(RECORDS))
        assert kp_throttle_max(p.metrics(), "producer") > 0
    finally:
        p.close(timeout=10)
    assert read_all(broker.bootstrap, topic, RECORDS) == \
        [(i, payload(i)) for i in range(RECORDS)]


def test_kafka_python_consumer_over_consumer_byte_rate_is_throttled(broker, topic):
    """A kafka-python consumer whose client id has consumer_byte_rate=RATE
    reads 12 s worth: throttled fetches come back empty and it fetches again
    later, ending with every record once and in order; its throttle-time-max
    is > 0, an unquota'd consumer's 0."""
    create_topic(broker.bootstrap, topic)
    values = [payload(i) for i in range(RECORDS)]
    # small batches, so that a fetch within the quota's window can be answered
    reports, _ = confluent_produce(broker.bootstrap, topic, uid("q-writer"), values,
                                   **{"batch.size": 16384})
    assert reports == [(None, i) for i in range(RECORDS)]
    limited = uid("q-cons")
    set_quotas(broker.port, [({"client-id": limited}, {"consumer_byte_rate": float(RATE)})])

    def consume(client_id: str) -> tuple[list[tuple[int, bytes]], float]:
        c = KafkaConsumer(bootstrap_servers=broker.bootstrap, client_id=client_id,
                          enable_auto_commit=False, auto_offset_reset="earliest")
        try:
            got = poll_from_start(c, topic, RECORDS, 90)
            # a little more: nothing after the end
            for records in c.poll(timeout_ms=300).values():
                got += [(r.offset, r.value) for r in records]
            return got, kp_throttle_max(c.metrics(), "consumer")
        finally:
            c.close()

    got, throttle = consume(limited)
    assert got == list(enumerate(values))
    assert throttle > 0
    got, throttle = consume(uid("q-cons-free"))
    assert got == list(enumerate(values))
    assert throttle == 0


def test_byte_rate_quotas_hold_a_producer_and_a_consumer_within_20_percent(broker_factory):
    """Measured over the last 10 s of each: a confluent-kafka producer with
    producer_byte_rate=50 kB/s and then a kafka-python consumer with
    consumer_byte_rate=50 kB/s, each moving 18 s worth, get within 20% of
    the quota, and see throttle times > 0. The broker's quota window is 4
    one-second samples (`quota.window.num=4`): the first 4 s worth pass at
    once, as a window starts padded, and the 10 s measured are past it
    (with Kafka's 11 s window they would still see that burst leave it)."""
    rate, count = 50_000, 900
    broker = broker_factory(**{"quota.window.num": "4"})
    topic = uid("q-steady")
    create_topic(broker.bootstrap, topic)
    producer_id, consumer_id = uid("q-steady-prod"), uid("q-steady-cons")
    set_quotas(broker.port, [({"client-id": producer_id}, {"producer_byte_rate": float(rate)}),
                             ({"client-id": consumer_id}, {"consumer_byte_rate": float(rate)})])
    values = [payload(i) for i in range(count)]

    def last_seconds(times: list[float], span: float = 10.0) -> float:
        """Bytes a second over the last `span` seconds of `times`."""
        end = max(times)
        assert end - min(times) > span + 2, "too short to measure a steady rate"
        return sum(RECORD_BYTES for t in times if t > end - span) / span

    throttles: list[float] = []
    delivered: list[tuple[int, float]] = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "client.id": producer_id,
                  "acks": "all", "linger.ms": 5, "batch.size": 16384,
                  "throttle_cb": lambda ev: throttles.append(ev.throttle_time)})
    for v in values:
        p.produce(topic, value=v, partition=0, on_delivery=lambda err, msg: delivered.append(
            (msg.offset() if err is None else -1, time.monotonic())))
        p.poll(0)
    assert p.flush(90) == 0
    assert sorted(o for o, _ in delivered) == list(range(count))
    produced = last_seconds([t for _, t in delivered])
    assert 0.8 * rate <= produced <= 1.2 * rate, produced
    assert throttles and max(throttles) > 0, throttles

    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, client_id=consumer_id,
                      enable_auto_commit=False, max_partition_fetch_bytes=16384,
                      fetch_max_bytes=16384)
    try:
        tp = KTP(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        got: list[tuple[int, float]] = []
        deadline = time.monotonic() + 90
        while len(got) < count and time.monotonic() < deadline:
            for records in c.poll(timeout_ms=500).values():
                now = time.monotonic()
                got += [(r.offset, now) for r in records]
        assert [o for o, _ in got] == list(range(count))
        consumed = last_seconds([t for _, t in got])
        assert 0.8 * rate <= consumed <= 1.2 * rate, consumed
        assert kp_throttle_max(c.metrics(), "consumer") > 0
    finally:
        c.close()


def _metadata_throttle(sock: socket.socket, corr: int, client_id: str) -> int:
    """Metadata v4 for no topics; returns its throttle_time_ms."""
    sock.sendall(w.frame(w.request_header(3, 4, corr, client_id) + w.i32(0) + w.i8(0)))
    r = w.Reader(w.recv_frame(sock))
    assert r.i32() == corr
    return r.i32()


def test_request_percentage_throttles_a_busy_client(broker):
    """request_percentage (KIP-124) on a client id: a raw client sending
    Metadata requests back to back gets a response with throttle_time_ms > 0
    (at most the 1 s a request throttle is bounded to) and is served again
    after it; another client id on another connection never is."""
    limited, free = uid("q-req"), uid("q-req-free")
    set_quotas(broker.port, [({"client-id": limited}, {"request_percentage": 0.001})])
    with w.connect("127.0.0.1", broker.port) as s:
        throttles = []
        deadline = time.monotonic() + 60
        while not any(throttles) and time.monotonic() < deadline:
            throttles.append(_metadata_throttle(s, len(throttles) + 1, limited))
        assert any(throttles), f"{len(throttles)} requests, none throttled"
        assert 0 < max(throttles) <= 1000, throttles
        # muted until the throttle time has passed, then answered
        assert _metadata_throttle(s, 100000, limited) >= 0
    with w.connect("127.0.0.1", broker.port) as s:
        assert [_metadata_throttle(s, i + 1, free) for i in range(len(throttles) + 50)] == \
            [0] * (len(throttles) + 50)


# ===========================================================================
# 5. controller_mutation_rate (KIP-599)
# ===========================================================================

def test_controller_mutation_rate_refuses_kafka_python_with_error_89(broker):
    """kafka-python's admin sends CreateTopics v7, CreatePartitions v3 and
    DeleteTopics v6, which are strict: with controller_mutation_rate=1 (a
    burst of 11 partitions) the request that overdraws the bucket is
    accepted, the next topic is refused with THROTTLING_QUOTA_EXCEEDED and
    nothing happens to it."""
    creator, grower, deleter = uid("q-mut-c"), uid("q-mut-p"), uid("q-mut-d")
    set_quotas(broker.port, [({"client-id": c}, {"controller_mutation_rate": 1.0})
                             for c in (creator, grower, deleter)])
    big, small = unique_topic("q-mut-big"), unique_topic("q-mut-small")
    grown, doomed, kept = (unique_topic("q-mut-grown"), unique_topic("q-mut-doomed"),
                           unique_topic("q-mut-kept"))
    for t, n in ((grown, 1), (doomed, 20), (kept, 1)):
        create_topic(broker.bootstrap, t, n)
    free = KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id=uid("q-mut-free"))

    def errors(result: dict) -> dict:
        key = "topics" if "topics" in result else "results"
        return {t["name"]: t["error_code"] for t in result[key]}

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id=creator)
    try:
        assert errors(admin.create_topics({big: {"num_partitions": 20,
                                                 "replication_factor": 1}},
                                          raise_errors=False)) == {big: NONE}
        assert errors(admin.create_topics({small: {"num_partitions": 1,
                                                   "replication_factor": 1}},
                                          raise_errors=False)) == {small: THROTTLING_QUOTA_EXCEEDED}
    finally:
        admin.close()

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id=grower)
    try:
        result = admin.create_partitions({grown: 21}, raise_errors=False)
        assert {r.name: r.error_code for r in result.results} == {grown: NONE}
        result = admin.create_partitions({grown: 22}, raise_errors=False)
        assert {r.name: r.error_code for r in result.results} == \
            {grown: THROTTLING_QUOTA_EXCEEDED}
    finally:
        admin.close()

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id=deleter)
    try:
        assert errors(admin.delete_topics([doomed], raise_errors=False)) == {doomed: NONE}
        assert errors(admin.delete_topics([kept], raise_errors=False)) == \
            {kept: THROTTLING_QUOTA_EXCEEDED}
    finally:
        admin.close()

    try:
        names = set(free.list_topics())
        assert big in names and small not in names and kept in names
        wait_until(lambda: doomed not in set(free.list_topics()), 15, what=f"{doomed} deleted")
        described = {t["name"]: len(t["partitions"]) for t in free.describe_topics([big, grown])}
        assert described == {big: 20, grown: 21}
    finally:
        free.close()


def test_controller_mutation_rate_throttles_librdkafka_old_versions(broker):
    """librdkafka sends CreateTopics v4 (below v6: permissive): with
    controller_mutation_rate=2 (a burst of 22) a 24-partition topic and the
    topic after it are both created, and throttle_cb reports the throttle."""
    client = uid("q-mut-rk")
    set_quotas(broker.port, [({"client-id": client}, {"controller_mutation_rate": 2.0})])
    throttles: list[float] = []
    admin = AdminClient({"bootstrap.servers": broker.bootstrap, "client.id": client,
                         "throttle_cb": lambda ev: throttles.append(ev.throttle_time)})
    first, second = unique_topic("q-mut-rk1"), unique_topic("q-mut-rk2")
    admin.create_topics([NewTopic(first, 24, 1)])[first].result(30)
    admin.create_topics([NewTopic(second, 1, 1)])[second].result(30)
    wait_until(lambda: (admin.poll(0.2), any(throttles))[1], 10, what="a throttle reported")
    assert max(throttles) > 0
    topics = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10).topics
    assert len(topics[first].partitions) == 24 and len(topics[second].partitions) == 1


# ===========================================================================
# 6. connection_creation_rate (KIP-612)
# ===========================================================================

def _api_versions_answered(source: str, port: int) -> bool | None:
    """Connects from `source`, sends ApiVersions v0: True if answered, False
    if the broker closed the connection without a byte, None if neither
    happened within 5 s."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((source, 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        try:
            s.sendall(w.frame(w.request_header(18, 0, 7, "q-conn")))
        except OSError:
            return False
        try:
            res = w.parse_api_versions_v0(w.recv_frame(s))
            return res.correlation_id == 7 and res.error_code == 0
        except socket.timeout:
            return None
        except OSError:          # closed (EOF) or reset
            return False
    finally:
        s.close()


@pytest.mark.parametrize("entity", ["127.0.0.1", "localhost"])
def test_connection_creation_rate_closes_connections_over_it(broker_factory, entity):
    """connection_creation_rate=2 for 127.0.0.1, named as such (raw
    AlterClientQuotas) or as the host name `localhost` (Kafka's
    kafka-configs, and the broker resolves it as Kafka does): of 30
    connections opened at once, some are answered, the others are closed
    unanswered; connections from 127.0.0.2 are all answered; an
    established connection is not affected, and once the quota is removed
    new ones are answered again."""
    b = broker_factory()
    with w.connect("127.0.0.1", b.port) as admin:
        if entity == "localhost":
            out = config_command(f"127.0.0.1:{b.port}", "--alter", "--add-config",
                                 "connection_creation_rate=2", "--entity-type", "ips",
                                 "--entity-name", entity)
            assert "Completed updating config for ip localhost." in out.splitlines(), out
            # A name that does not resolve is refused, as Kafka refuses it.
            unknown = {"ip": "no-such-host.invalid"}
            assert codes(alter_raw(admin, [(unknown, {"connection_creation_rate": 2.0})])) == \
                {entity_key(unknown): INVALID_REQUEST}
        else:
            assert codes(alter_raw(admin, [({"ip": entity},
                                            {"connection_creation_rate": 2.0})])) == \
                {entity_key({"ip": entity}): NONE}
        wait_until(lambda: describe_raw(admin, [("ip", 0, entity)])[2], 10,
                   what="the ip quota served")
        with ThreadPoolExecutor(30) as pool:
            outcomes = list(pool.map(lambda _: _api_versions_answered("127.0.0.1", b.port),
                                     range(30)))
        assert None not in outcomes, outcomes
        assert 2 <= outcomes.count(True) < 30, outcomes
        assert outcomes.count(False) > 0, outcomes
        with ThreadPoolExecutor(10) as pool:
            other = list(pool.map(lambda _: _api_versions_answered("127.0.0.2", b.port),
                                  range(10)))
        assert other == [True] * 10
        # the connection made before the burst still works
        assert codes(alter_raw(admin, [({"ip": entity},
                                        {"connection_creation_rate": None})])) == \
            {entity_key({"ip": entity}): NONE}
        wait_until(lambda: describe_raw(admin, [("ip", 0, entity)])[2] == {}, 10,
                   what="the ip quota removed")
    assert [_api_versions_answered("127.0.0.1", b.port) for _ in range(10)] == [True] * 10


# ===========================================================================
# 7. Authorization
# ===========================================================================

@pytest.fixture(scope="module")
def acl_broker():
    """test_acls' broker: SASL/PLAIN users, StandardAuthorizer, admin a super user."""
    b = acls.sasl_broker("quota-acls")
    yield b
    acls.forget_admins(b)
    b.cleanup()


def test_quota_apis_need_cluster_describe_configs_and_alter_configs(acl_broker, tmp_path):
    """DescribeClientQuotas needs DESCRIBE_CONFIGS on the cluster (else
    CLUSTER_AUTHORIZATION_FAILED, no entries, no message); AlterClientQuotas
    ALTER_CONFIGS (else 31 per entity, "Cluster authorization failed.", and
    nothing changes); ALTER_CONFIGS implies DESCRIBE_CONFIGS. Raw requests
    as alice, then kafka-configs as alice and as admin."""
    a = acls
    b = acl_broker
    name = uid("q-acl")
    entity = {"client-id": name}
    alter = [(entity, {"producer_byte_rate": 1024.0})]
    describe = [("client-id", 0, name)]

    def alice() -> a.Wire:
        return a.Wire(b, "alice")

    def admin_sees() -> dict:
        with a.Wire(b, "admin") as s:
            error, _, entries = describe_raw(s.sock, describe)
        assert error == NONE
        return entries

    for version in (0, 1):
        with alice() as s:
            assert describe_raw(s.sock, describe, version=version) == \
                (CLUSTER_AUTHORIZATION_FAILED, None, None)
            assert alter_raw(s.sock, alter, version=version) == {
                entity_key(entity): (CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed.")}
    assert admin_sees() == {}

    def props(user: str) -> str:
        path = tmp_path / f"{user}.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in a.java_config(b, user).items()
                                if k != "bootstrap.servers"))
        return str(path)

    with pytest.raises(java_client.JavaClientError, match="ClusterAuthorizationException"):
        config_command(b.sasl_bootstrap, "--alter", "--add-config", "producer_byte_rate=1024",
                       "--entity-type", "clients", "--entity-name", name,
                       command_config=props("alice"))
    assert admin_sees() == {}

    describe_acl = a.cluster_acl("alice", AclOperation.DESCRIBE_CONFIGS)
    a.grant(b, describe_acl)
    with alice() as s:
        assert describe_raw(s.sock, describe) == (NONE, None, {})
        assert alter_raw(s.sock, alter) == {
            entity_key(entity): (CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed.")}
    assert admin_sees() == {}
    a.revoke(b, describe_acl)

    alter_acl = a.cluster_acl("alice", AclOperation.ALTER_CONFIGS)
    a.grant(b, alter_acl)
    try:
        with alice() as s:
            assert codes(alter_raw(s.sock, alter)) == {entity_key(entity): NONE}
            wait_until(lambda: describe_raw(s.sock, describe)[2], 10, what="the quota served")
            assert describe_raw(s.sock, describe) == \
                (NONE, None, {entity_key(entity): {"producer_byte_rate": 1024.0}})
        out = config_command(b.sasl_bootstrap, "--alter", "--add-config",
                             "consumer_byte_rate=4096", "--entity-type", "clients",
                             "--entity-name", name, command_config=props("alice"))
        assert f"Completed updating config for client {name}." in out.splitlines()
    finally:
        a.revoke(b, alter_acl)
    out = config_command(b.sasl_bootstrap, "--describe", "--entity-type", "clients",
                         "--entity-name", name, command_config=props("admin"))
    assert quota_lines(out) == {f"client-id '{name}'": {"producer_byte_rate=1024.0",
                                                       "consumer_byte_rate=4096.0"}}


def test_a_user_quota_applies_to_the_authenticated_principal(acl_broker):
    """producer_byte_rate on user=bob: bob producing over SASL/PLAIN is
    throttled, alice producing as much is not; both have every record
    acknowledged at its offset."""
    a = acls
    b = acl_broker
    topic = a.create_topic(b)
    a.grant(b, a.topic_acl("bob", topic, AclOperation.WRITE),
            a.topic_acl("alice", topic, AclOperation.WRITE))
    with a.Wire(b, "admin") as s:
        assert codes(alter_raw(s.sock, [({"user": "bob"},
                                         {"producer_byte_rate": float(RATE)})])) == \
            {entity_key({"user": "bob"}): NONE}
        wait_until(lambda: describe_raw(s.sock, [("user", 0, "bob")])[2], 10,
                   what="the quota served")
    values = [payload(i) for i in range(RECORDS)]

    def produce(user: str) -> tuple[list, list[float]]:
        throttles: list[float] = []
        reports: list = []
        p = Producer(a.cf(b, user, acks="all", **{"linger.ms": 20},
                          throttle_cb=lambda ev: throttles.append(ev.throttle_time)))
        for v in values:
            p.produce(topic, value=v, partition=0,
                      on_delivery=lambda err, msg: reports.append((err, msg.offset())))
            p.poll(0)
        assert p.flush(60) == 0
        p.poll(0.2)
        return reports, throttles

    try:
        reports, throttles = produce("bob")
        assert reports == [(None, i) for i in range(RECORDS)]
        assert throttles and max(throttles) > 0, throttles
        reports, throttles = produce("alice")
        assert reports == [(None, RECORDS + i) for i in range(RECORDS)]
        assert all(t == 0 for t in throttles), throttles
    finally:
        with a.Wire(b, "admin") as s:
            alter_raw(s.sock, [({"user": "bob"}, {"producer_byte_rate": None})])


# ===========================================================================
# 8. Restart
# ===========================================================================

def test_quotas_survive_a_restart(broker_factory):
    """Quotas (named and default entities of every type, an updated and a
    removed key) are described the same after a SIGTERM restart and after a
    SIGKILL, and a producer quota is still enforced."""
    b = broker_factory()
    set_quotas(b.port, [
        ({"client-id": "prod"}, {"producer_byte_rate": float(RATE), "request_percentage": 50.0}),
        ({"user": "carol"}, {"consumer_byte_rate": 5000.0, "controller_mutation_rate": 0.5}),
        ({"user": "carol", "client-id": None}, {"producer_byte_rate": 6000.0}),
        ({"user": None}, {"request_percentage": 200.0}),
        ({"client-id": None}, {"consumer_byte_rate": 1e9}),
        ({"ip": "192.0.2.9"}, {"connection_creation_rate": 7.0}),
    ])
    set_quotas(b.port, [({"user": "carol"}, {"consumer_byte_rate": 5500.0,
                                             "controller_mutation_rate": None})])
    expected = {
        entity_key({"client-id": "prod"}): {"producer_byte_rate": float(RATE),
                                            "request_percentage": 50.0},
        entity_key({"user": "carol"}): {"consumer_byte_rate": 5500.0},
        entity_key({"user": "carol", "client-id": None}): {"producer_byte_rate": 6000.0},
        entity_key({"user": None}): {"request_percentage": 200.0},
        entity_key({"client-id": None}): {"consumer_byte_rate": 1e9},
        entity_key({"ip": "192.0.2.9"}): {"connection_creation_rate": 7.0},
    }
    assert describe_all(b.port) == expected
    assert b.stop() == 0
    b.start()
    assert describe_all(b.port) == expected
    b.kill()
    b.start()
    assert describe_all(b.port) == expected

    topic = unique_topic("q-restart")
    create_topic(b.bootstrap, topic)
    values = [payload(i) for i in range(RECORDS)]
    reports, throttles = confluent_produce(b.bootstrap, topic, "prod", values)
    assert reports == [(None, i) for i in range(RECORDS)]
    assert throttles and max(throttles) > 0, throttles


def test_metrics_show_each_metered_clients_rate(broker_factory):
    """`/metrics` shows each metered client's rate by its quota entity
    (Kafka's per-user/client-id `byte-rate` sensors): a confluent-kafka
    producer under a client-id producer_byte_rate, and a kafka-python
    consumer under a default consumer_byte_rate."""
    import urllib.request

    from conftest import free_port

    admin_port = free_port()
    b = broker_factory(**{"admin.listener": f"127.0.0.1:{admin_port}"})
    producer_id, consumer_id = uid("m-prod"), uid("m-cons")
    set_quotas(b.port, [({"client-id": producer_id}, {"producer_byte_rate": 1e9}),
                        ({"client-id": None}, {"consumer_byte_rate": 1e9})])
    topic = unique_topic("q-metrics")
    create_topic(b.bootstrap, topic)
    reports, _ = confluent_produce(b.bootstrap, topic, producer_id,
                                   [payload(i) for i in range(20)])
    assert reports == [(None, i) for i in range(20)]
    consumer = KafkaConsumer(bootstrap_servers=b.bootstrap, client_id=consumer_id,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    consumer.assign([KTP(topic, 0)])
    assert len(list(consumer)) == 20
    consumer.close()

    def rates() -> dict[tuple[str, str, str], float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics") as answer:
            text = answer.read().decode()
        found = {}
        for line in text.splitlines():
            if line.startswith("gregor_quota_client_rate{"):
                labels, value = line[len("gregor_quota_client_rate{"):].rsplit("} ", 1)
                parts = dict(part.split("=", 1) for part in labels.split(","))
                key = tuple(parts[k].strip('"') for k in ("quota", "user", "client_id"))
                found[key] = float(value)
        return found

    measured = rates()
    assert measured.get(("producer_byte_rate", "", producer_id), 0) > 0, measured
    # A default client-id quota meters each client id on its own.
    assert measured.get(("consumer_byte_rate", "", consumer_id), 0) > 0, measured


def test_metrics_show_each_clients_throttle_time(broker_factory):
    """`/metrics` adds up the time each metered client was throttled for,
    by quota entity (Kafka's per-client `throttle-time` sensors): a
    confluent-kafka producer over its producer_byte_rate was throttled for
    at least the longest throttle librdkafka reported, a kafka-python
    consumer over its consumer_byte_rate for as long as its own
    throttle-time-max at least, and clients within their quotas for none."""
    import urllib.request

    from conftest import free_port

    admin_port = free_port()
    b = broker_factory(**{"admin.listener": f"127.0.0.1:{admin_port}"})
    producer_id, free_id, consumer_id = uid("t-prod"), uid("t-free"), uid("t-cons")
    set_quotas(b.port, [({"client-id": producer_id}, {"producer_byte_rate": float(RATE)}),
                        ({"client-id": free_id}, {"producer_byte_rate": 1e9}),
                        ({"client-id": consumer_id}, {"consumer_byte_rate": float(RATE)})])
    topic = unique_topic("q-throttle-time")
    create_topic(b.bootstrap, topic)
    values = [payload(i) for i in range(RECORDS)]
    reports, throttles = confluent_produce(b.bootstrap, topic, producer_id, values,
                                           **{"batch.size": 16384})
    assert reports == [(None, i) for i in range(RECORDS)]
    assert throttles and max(throttles) > 0, throttles
    reports, free_throttles = confluent_produce(b.bootstrap, topic, free_id, values[:20])
    assert reports == [(None, RECORDS + i) for i in range(20)]
    assert all(t == 0 for t in free_throttles), free_throttles

    c = KafkaConsumer(bootstrap_servers=b.bootstrap, client_id=consumer_id,
                      enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        got = poll_from_start(c, topic, RECORDS + 20, 90)
        consumer_throttle_ms = kp_throttle_max(c.metrics(), "consumer")
    finally:
        c.close()
    assert got == list(enumerate(values + values[:20]))
    assert consumer_throttle_ms > 0

    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics") as answer:
        text = answer.read().decode()
    throttled = {}
    for line in text.splitlines():
        if line.startswith("gregor_quota_client_throttle_seconds_total{"):
            labels, value = line[len("gregor_quota_client_throttle_seconds_total{"):] \
                .rsplit("} ", 1)
            parts = dict(part.split("=", 1) for part in labels.split(","))
            throttled[(parts["quota"].strip('"'), parts["client_id"].strip('"'))] = float(value)
    # confluent-kafka reports seconds, kafka-python milliseconds.
    assert throttled[("producer_byte_rate", producer_id)] >= max(throttles), throttled
    assert throttled[("producer_byte_rate", free_id)] == 0, throttled
    assert throttled[("consumer_byte_rate", consumer_id)] >= consumer_throttle_ms / 1000, throttled
