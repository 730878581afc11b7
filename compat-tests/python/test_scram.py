"""SASL/SCRAM (SCRAM-SHA-256 and SCRAM-SHA-512) on SASL_PLAINTEXT and
SASL_SSL listeners, with Kafka's settings: `sasl.enabled.mechanisms` lists
the SCRAM mechanisms, and the credentials live in the cluster metadata,
written with AlterUserScramCredentials (KIP-554) -- no JAAS file on the
broker.

* Real clients: confluent-kafka's AdminClient creates and describes the
  users; confluent-kafka, kafka-python, aiokafka and Kafka's Java client
  produce and consume (with groups, and in transactions) as them.
* Refusals: a wrong password, an unknown user, a deleted credential, a
  mechanism the user has no credential for, an old password.
* The raw exchange (RFC 5802, computed here with hashlib): the right proof
  authenticates and the server's signature verifies; a forged proof never
  does, and the connection is closed without serving anything more.
* AlterUserScramCredentials / DescribeUserScramCredentials semantics on the
  wire (per-user errors, as Kafka's ScramControlManager answers them).
* Credentials survive a restart and a crash of the broker.
* Re-authentication (KIP-368, `connections.max.reauth.ms`): the lifetime
  SaslAuthenticate tells, the close of an expired session at its next
  request, renewal on the same connection (same principal, same mechanism,
  at most once a second), and librdkafka and kafka-python renewing on their
  own.
* `connection.failed.authentication.delay.ms`: a failure is answered late.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import secrets
import socket
import time

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka import KafkaError as ConfluentError
from confluent_kafka.admin import (
    AdminClient, NewTopic, ScramCredentialInfo, ScramMechanism, UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition
from kafka.errors import KafkaError

import java_client
import kafka_wire as w
from conftest import Broker, free_port, unique_topic, wait_until
from pki import make as make_pki

try:
    import aiokafka
    from aiokafka.helpers import create_ssl_context
except ImportError:  # pragma: no cover
    aiokafka = None

pytestmark = pytest.mark.timeout(120)

SHA256, SHA512 = "SCRAM-SHA-256", "SCRAM-SHA-512"
MECHANISM_CODE = {SHA256: 1, SHA512: 2}
HASH = {SHA256: "sha256", SHA512: "sha512"}
CONFLUENT_MECHANISM = {SHA256: ScramMechanism.SCRAM_SHA_256, SHA512: ScramMechanism.SCRAM_SHA_512}

# Error codes.
NONE = 0
ILLEGAL_SASL_STATE = 34
UNSUPPORTED_SASL_MECHANISM = 33
SASL_AUTHENTICATION_FAILED = 58
RESOURCE_NOT_FOUND = 91
DUPLICATE_RESOURCE = 92
UNACCEPTABLE_CREDENTIAL = 93

# The users the module broker starts with: (name, mechanism, iterations, password).
ALICE = ("alice", SHA256, 8192, "alice-secret")
BOB = ("bob", SHA512, 4096, "bob-secret")

TXN_OVERRIDES = {
    "transaction.state.log.num.partitions": "4",
    "offsets.topic.num.partitions": "3",
    "group.initial.rebalance.delay.ms": "0",
}


def failed(mechanism: str, during: str = "authentication") -> str:
    """Kafka's (deliberately vague) message for any failed SCRAM exchange."""
    return (f"Authentication failed during {during} due to invalid credentials "
            f"with SASL mechanism {mechanism}")


# ---------------------------------------------------------------------------
# Brokers
# ---------------------------------------------------------------------------

def scram_broker(name: str, pki, tls: bool = True, **extra) -> Broker:
    """A broker with PLAINTEXT (its `port`, for admin work), SASL_PLAINTEXT
    (`sasl_port`) and, with `tls`, SASL_SSL (`sasl_ssl_port`) listeners, the
    two SASL ones taking both SCRAM mechanisms. Not started. `users` records
    the credentials the tests created on it: {user: {mechanism code: iterations}}."""
    b = Broker(name=name, overrides={})
    b.sasl_port = free_port()
    b.sasl_ssl_port = free_port() if tls else None
    listeners = f"PLAINTEXT://127.0.0.1:{b.port},SASL_PLAINTEXT://127.0.0.1:{b.sasl_port}"
    if tls:
        listeners += f",SASL_SSL://127.0.0.1:{b.sasl_ssl_port}"
    b.overrides.update({
        "listeners": listeners,
        "advertised.listeners": listeners,
        "sasl.enabled.mechanisms": f"{SHA256},{SHA512}",
        **TXN_OVERRIDES,
        **extra,
    })
    if tls:
        b.overrides["ssl.keystore.location"] = str(pki / "broker-keystore.pem")
    b.users = {}
    return b


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def scram(pki):
    """The module's broker, with alice (SHA-256) and bob (SHA-512) created
    through confluent-kafka's AdminClient; what that call answered is kept in
    `created` for the first test to assert."""
    b = scram_broker("scram", pki)
    b.start()
    try:
        b.created = admin_alter(b, [upsertion(*ALICE), upsertion(*BOB)])
        yield b
    finally:
        b.cleanup()


# ---------------------------------------------------------------------------
# Client configurations
# ---------------------------------------------------------------------------

def address(b: Broker, protocol: str) -> str:
    port = {"PLAINTEXT": b.port, "SASL_PLAINTEXT": b.sasl_port, "SASL_SSL": b.sasl_ssl_port}
    return f"127.0.0.1:{port[protocol]}"


def confluent(b: Broker, pki, protocol: str, mechanism: str, user: str, password: str) -> dict:
    config = {"bootstrap.servers": address(b, protocol), "security.protocol": protocol,
              "sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password}
    if protocol == "SASL_SSL":
        config["ssl.ca.location"] = str(pki / "ca.pem")
    return config


def kafka_python(b: Broker, pki, protocol: str, mechanism: str, user: str,
                 password: str) -> dict:
    config = {"bootstrap_servers": address(b, protocol), "security_protocol": protocol,
              "sasl_mechanism": mechanism, "sasl_plain_username": user,
              "sasl_plain_password": password}
    if protocol == "SASL_SSL":
        config["ssl_cafile"] = str(pki / "ca.pem")
    return config


def aio(b: Broker, pki, protocol: str, mechanism: str, user: str, password: str) -> dict:
    config = {"bootstrap_servers": address(b, protocol), "security_protocol": protocol,
              "sasl_mechanism": mechanism, "sasl_plain_username": user,
              "sasl_plain_password": password}
    if protocol == "SASL_SSL":
        config["ssl_context"] = create_ssl_context(cafile=str(pki / "ca.pem"))
    return config


def java(b: Broker, pki, mechanism: str, user: str, password: str) -> dict:
    return {
        "bootstrap.servers": address(b, "SASL_SSL"),
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule '
                            f'required username="{user}" password="{password}";',
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki / "ca.pem"),
    }


# ---------------------------------------------------------------------------
# confluent-kafka admin helpers (they keep `b.users` up to date)
# ---------------------------------------------------------------------------

def upsertion(user: str, mechanism: str, iterations: int, password: str,
              salt: bytes | None = None) -> UserScramCredentialUpsertion:
    return UserScramCredentialUpsertion(
        user, ScramCredentialInfo(CONFLUENT_MECHANISM[mechanism], iterations),
        password.encode(), salt)


def admin(b: Broker) -> AdminClient:
    return AdminClient({"bootstrap.servers": b.bootstrap})


def admin_alter(b: Broker, alterations: list) -> dict:
    """Applies the alterations; returns {user: None | KafkaError} and records
    the successful ones in `b.users`."""
    client = admin(b)                # alive until the futures are done
    futures = client.alter_user_scram_credentials(alterations)
    out = {}
    for user, future in futures.items():
        try:
            out[user] = future.result(15)
        except KafkaException as e:
            out[user] = e.args[0]
    for a in alterations:
        if out.get(a.user) is not None:
            continue
        if isinstance(a, UserScramCredentialUpsertion):
            info = a.scram_credential_info
            b.users.setdefault(a.user, {})[info.mechanism.value] = info.iterations
        else:
            b.users.get(a.user, {}).pop(a.mechanism.value, None)
            if not b.users.get(a.user, True):
                del b.users[a.user]
    return out


def admin_describe_all(b: Broker) -> dict:
    """{user: sorted [(mechanism code, iterations)]} from describe-all."""
    client = admin(b)
    described = client.describe_user_scram_credentials().result(15)
    return {user: sorted((i.mechanism.value, i.iterations) for i in d.scram_credential_infos)
            for user, d in described.items()}


def expected_users(b: Broker) -> dict:
    return {user: sorted(infos.items()) for user, infos in b.users.items()}


def create_topic(b: Broker, topic: str, partitions: int = 1) -> None:
    client = admin(b)
    client.create_topics([NewTopic(topic, partitions, 1)])[topic].result(15)


# ---------------------------------------------------------------------------
# Client helpers
# ---------------------------------------------------------------------------

def confluent_produce(config: dict, topic: str, values: list[str]) -> list[int]:
    producer = Producer({**config, "acks": "all"})
    reports = []
    for v in values:
        producer.produce(topic, value=v.encode(), partition=0,
                         on_delivery=lambda err, msg: reports.append((err, msg.offset())))
    assert producer.flush(30) == 0
    assert all(err is None for err, _ in reports), reports
    return [offset for _, offset in reports]


def confluent_read(config: dict, topic: str, isolation: str = "read_uncommitted",
                   group: str | None = None, count: int | None = None) -> list[tuple[int, str]]:
    """(offset, value) of partition 0 to its end (assigned), or, with `group`,
    `count` records read in that group (subscribed) and committed."""
    consumer = Consumer({**config, "group.id": group or unique_topic("scram-reader"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": isolation, "enable.partition.eof": group is None})
    try:
        if group is None:
            consumer.assign([TopicPartition(topic, 0, 0)])
        else:
            consumer.subscribe([topic])
        got = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == ConfluentError._PARTITION_EOF:
                    break
                raise KafkaException(msg.error())
            got.append((msg.offset(), msg.value().decode()))
            if group is not None and len(got) == count:
                consumer.commit(asynchronous=False)
                committed = consumer.committed([TopicPartition(topic, 0)], timeout=10)
                got.append(("committed", committed[0].offset))
                break
        return got
    finally:
        consumer.close()


def confluent_auth_errors(config: dict, wait: float = 10) -> list:
    """The errors librdkafka's error callback reports while a producer with
    `config` tries to connect."""
    errors = []
    producer = Producer({**config, "log_level": 0, "error_cb": errors.append})
    deadline = time.monotonic() + wait
    while not errors and time.monotonic() < deadline:
        producer.poll(0.2)
    return errors


def assert_confluent_refused(config: dict, mechanism: str) -> None:
    errors = confluent_auth_errors(config)
    assert errors, "no error reported"
    assert errors[0].code() == ConfluentError._AUTHENTICATION, errors
    assert failed(mechanism) in errors[0].str(), errors[0].str()
    # and nothing is served to it
    with pytest.raises(KafkaException):
        Producer({**config, "log_level": 0}).list_topics(timeout=0.5)


def run(coro, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


# ---------------------------------------------------------------------------
# The raw exchange
# ---------------------------------------------------------------------------

def handshake(s: socket.socket, mechanism: str, corr: int) -> tuple[int, list[str]]:
    """SaslHandshake v1: (error code, enabled mechanisms)."""
    s.sendall(w.frame(w.request_header(17, 1, corr) + w.string(mechanism)))
    r = w.Reader(w.recv_frame(s))
    assert r.i32() == corr
    error = r.i16()
    return error, [r.string() for _ in range(r.i32())]


def authenticate(s: socket.socket, token: bytes, corr: int,
                 version: int = 1) -> tuple[int, str | None, bytes, int | None]:
    """SaslAuthenticate v0/v1: (error code, error message, auth bytes,
    session lifetime ms (None in v0))."""
    s.sendall(w.frame(w.request_header(36, version, corr) + w.nbytes(token)))
    r = w.Reader(w.recv_frame(s))
    assert r.i32() == corr
    error, message = r.i16(), r.string()
    auth_bytes = r.take(r.i32())
    lifetime = r.i64() if version >= 1 else None
    assert r.remaining == 0
    return error, message, auth_bytes, lifetime


def scram_keys(mechanism: str, password: str, salt: bytes, iterations: int):
    """(SaltedPassword, ClientKey, StoredKey, ServerKey) of RFC 5802."""
    h = HASH[mechanism]
    salted = hashlib.pbkdf2_hmac(h, password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", h).digest()
    server_key = hmac.new(salted, b"Server Key", h).digest()
    return salted, client_key, hashlib.new(h, client_key).digest(), server_key


class ScramExchange:
    """The client side of one SCRAM exchange (RFC 5802), step by step."""

    def __init__(self, mechanism: str, user: str, password: str):
        self.mechanism, self.user, self.password = mechanism, user, password
        self.client_nonce = secrets.token_hex(16)
        self.bare = f"n={user},r={self.client_nonce}"

    def client_first(self, authzid: str = "") -> bytes:
        return f"n,{'a=' + authzid if authzid else ''},{self.bare}".encode()

    def server_first(self, data: bytes) -> None:
        self.server_first_text = data.decode()
        fields = dict(p.split("=", 1) for p in self.server_first_text.split(","))
        assert set(fields) == {"r", "s", "i"}, self.server_first_text
        self.nonce, self.salt, self.iterations = fields["r"], base64.b64decode(fields["s"]), \
            int(fields["i"])

    def auth_message(self, nonce: str) -> bytes:
        return f"{self.bare},{self.server_first_text},c=biws,r={nonce}".encode()

    def proof(self, password: str | None = None, nonce: str | None = None) -> bytes:
        h = HASH[self.mechanism]
        _, client_key, stored_key, _ = scram_keys(
            self.mechanism, password or self.password, self.salt, self.iterations)
        signature = hmac.new(stored_key, self.auth_message(nonce or self.nonce), h).digest()
        return bytes(a ^ b for a, b in zip(client_key, signature))

    def client_final(self, proof: bytes | None = None, nonce: str | None = None) -> bytes:
        nonce = nonce or self.nonce
        proof = self.proof(nonce=nonce) if proof is None else proof
        return f"c=biws,r={nonce},p={base64.b64encode(proof).decode()}".encode()

    def server_final(self) -> bytes:
        """The `v=` the server must answer to the right proof."""
        _, _, _, server_key = scram_keys(self.mechanism, self.password, self.salt, self.iterations)
        signature = hmac.new(server_key, self.auth_message(self.nonce), HASH[self.mechanism])
        return b"v=" + base64.b64encode(signature.digest())


def scram_login(s: socket.socket, mechanism: str, user: str, password: str, corr: int = 1,
                version: int = 1) -> tuple[tuple, ScramExchange]:
    """Handshake and both SCRAM steps on `s` (asserting that the handshake and
    the first step succeed); returns the last SaslAuthenticate's answer and
    the exchange."""
    assert handshake(s, mechanism, corr) == (NONE, [SHA256, SHA512])
    x = ScramExchange(mechanism, user, password)
    error, message, first, lifetime = authenticate(s, x.client_first(), corr + 1, version)
    assert (error, message) == (NONE, None), (error, message)
    assert lifetime in (0, None)            # the session begins with the last step
    x.server_first(first)
    assert x.nonce.startswith(x.client_nonce) and len(x.nonce) > len(x.client_nonce)
    return authenticate(s, x.client_final(), corr + 2, version), x


def served(s: socket.socket, corr: int) -> bool:
    """A Metadata request on `s` is answered."""
    s.sendall(w.metadata_v4_request(corr, None, allow_auto_create=False))
    got, _ = w.parse_metadata_v4(w.recv_frame(s))
    return got == corr


def refused_from_now_on(s: socket.socket, timeout: float = 5) -> bool:
    """A Metadata request on `s` gets no answer: the broker closes the
    connection (False as soon as anything comes back)."""
    try:
        s.sendall(w.metadata_v4_request(999, None, allow_auto_create=False))
    except OSError:
        return True                         # already closed
    s.settimeout(timeout)
    try:
        return s.recv(65536) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


# ---------------------------------------------------------------------------
# AlterUserScramCredentials (51) / DescribeUserScramCredentials (50), v0 (flexible)
# ---------------------------------------------------------------------------

def compact_array(items: list[bytes] | None) -> bytes:
    if items is None:
        return w.uvarint(0)
    return w.uvarint(len(items) + 1) + b"".join(items)


def flexible_call(port: int, api_key: int, body: bytes) -> w.Reader:
    with w.connect("127.0.0.1", port) as s:
        s.sendall(w.frame(w.request_header(api_key, 0, 7, flexible=True) + body + w.TAGS_NONE))
        r = w.Reader(w.recv_frame(s))
    assert r.i32() == 7
    r.skip_tags()
    return r


def alter_raw(port: int, deletions: list[tuple[str, int]] = (),
              upsertions: list[tuple[str, int, int, bytes, bytes]] = ()) -> list[tuple]:
    """[(user, error code, error message)] in the order answered."""
    body = compact_array([w.compact_string(name) + w.i8(mech) + w.TAGS_NONE
                          for name, mech in deletions])
    body += compact_array([w.compact_string(name) + w.i8(mech) + w.i32(iterations)
                           + w.compact_bytes(salt) + w.compact_bytes(salted) + w.TAGS_NONE
                           for name, mech, iterations, salt, salted in upsertions])
    r = flexible_call(port, 51, body)
    r.i32()                                     # throttle time
    results = []
    for _ in range(r.array_len(True)):
        results.append((r.compact_string(), r.i16(), r.compact_string()))
        r.skip_tags()
    r.skip_tags()
    assert r.remaining == 0
    return results


def describe_raw(port: int, users: list[str] | None) -> tuple[int, str | None, list[tuple]]:
    """(error code, error message, [(user, error, message, sorted [(mechanism, iterations)])])."""
    body = compact_array(None if users is None else
                         [w.compact_string(u) + w.TAGS_NONE for u in users])
    r = flexible_call(port, 50, body)
    r.i32()                                     # throttle time
    error, message = r.i16(), r.compact_string()
    results = []
    for _ in range(r.array_len(True)):
        user, code, text = r.compact_string(), r.i16(), r.compact_string()
        infos = []
        for _ in range(r.array_len(True)):
            infos.append((r.i8(), r.i32()))
            r.skip_tags()
        r.skip_tags()
        results.append((user, code, text, sorted(infos)))
    r.skip_tags()
    assert r.remaining == 0
    return error, message, results


def raw_upsertion(user: str, mechanism: str, iterations: int, password: str,
                  salt: bytes) -> tuple:
    salted = scram_keys(mechanism, password, salt, iterations)[0]
    return (user, MECHANISM_CODE[mechanism], iterations, salt, salted)


# ===========================================================================
# 1. Admin-created users; three clients produce and consume as them
# ===========================================================================

def test_admin_creates_users_and_three_clients_produce_and_consume(scram, pki):
    # What the fixture's alter_user_scram_credentials answered: both succeeded.
    assert scram.created == {"alice": None, "bob": None}
    described = admin_describe_all(scram)
    assert (described["alice"], described["bob"]) == ([(1, 8192)], [(2, 4096)])
    assert described == expected_users(scram)
    client = admin(scram)
    one = client.describe_user_scram_credentials(["alice", "bob"])
    alice, bob = one["alice"].result(15), one["bob"].result(15)
    assert (alice.user, [(i.mechanism, i.iterations) for i in alice.scram_credential_infos]) == \
        ("alice", [(ScramMechanism.SCRAM_SHA_256, 8192)])
    assert (bob.user, [(i.mechanism, i.iterations) for i in bob.scram_credential_infos]) == \
        ("bob", [(ScramMechanism.SCRAM_SHA_512, 4096)])

    topic = unique_topic("scram-clients")
    create_topic(scram, topic)
    alice_ssl = confluent(scram, pki, "SASL_SSL", SHA256, "alice", "alice-secret")
    # Metadata on the SASL_SSL listener names that listener.
    metadata = AdminClient(alice_ssl).list_topics(timeout=15)
    assert (metadata.brokers[1].host, metadata.brokers[1].port) == \
        ("127.0.0.1", scram.sasl_ssl_port)
    assert metadata.topics[topic].error is None

    # confluent-kafka as alice, SCRAM-SHA-256 over TLS.
    assert confluent_produce(alice_ssl, topic, [f"cf-{i}" for i in range(4)]) == [0, 1, 2, 3]

    # kafka-python as bob, SCRAM-SHA-512 without TLS.
    bob_plain = kafka_python(scram, pki, "SASL_PLAINTEXT", SHA512, "bob", "bob-secret")
    kp = KafkaProducer(acks="all", **bob_plain)
    sent = [kp.send(topic, value=f"kp-{i}".encode(), partition=0) for i in range(4)]
    kp.flush(30)
    assert [f.get(10).offset for f in sent] == [4, 5, 6, 7]
    kp.close()

    expected = [f"cf-{i}" for i in range(4)] + [f"kp-{i}" for i in range(4)]
    if aiokafka is not None:
        # aiokafka as bob, SCRAM-SHA-512 over TLS.
        async def aio_produce():
            p = aiokafka.AIOKafkaProducer(acks="all", **aio(scram, pki, "SASL_SSL", SHA512,
                                                            "bob", "bob-secret"))
            await p.start()
            try:
                return [(await p.send_and_wait(topic, f"aio-{i}".encode(), partition=0)).offset
                        for i in range(2)]
            finally:
                await p.stop()
        assert run(aio_produce()) == [8, 9]
        expected += ["aio-0", "aio-1"]
    n = len(expected)

    # Groups: confluent-kafka as alice (SASL_SSL) ...
    got = confluent_read(alice_ssl, topic, group=unique_topic("scram-cf"), count=n)
    assert got == list(enumerate(expected)) + [("committed", n)]

    # ... kafka-python as bob (SASL_PLAINTEXT) ...
    group = unique_topic("scram-kp")
    kc = KafkaConsumer(topic, group_id=group, auto_offset_reset="earliest",
                       consumer_timeout_ms=15000, enable_auto_commit=False, **bob_plain)
    records = []
    for msg in kc:
        records.append((msg.offset, msg.value.decode()))
        if len(records) == n:
            break
    kc.commit()
    assert kc.committed(KpTopicPartition(topic, 0)) == n
    kc.close()
    assert records == list(enumerate(expected))

    # ... and aiokafka as alice (SASL_PLAINTEXT, SCRAM-SHA-256).
    if aiokafka is not None:
        async def aio_consume():
            c = aiokafka.AIOKafkaConsumer(
                topic, group_id=unique_topic("scram-aio"), auto_offset_reset="earliest",
                enable_auto_commit=False,
                **aio(scram, pki, "SASL_PLAINTEXT", SHA256, "alice", "alice-secret"))
            await c.start()
            try:
                out = []
                while len(out) < n:
                    batch = await c.getmany(timeout_ms=1000)
                    out += [(m.offset, m.value.decode()) for ms in batch.values() for m in ms]
                await c.commit()
                tp = aiokafka.TopicPartition(topic, 0)
                return out, await c.committed(tp)
            finally:
                await c.stop()
        assert run(aio_consume()) == (list(enumerate(expected)), n)


# ===========================================================================
# 2. Transactions over SASL_SSL / SCRAM
# ===========================================================================

def test_transactions_over_scram(scram, pki):
    topic = unique_topic("scram-txn")
    create_topic(scram, topic)
    alice_ssl = confluent(scram, pki, "SASL_SSL", SHA256, "alice", "alice-secret")
    producer = Producer({**alice_ssl, "transactional.id": unique_topic("scram-txn-id"),
                         "linger.ms": 5})
    reports = []

    def transaction(values: list[str], commit: bool) -> None:
        producer.begin_transaction()
        for v in values:
            producer.produce(topic, value=v.encode(), partition=0,
                             on_delivery=lambda err, msg: reports.append((err, msg.offset())))
        assert producer.flush(30) == 0
        if commit:
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)

    producer.init_transactions(30)
    transaction(["a-0", "a-1", "a-2"], commit=True)     # 0..2, marker 3
    transaction(["b-0", "b-1"], commit=False)           # 4..5, marker 6
    transaction(["c-0"], commit=True)                   # 7, marker 8
    assert reports == [(None, o) for o in (0, 1, 2, 4, 5, 7)]

    # read_committed (as bob, SCRAM-SHA-512 over TLS) sees the committed ones only.
    bob_ssl = confluent(scram, pki, "SASL_SSL", SHA512, "bob", "bob-secret")
    assert confluent_read(bob_ssl, topic, "read_committed") == \
        [(0, "a-0"), (1, "a-1"), (2, "a-2"), (7, "c-0")]
    # read_uncommitted (as alice over SASL_PLAINTEXT) every data record.
    alice_plain = confluent(scram, pki, "SASL_PLAINTEXT", SHA256, "alice", "alice-secret")
    assert confluent_read(alice_plain, topic, "read_uncommitted") == \
        [(0, "a-0"), (1, "a-1"), (2, "a-2"), (4, "b-0"), (5, "b-1"), (7, "c-0")]
    c = Consumer({**bob_ssl, "group.id": unique_topic("scram-wm")})
    assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (0, 9)
    c.close()


# ===========================================================================
# 3. Refusals
# ===========================================================================

@pytest.mark.parametrize("user,password,mechanism", [
    ("alice", "wrong", SHA256),
    ("alice", "alice-secre", SHA256),
    ("nobody", "alice-secret", SHA256),
    ("alice", "alice-secret", SHA512),      # alice has a SHA-256 credential only
    ("bob", "bob-secret", SHA256),          # bob a SHA-512 one only
], ids=["wrong-password", "password-prefix", "unknown-user", "alice-sha512", "bob-sha256"])
def test_bad_credentials_are_refused(scram, pki, user, password, mechanism, caplog):
    for protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        assert_confluent_refused(confluent(scram, pki, protocol, mechanism, user, password),
                                 mechanism)
    # kafka-python too: it never gets past bootstrapping. (It does not report
    # the broker's message: its transport drops data read together with the
    # FIN, and the failure response and the close come together, from Kafka
    # as from gregor.)
    if (user, password) in (("alice", "wrong"), ("nobody", "alice-secret")):
        log_before = scram.log_tail(100000).count(f"Failed authentication ({failed(mechanism)})")
        with caplog.at_level(logging.WARNING, logger="kafka"):
            with pytest.raises(KafkaError, match="Unable to bootstrap"):
                KafkaProducer(bootstrap_timeout_ms=1500, **kafka_python(
                    scram, pki, "SASL_PLAINTEXT", mechanism, user, password))
        assert not any("Bootstrap complete" in r.getMessage() for r in caplog.records)
        assert scram.log_tail(100000).count(
            f"Failed authentication ({failed(mechanism)})") > log_before


def test_deleted_and_changed_credentials_stop_working(scram, pki):
    topic = unique_topic("scram-erin")
    create_topic(scram, topic)
    erin = lambda mechanism, password="erin-1": confluent(  # noqa: E731
        scram, pki, "SASL_PLAINTEXT", mechanism, "erin", password)
    # One mechanism per request: two for one user in one request are refused.
    assert admin_alter(scram, [upsertion("erin", SHA256, 4096, "erin-1")]) == {"erin": None}
    assert admin_alter(scram, [upsertion("erin", SHA512, 16384, "erin-1")]) == {"erin": None}
    assert confluent_produce(erin(SHA256), topic, ["by-256"]) == [0]
    assert confluent_produce(erin(SHA512), topic, ["by-512"]) == [1]

    # Deleting the SHA-256 credential: that login fails, the SHA-512 one works.
    deletion = UserScramCredentialDeletion("erin", ScramMechanism.SCRAM_SHA_256)
    assert admin_alter(scram, [deletion]) == {"erin": None}
    assert admin_describe_all(scram)["erin"] == [(2, 16384)]
    assert_confluent_refused(erin(SHA256), SHA256)
    assert confluent_produce(erin(SHA512), topic, ["still-512"]) == [2]

    # A new password replaces the old one.
    assert admin_alter(scram, [upsertion("erin", SHA512, 8192, "erin-2")]) == {"erin": None}
    assert admin_describe_all(scram)["erin"] == [(2, 8192)]
    assert_confluent_refused(erin(SHA512, "erin-1"), SHA512)
    assert confluent_produce(erin(SHA512, "erin-2"), topic, ["new-password"]) == [3]

    # The last credential gone, the user is unknown.
    deletion = UserScramCredentialDeletion("erin", ScramMechanism.SCRAM_SHA_512)
    assert admin_alter(scram, [deletion]) == {"erin": None}
    client = admin(scram)
    described = client.describe_user_scram_credentials(["erin"])["erin"]
    with pytest.raises(KafkaException) as e:
        described.result(15)
    assert e.value.args[0].code() == ConfluentError.RESOURCE_NOT_FOUND
    assert "erin" not in admin_describe_all(scram)
    assert_confluent_refused(erin(SHA512, "erin-2"), SHA512)


# ===========================================================================
# 4. The raw exchange
# ===========================================================================

@pytest.mark.parametrize("user,password,mechanism,iterations", [
    ("alice", "alice-secret", SHA256, 8192), ("bob", "bob-secret", SHA512, 4096)])
def test_the_right_proof_authenticates_and_the_server_signature_verifies(
        scram, user, password, mechanism, iterations):
    with w.connect("127.0.0.1", scram.sasl_port) as s:
        (error, message, final, lifetime), x = scram_login(s, mechanism, user, password)
        assert x.iterations == iterations
        assert (error, message, lifetime) == (NONE, None, 0)   # no connections.max.reauth.ms
        assert final == x.server_final()
        assert served(s, 10)
        # No second exchange on an authenticated connection without re-authentication.
        assert handshake(s, mechanism, 11) == (ILLEGAL_SASL_STATE, [])
        assert authenticate(s, x.client_first(), 12)[:2] == (
            ILLEGAL_SASL_STATE, "SaslAuthenticate request received after successful authentication")
        assert served(s, 13)


FORGERIES = {
    "random-proof": lambda x: x.client_final(proof=os.urandom(32)),
    "other-password": lambda x: x.client_final(proof=x.proof(password="alice-secreT")),
    "empty-proof": lambda x: x.client_final(proof=b""),
    "short-proof": lambda x: x.client_final(proof=x.proof()[:16]),
    "flipped-bit": lambda x: x.client_final(proof=bytes([x.proof()[0] ^ 1]) + x.proof()[1:]),
    # the right proof, but over a nonce the server did not choose
    "other-nonce": lambda x: x.client_final(nonce=x.client_nonce + "forged"),
    "client-nonce-only": lambda x: x.client_final(nonce=x.client_nonce),
    "garbage": lambda x: b"not a scram message",
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_client_final_never_authenticates(scram, forge):
    with w.connect("127.0.0.1", scram.sasl_port) as s:
        assert handshake(s, SHA256, 1) == (NONE, [SHA256, SHA512])
        x = ScramExchange(SHA256, "alice", "alice-secret")
        error, _, first, _ = authenticate(s, x.client_first(), 2)
        assert error == NONE
        x.server_first(first)
        assert authenticate(s, forge(x), 3) == (
            SASL_AUTHENTICATION_FAILED, failed(SHA256), b"", 0)
        assert refused_from_now_on(s)
    # and the same exchange with the right proof works on a new connection
    with w.connect("127.0.0.1", scram.sasl_port) as s:
        (error, _, final, _), x = scram_login(s, SHA256, "alice", "alice-secret")
        assert (error, final) == (NONE, x.server_final())


def test_a_failed_authentication_is_answered_after_the_failure_delay(scram):
    """connection.failed.authentication.delay.ms (default 100): Kafka's
    Selector holds the failure response and the close of a connection that
    failed authentication for that long (it slows down password guessing,
    and hides that an unknown user fails one step earlier)."""
    for user, final in (("alice", True), ("nobody", False)):
        with w.connect("127.0.0.1", scram.sasl_port) as s:
            assert handshake(s, SHA256, 1)[0] == NONE
            x = ScramExchange(SHA256, user, "wrong")
            if final:
                error, _, first, _ = authenticate(s, x.client_first(), 2)
                assert error == NONE
                x.server_first(first)
                token = x.client_final()
            else:
                token = x.client_first()
            sent = time.monotonic()
            assert authenticate(s, token, 3)[0] == SASL_AUTHENTICATION_FAILED
            assert time.monotonic() - sent >= 0.09, (user, time.monotonic() - sent)


@pytest.mark.parametrize("user,mechanism,authzid,message", [
    ("nobody", SHA256, "", failed(SHA256)),
    ("bob", SHA256, "", failed(SHA256)),            # bob has no SHA-256 credential
    ("alice", SHA512, "", failed(SHA512)),
    ("alice", SHA256, "bob", "Authentication failed: Client requested an authorization id "
                             "that is different from username"),
], ids=["unknown-user", "bob-sha256", "alice-sha512", "other-authzid"])
def test_the_client_first_message_of_an_unknown_credential_fails_at_once(
        scram, user, mechanism, authzid, message):
    with w.connect("127.0.0.1", scram.sasl_port) as s:
        assert handshake(s, mechanism, 1)[0] == NONE
        x = ScramExchange(mechanism, user, "whatever")
        # No fake server-first: Kafka refuses unknown users right away.
        assert authenticate(s, x.client_first(authzid), 2) == (
            SASL_AUTHENTICATION_FAILED, message, b"", 0)
        assert refused_from_now_on(s)


def test_nothing_but_authentication_is_served_before_it(scram):
    # Before the handshake (after ApiVersions, which is served).
    with w.connect("127.0.0.1", scram.sasl_port) as s:
        versions = w.api_versions_v0(s, 1)
        assert versions.error_code == NONE
        assert versions.api_keys[50] == (0, 0) and versions.api_keys[51] == (0, 0)
        assert refused_from_now_on(s)
    # After the handshake, and between the two SCRAM steps: Kafka may answer
    # that request with its error response (ILLEGAL_SASL_STATE: a Metadata
    # response naming no broker) before closing, but never serves it.
    def not_served(s: socket.socket, corr: int) -> None:
        s.sendall(w.metadata_v4_request(corr, None, allow_auto_create=False))
        closed, got = w.wait_closed(s, 10)
        assert closed
        if got:
            r = w.Reader(got[4:])
            assert (r.i32(), r.i32(), r.i32()) == (corr, 0, 0), got

    with w.connect("127.0.0.1", scram.sasl_port) as s:
        assert handshake(s, SHA256, 1)[0] == NONE
        not_served(s, 2)
    with w.connect("127.0.0.1", scram.sasl_port) as s:
        assert handshake(s, SHA256, 1)[0] == NONE
        x = ScramExchange(SHA256, "alice", "alice-secret")
        assert authenticate(s, x.client_first(), 2)[0] == NONE
        not_served(s, 3)
    # A mechanism that is not enabled (PLAIN) is refused with the enabled ones.
    with w.connect("127.0.0.1", scram.sasl_port) as s:
        assert handshake(s, "PLAIN", 1) == (UNSUPPORTED_SASL_MECHANISM, [SHA256, SHA512])
        closed, got = w.wait_closed(s, 10)
        assert closed and got == b""


# ===========================================================================
# 5. AlterUserScramCredentials / DescribeUserScramCredentials semantics
# ===========================================================================

def test_alter_user_scram_credentials_semantics(scram):
    port = scram.port
    salt = b"gregor-known-salt"
    ok = raw_upsertion("ivan", SHA256, 16384, "ivan-secret", salt)

    # Iterations outside [4096, 16384].
    assert alter_raw(port, upsertions=[raw_upsertion("few", SHA256, 1000, "p", salt)]) == \
        [("few", UNACCEPTABLE_CREDENTIAL, "Too few iterations")]
    assert alter_raw(port, upsertions=[raw_upsertion("many", SHA512, 16385, "p", salt)]) == \
        [("many", UNACCEPTABLE_CREDENTIAL, "Too many iterations")]
    # Unknown mechanism codes, and an empty name.
    assert alter_raw(port, upsertions=[("mech", 3, 4096, salt, b"x" * 32)]) == \
        [("mech", UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism")]
    assert alter_raw(port, deletions=[("mech", 0)]) == \
        [("mech", UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism")]
    assert alter_raw(port, upsertions=[raw_upsertion("", SHA256, 4096, "p", salt)]) == \
        [("", UNACCEPTABLE_CREDENTIAL, "Username must not be empty")]
    # One user twice in a request, even with different mechanisms; a delete and
    # an upsert of one user; nothing is applied for that user.
    twice = "A user credential cannot be altered twice in the same request"
    assert alter_raw(port, upsertions=[raw_upsertion("dup", SHA256, 4096, "p", salt),
                                       raw_upsertion("dup", SHA512, 4096, "p", salt)]) == \
        [("dup", DUPLICATE_RESOURCE, twice)]
    assert alter_raw(port, deletions=[("alice", 1)],
                     upsertions=[raw_upsertion("alice", SHA256, 4096, "p", salt)]) == \
        [("alice", DUPLICATE_RESOURCE, twice)]
    # Deleting what does not exist: an unknown user, or a mechanism alice lacks.
    absent = "Attempt to delete a user credential that does not exist"
    assert alter_raw(port, deletions=[("nobody", 1)]) == [("nobody", RESOURCE_NOT_FOUND, absent)]
    assert alter_raw(port, deletions=[("alice", 2)]) == [("alice", RESOURCE_NOT_FOUND, absent)]
    # Results are per user: a valid upsertion next to a refused one is applied.
    results = alter_raw(port, upsertions=[ok, raw_upsertion("judy", SHA256, 100, "p", salt)])
    assert sorted(results) == [("ivan", NONE, None),
                               ("judy", UNACCEPTABLE_CREDENTIAL, "Too few iterations")]
    scram.users["ivan"] = {1: 16384}
    assert alter_raw(port) == []
    # None of the refused ones exists; alice is untouched.
    for user in ("few", "many", "mech", "dup", "nobody", "judy"):
        assert describe_raw(port, [user]) == (NONE, None, [(
            user, RESOURCE_NOT_FOUND,
            f"Attempt to describe a user credential that does not exist: {user}", [])])
    assert describe_raw(port, ["alice"]) == (NONE, None, [("alice", NONE, None, [(1, 8192)])])

    # ivan logs in with the credential made here: his salt and iterations come back.
    with w.connect("127.0.0.1", scram.sasl_port) as s:
        (error, _, final, _), x = scram_login(s, SHA256, "ivan", "ivan-secret")
        assert (x.salt, x.iterations) == (salt, 16384)
        assert (error, final) == (NONE, x.server_final())

    # Describe: one result per distinct name; a name twice is DUPLICATE_RESOURCE.
    assert describe_raw(port, ["ivan", "ivan"]) == (NONE, None, [(
        "ivan", DUPLICATE_RESOURCE,
        "Cannot describe SCRAM credentials for the same user twice in a single request: ivan",
        [])])
    error, message, results = describe_raw(port, ["ivan", "nobody", "bob"])
    assert (error, message) == (NONE, None)
    assert sorted(results) == [
        ("bob", NONE, None, [(2, 4096)]),
        ("ivan", NONE, None, [(1, 16384)]),
        ("nobody", RESOURCE_NOT_FOUND,
         "Attempt to describe a user credential that does not exist: nobody", [])]
    # Describe-all (null, and the empty array the Java admin sends) lists
    # exactly the users with credentials.
    expected = sorted((u, NONE, None, infos) for u, infos in expected_users(scram).items())
    for users in (None, []):
        error, message, results = describe_raw(port, users)
        assert (error, message, sorted(results)) == (NONE, None, expected)
    assert admin_describe_all(scram) == expected_users(scram)

    # The same answers through confluent-kafka's AdminClient.
    answers = admin_alter(scram, [upsertion("kate", SHA256, 1000, "p"),
                                  upsertion("leo", SHA256, 4096, "p"),
                                  upsertion("leo", SHA512, 4096, "p"),
                                  UserScramCredentialDeletion("nobody",
                                                              ScramMechanism.SCRAM_SHA_256)])
    assert {u: e.code() for u, e in answers.items()} == {
        "kate": ConfluentError.UNACCEPTABLE_CREDENTIAL,
        "leo": ConfluentError.DUPLICATE_RESOURCE,
        "nobody": ConfluentError.RESOURCE_NOT_FOUND}
    assert admin_describe_all(scram) == expected_users(scram)


# ===========================================================================
# 6. Credentials survive a restart and a crash
# ===========================================================================

def test_credentials_survive_a_restart_and_a_crash(pki):
    b = scram_broker("scram-restart", pki, tls=False)
    b.start()
    try:
        topic = unique_topic("scram-restart")
        create_topic(b, topic)
        as_user = lambda user, mechanism, password: confluent(  # noqa: E731
            b, pki, "SASL_PLAINTEXT", mechanism, user, password)
        assert admin_alter(b, [upsertion("kim", SHA512, 4096, "kim-1"),
                               upsertion("lee", SHA256, 8192, "lee-1"),
                               upsertion("tmp", SHA256, 4096, "tmp-1")]) == \
            {"kim": None, "lee": None, "tmp": None}
        assert admin_alter(b, [upsertion("lee", SHA256, 8192, "lee-2")]) == {"lee": None}
        assert admin_alter(b, [UserScramCredentialDeletion("tmp", ScramMechanism.SCRAM_SHA_256)]) \
            == {"tmp": None}
        assert confluent_produce(as_user("kim", SHA512, "kim-1"), topic, ["before"]) == [0]

        assert b.stop() == 0
        b.start()
        assert admin_describe_all(b) == {"kim": [(2, 4096)], "lee": [(1, 8192)]}
        assert confluent_produce(as_user("kim", SHA512, "kim-1"), topic, ["after"]) == [1]
        assert confluent_produce(as_user("lee", SHA256, "lee-2"), topic, ["lee"]) == [2]
        assert_confluent_refused(as_user("lee", SHA256, "lee-1"), SHA256)
        assert_confluent_refused(as_user("tmp", SHA256, "tmp-1"), SHA256)

        # What an acknowledged alter wrote survives a SIGKILL.
        assert admin_alter(b, [upsertion("mia", SHA512, 4096, "mia-1"),
                               UserScramCredentialDeletion("kim", ScramMechanism.SCRAM_SHA_512)]) \
            == {"mia": None, "kim": None}
        b.kill()
        b.start()
        assert admin_describe_all(b) == {"lee": [(1, 8192)], "mia": [(2, 4096)]}
        assert confluent_produce(as_user("mia", SHA512, "mia-1"), topic, ["crash"]) == [3]
        assert_confluent_refused(as_user("kim", SHA512, "kim-1"), SHA512)
        with w.connect("127.0.0.1", b.sasl_port) as s:
            (error, _, final, _), x = scram_login(s, SHA256, "lee", "lee-2")
            assert (error, final, x.iterations) == (NONE, x.server_final(), 8192)
        assert confluent_read(as_user("lee", SHA256, "lee-2"), topic) == \
            [(0, "before"), (1, "after"), (2, "lee"), (3, "crash")]
    finally:
        b.cleanup()


# ===========================================================================
# 7. Re-authentication (KIP-368)
# ===========================================================================

LIFETIME_MS = 2000


@pytest.fixture(scope="module")
def reauth(pki):
    b = scram_broker("scram-reauth", pki, tls=False,
                     **{"connections.max.reauth.ms": str(LIFETIME_MS)})
    b.start()
    try:
        assert admin_alter(b, [upsertion("alice", SHA256, 4096, "alice-secret"),
                               upsertion("bob", SHA256, 4096, "bob-secret"),
                               upsertion("carol", SHA256, 4096, "carol-secret")]) == \
            {"alice": None, "bob": None, "carol": None}
        assert admin_alter(b, [upsertion("carol", SHA512, 4096, "carol-secret")]) == \
            {"carol": None}
        yield b
    finally:
        b.cleanup()


def sleep_until(t: float) -> None:
    time.sleep(max(0.0, t - time.monotonic()))


def test_the_session_lifetime_is_told_and_enforced(reauth):
    with w.connect("127.0.0.1", reauth.sasl_port) as s:
        (error, message, final, lifetime), x = scram_login(s, SHA256, "alice", "alice-secret")
        authenticated = time.monotonic()
        assert (error, message, lifetime) == (NONE, None, LIFETIME_MS)
        assert final == x.server_final()
        assert served(s, 10)
        sleep_until(authenticated + 1.0)
        assert served(s, 11)
        # Past the lifetime without re-authenticating: the next request closes it.
        sleep_until(authenticated + LIFETIME_MS / 1000 + 0.3)
        assert refused_from_now_on(s)
    wait_until(lambda: "session expired" in reauth.log_tail(400), 5, what="the expiry logged")


def test_re_authentication_renews_the_session(reauth):
    with w.connect("127.0.0.1", reauth.sasl_port) as s:
        (error, _, _, lifetime), _ = scram_login(s, SHA256, "alice", "alice-secret")
        first = time.monotonic()
        assert (error, lifetime) == (NONE, LIFETIME_MS)
        # Kafka starts a re-authentication at most once a second.
        sleep_until(first + 1.2)
        (error, message, final, lifetime), x = scram_login(s, SHA256, "alice", "alice-secret",
                                                           corr=10)
        renewed = time.monotonic()
        assert (error, message, lifetime, final) == (NONE, None, LIFETIME_MS, x.server_final())
        # Past the first session's end, within the renewed one.
        sleep_until(first + LIFETIME_MS / 1000 + 0.5)
        assert served(s, 20)
        # Renewed again, with SHA-256 again, still the same connection.
        (error, _, final, lifetime), x = scram_login(s, SHA256, "alice", "alice-secret", corr=30)
        again = time.monotonic()
        assert (error, lifetime, final) == (NONE, LIFETIME_MS, x.server_final())
        sleep_until(renewed + LIFETIME_MS / 1000 + 0.3)
        assert served(s, 40)
        sleep_until(again + LIFETIME_MS / 1000 + 0.3)
        assert refused_from_now_on(s)


def test_an_expired_session_can_still_re_authenticate(reauth):
    with w.connect("127.0.0.1", reauth.sasl_port) as s:
        scram_login(s, SHA256, "alice", "alice-secret")
        time.sleep(LIFETIME_MS / 1000 + 0.3)
        # A SaslHandshake is looked at before the expiry (SocketServer order).
        (error, _, final, lifetime), x = scram_login(s, SHA256, "alice", "alice-secret", corr=10)
        assert (error, lifetime, final) == (NONE, LIFETIME_MS, x.server_final())
        assert served(s, 20)


@pytest.mark.parametrize("user,password,message", [
    ("bob", "bob-secret",
     "Cannot change principals during re-authentication from User.alice: User.bob"),
    ("alice", "wrong", failed(SHA256, "re-authentication")),
], ids=["other-principal", "wrong-password"])
def test_a_bad_re_authentication_closes_the_connection(reauth, user, password, message):
    with w.connect("127.0.0.1", reauth.sasl_port) as s:
        assert scram_login(s, SHA256, "alice", "alice-secret")[0][0] == NONE
        assert served(s, 5)
        (error, text, final, lifetime), _ = scram_login(s, SHA256, user, password, corr=10)
        assert (error, text, final, lifetime) == (SASL_AUTHENTICATION_FAILED, message, b"", 0)
        assert refused_from_now_on(s)


def test_re_authentication_keeps_the_mechanism(reauth):
    """carol has both credentials; her session began with SCRAM-SHA-256, so
    Kafka answers a SCRAM-SHA-512 re-authentication handshake, then closes
    the connection at its SaslAuthenticate without answering it
    (REAUTH_BAD_MECHANISM: "SASL mechanism 'SCRAM-SHA-512' requested by
    client is not supported for re-authentication of mechanism
    'SCRAM-SHA-256'")."""
    with w.connect("127.0.0.1", reauth.sasl_port) as s:
        assert scram_login(s, SHA256, "carol", "carol-secret")[0][0] == NONE
        assert handshake(s, SHA512, 10) == (NONE, [SHA256, SHA512])
        x = ScramExchange(SHA512, "carol", "carol-secret")
        s.sendall(w.frame(w.request_header(36, 1, 11) + w.nbytes(x.client_first())))
        s.settimeout(5)
        try:
            got = s.recv(65536)
        except ConnectionResetError:
            got = b""
        assert got == b"", "the re-authentication with another mechanism was answered"


def test_re_authentication_is_limited_to_once_a_second(reauth):
    """KafkaChannel.maybeBeginServerReauthentication: a re-authentication
    starting less than a second after the previous one is not begun; the
    SaslHandshake goes to the request handlers, which answer
    ILLEGAL_SASL_STATE, and the connection goes on."""
    with w.connect("127.0.0.1", reauth.sasl_port) as s:
        assert scram_login(s, SHA256, "alice", "alice-secret")[0][0] == NONE
        # The first re-authentication may come at once ...
        assert scram_login(s, SHA256, "alice", "alice-secret", corr=10)[0][0] == NONE
        # ... the next one not within the second.
        assert handshake(s, SHA256, 20) == (ILLEGAL_SASL_STATE, [])
        assert served(s, 21)


def test_a_v0_session_expires_too(reauth):
    """SaslAuthenticate v0 cannot carry the lifetime, but Kafka expires the
    session all the same (ReauthInfo.calcCompletionTimesAndReturnSessionLifetimeMs
    does not look at the version; SocketServer closes an expired channel at
    its next request)."""
    with w.connect("127.0.0.1", reauth.sasl_port) as s:
        (error, _, final, lifetime), x = scram_login(s, SHA256, "alice", "alice-secret",
                                                     version=0)
        authenticated = time.monotonic()
        assert (error, final, lifetime) == (NONE, x.server_final(), None)
        assert served(s, 10)
        sleep_until(authenticated + LIFETIME_MS / 1000 + 0.3)
        assert refused_from_now_on(s)


def test_clients_re_authenticate_on_their_own(reauth, pki, caplog):
    """librdkafka and kafka-python (both implement KIP-368) keep producing
    on their connections across three session lifetimes: they re-authenticate
    before each session ends, so the broker never closes an expired one."""
    cf_topic, kp_topic = unique_topic("scram-reauth-cf"), unique_topic("scram-reauth-kp")
    create_topic(reauth, cf_topic)
    create_topic(reauth, kp_topic)
    log = reauth.log_tail(100000)
    expired_before = log.count("session expired")
    logins_before = log.count("authenticated principal=User:alice")
    errors = []
    producer = Producer({**confluent(reauth, pki, "SASL_PLAINTEXT", SHA256, "alice",
                                     "alice-secret"),
                         "acks": "all", "linger.ms": 0, "error_cb": errors.append})
    with caplog.at_level(logging.DEBUG, logger="kafka.net.connection"):
        kp = KafkaProducer(acks="all", linger_ms=0, **kafka_python(
            reauth, pki, "SASL_PLAINTEXT", SHA256, "alice", "alice-secret"))
        reports, futures = [], []
        start = time.monotonic()
        n = 0
        while time.monotonic() < start + 3 * LIFETIME_MS / 1000 + 0.5:
            producer.produce(cf_topic, value=f"r-{n}".encode(), partition=0,
                             on_delivery=lambda err, msg: reports.append((err, msg.offset())))
            futures.append(kp.send(kp_topic, value=f"r-{n}".encode(), partition=0))
            producer.poll(0.25)
            n += 1
        assert producer.flush(15) == 0
        kp.flush(15)
        kp_offsets = [f.get(10).offset for f in futures]
        kp.close(timeout=5)
    assert reports == [(None, o) for o in range(n)]
    assert kp_offsets == list(range(n))
    assert errors == []
    log = reauth.log_tail(100000)
    assert log.count("session expired") == expired_before, "a client's session expired"
    # Both clients' connections renewed their sessions (each connection at
    # least twice in 3 lifetimes).
    assert log.count("authenticated principal=User:alice") - logins_before >= 2 * 2 * 2
    assert any("re-authentication" in r.getMessage() for r in caplog.records)
    for topic in (cf_topic, kp_topic):
        assert confluent_read(confluent(reauth, pki, "SASL_PLAINTEXT", SHA256, "bob",
                                        "bob-secret"), topic) == \
            [(o, f"r-{o}") for o in range(n)]


# ===========================================================================
# 8. Kafka's Java client
# ===========================================================================

def test_the_java_client_produces_and_consumes_over_scram(scram, pki):
    topic = unique_topic("scram-java")
    config = java(scram, pki, SHA256, "alice", "alice-secret")
    assert java_client.run(config, "nodes") == [f"node 1 127.0.0.1 {scram.sasl_ssl_port}"]
    assert java_client.run(config, "create", topic, "1") == [f"created {topic}"]
    assert java_client.run(config, "produce", topic, "j-0", "j-1") == ["offset 0", "offset 1"]
    # bob, SCRAM-SHA-512, a transaction, then reads it all in a group.
    bob = java(scram, pki, SHA512, "bob", "bob-secret")
    assert java_client.run(bob, "transaction", topic, unique_topic("scram-java-txn"), "commit",
                           "t-0") == ["offset 2", "committed"]
    assert java_client.run({**bob, "isolation.level": "read_committed"}, "consume", topic,
                           unique_topic("scram-java-g"), "3") == \
        ["record 0 j-0", "record 1 j-1", "record 2 t-0", "committed 3"]
    bad = {**java(scram, pki, SHA256, "alice", "wrong"),
           "request.timeout.ms": "10000", "default.api.timeout.ms": "10000"}
    with pytest.raises(java_client.JavaClientError, match="SaslAuthenticationException"):
        java_client.run(bad, "nodes")
