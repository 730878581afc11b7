"""SASL/PLAIN (issue 11, point 3) on SASL_PLAINTEXT and SASL_SSL listeners,
with Kafka's settings: `sasl.enabled.mechanisms` and each listener's
`listener.name.<l>.plain.sasl.jaas.config` with `user_<name>` entries.

Real clients (confluent-kafka, kafka-python, Kafka's Java client) produce
and consume with a group; wrong passwords and unknown users are refused
with SASL_AUTHENTICATION_FAILED; a raw exchange shows that nothing but
ApiVersions, SaslHandshake and SaslAuthenticate is served before a
verified exchange, and that a wrong password never authenticates."""

from __future__ import annotations

import socket
import time

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka import KafkaError as ConfluentError
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

import java_client
import kafka_wire as w
from conftest import Broker, free_port, unique_topic
from pki import make as make_pki

pytestmark = pytest.mark.timeout(120)

JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="admin" password="admin-secret" '
        'user_admin="admin-secret" user_alice="alice-secret";')


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def sasl(pki):
    """One broker for the module: PLAINTEXT (its `port`), SASL_PLAINTEXT and
    SASL_SSL listeners, PLAIN on both SASL ones."""
    sasl_port, sasl_ssl_port = free_port(), free_port()
    b = Broker(name="sasl", overrides={})
    listeners = (f"PLAINTEXT://127.0.0.1:{b.port},SASL_PLAINTEXT://127.0.0.1:{sasl_port},"
                 f"SASL_SSL://127.0.0.1:{sasl_ssl_port}")
    b.overrides.update({
        "listeners": listeners,
        "advertised.listeners": listeners,
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "listener.name.sasl_ssl.plain.sasl.jaas.config": JAAS,
        "ssl.keystore.location": str(pki / "broker-keystore.pem"),
    })
    b.start()
    b.sasl_port, b.sasl_ssl_port = sasl_port, sasl_ssl_port
    yield b
    b.stop()
    b.cleanup()


def confluent(protocol: str, pki, user="alice", password="alice-secret") -> dict:
    config = {"security.protocol": protocol, "sasl.mechanism": "PLAIN",
              "sasl.username": user, "sasl.password": password}
    if protocol == "SASL_SSL":
        config["ssl.ca.location"] = str(pki / "ca.pem")
    return config


def kafka_python(protocol: str, pki, user="alice", password="alice-secret") -> dict:
    config = {"security_protocol": protocol, "sasl_mechanism": "PLAIN",
              "sasl_plain_username": user, "sasl_plain_password": password}
    if protocol == "SASL_SSL":
        config["ssl_cafile"] = str(pki / "ca.pem")
    return config


def java(bootstrap: str, pki, user="alice", password="alice-secret") -> dict:
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.jaas.config": 'org.apache.kafka.common.security.plain.PlainLoginModule '
                            f'required username="{user}" password="{password}";',
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki / "ca.pem"),
    }


def test_three_clients_produce_and_consume_over_both_sasl_listeners(sasl, pki):
    plain = f"127.0.0.1:{sasl.sasl_port}"
    secure = f"127.0.0.1:{sasl.sasl_ssl_port}"
    topic = unique_topic("sasl")

    # confluent-kafka on SASL_PLAINTEXT: told the SASL_PLAINTEXT address.
    security = confluent("SASL_PLAINTEXT", pki)
    admin = AdminClient({"bootstrap.servers": plain, **security})
    metadata = admin.list_topics(timeout=15)
    assert (metadata.brokers[1].host, metadata.brokers[1].port) == ("127.0.0.1", sasl.sasl_port)
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
    producer = Producer({"bootstrap.servers": plain, "acks": "all", **security})
    reports = []
    for i in range(5):
        producer.produce(topic, value=f"cf-{i}".encode(), partition=0,
                         on_delivery=lambda err, msg: reports.append((err, msg.offset())))
    assert producer.flush(30) == 0
    assert reports == [(None, i) for i in range(5)]

    # kafka-python on SASL_SSL.
    kp = KafkaProducer(bootstrap_servers=secure, acks="all", **kafka_python("SASL_SSL", pki))
    sent = [kp.send(topic, value=f"kp-{i}".encode(), partition=0) for i in range(5)]
    kp.flush(30)
    assert [f.get(10).offset for f in sent] == list(range(5, 10))
    kp.close()

    # The Java client on SASL_SSL: produces and reads everything in a group.
    config = java(secure, pki)
    assert java_client.run(config, "nodes") == [f"node 1 127.0.0.1 {sasl.sasl_ssl_port}"]
    assert java_client.run(config, "produce", topic, "j-0", "j-1") == ["offset 10", "offset 11"]
    expected = ([f"cf-{i}" for i in range(5)] + [f"kp-{i}" for i in range(5)] + ["j-0", "j-1"])
    assert java_client.run(config, "consume", topic, unique_topic("sasl-java"), "12") == \
        [f"record {i} {v}" for i, v in enumerate(expected)] + ["committed 12"]

    # Groups over SASL from the other two.
    consumer = Consumer({"bootstrap.servers": plain, "group.id": unique_topic("sasl-cf"),
                         "auto.offset.reset": "earliest", **security})
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 12 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg.value().decode())
    consumer.commit(asynchronous=False)
    consumer.close()
    assert got == expected
    kc = KafkaConsumer(topic, bootstrap_servers=secure, group_id=unique_topic("sasl-kp"),
                       auto_offset_reset="earliest", consumer_timeout_ms=15000,
                       **kafka_python("SASL_SSL", pki))
    values = []
    for msg in kc:
        values.append(msg.value.decode())
        if len(values) == 12:
            break
    kc.commit()
    kc.close()
    assert values == expected


@pytest.mark.parametrize("user,password", [("alice", "wrong"), ("nobody", "alice-secret")])
def test_wrong_passwords_and_unknown_users_are_refused(sasl, pki, user, password):
    plain = f"127.0.0.1:{sasl.sasl_port}"
    # librdkafka reports the failure through its error callback.
    errors = []
    producer = Producer({"bootstrap.servers": plain, "log_level": 0,
                         "error_cb": errors.append,
                         **confluent("SASL_PLAINTEXT", pki, user, password)})
    deadline = time.monotonic() + 10
    while not errors and time.monotonic() < deadline:
        producer.poll(0.2)
    assert errors and errors[0].code() == ConfluentError._AUTHENTICATION, errors
    assert "Invalid username or password" in errors[0].str()
    with pytest.raises(KafkaException):
        producer.list_topics(timeout=2)
    with pytest.raises(KafkaError):
        # kafka-python retries a refused bootstrap until bootstrap_timeout_ms.
        kp = KafkaProducer(bootstrap_servers=plain, max_block_ms=5000, bootstrap_timeout_ms=5000,
                           **kafka_python("SASL_PLAINTEXT", pki, user, password))
        try:
            kp.send(unique_topic("never"), value=b"x").get(10)
        finally:
            kp.close(timeout=5)
    config = java(f"127.0.0.1:{sasl.sasl_ssl_port}", pki, user, password)
    config.update({"request.timeout.ms": "10000", "default.api.timeout.ms": "10000"})
    with pytest.raises(java_client.JavaClientError, match="SaslAuthenticationException"):
        java_client.run(config, "nodes")


# --- the raw exchange ----------------------------------------------------------

def handshake(s: socket.socket, mechanism: str, corr: int) -> tuple[int, list[str]]:
    """SaslHandshake v1: (error code, enabled mechanisms)."""
    s.sendall(w.frame(w.request_header(17, 1, corr) + w.string(mechanism)))
    r = w.Reader(w.recv_frame(s))
    assert r.i32() == corr
    error = r.i16()
    return error, [r.string() for _ in range(r.i32())]


def authenticate(s: socket.socket, token: bytes, corr: int) -> tuple[int, str | None]:
    """SaslAuthenticate v1: (error code, error message)."""
    s.sendall(w.frame(w.request_header(36, 1, corr) + w.nbytes(token)))
    r = w.Reader(w.recv_frame(s))
    assert r.i32() == corr
    error, message = r.i16(), r.string()
    r.take(r.i32())            # auth bytes
    r.i64()                    # session lifetime
    return error, message


def closed(s: socket.socket) -> bool:
    s.settimeout(10)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def test_nothing_but_authentication_is_served_before_it(sasl):
    with w.connect("127.0.0.1", sasl.sasl_port) as s:
        # ApiVersions is, and lists the SASL APIs.
        versions = w.api_versions_v0(s, 1)
        assert versions.error_code == 0
        assert versions.api_keys[17] == (1, 1) and versions.api_keys[36] == (0, 2)
        s.sendall(w.metadata_v4_request(2, None, allow_auto_create=False))
        assert closed(s), "Metadata before authentication must close the connection"
    with w.connect("127.0.0.1", sasl.sasl_port) as s:
        assert handshake(s, "PLAIN", 1) == (0, ["PLAIN"])
        s.sendall(w.metadata_v4_request(2, None, allow_auto_create=False))
        assert closed(s), "Metadata between handshake and authentication"


@pytest.mark.parametrize("token", [
    b"\0alice\0wrong", b"\0alice\0alice-secretX", b"\0alice\0alice-secre", b"\0alice\0",
    b"admin\0alice\0alice-secret", b"\0nobody\0alice-secret", b"alice-secret", b"",
], ids=["wrong", "longer", "prefix", "empty-password", "other-authzid", "unknown-user",
        "no-separators", "empty"])
def test_a_forged_plain_exchange_never_authenticates(sasl, token):
    with w.connect("127.0.0.1", sasl.sasl_port) as s:
        assert handshake(s, "PLAIN", 1) == (0, ["PLAIN"])
        assert authenticate(s, token, 2) == (
            58, "Authentication failed: Invalid username or password")
        assert closed(s)
    assert "Failed authentication" in sasl.log_tail(400)


def test_the_right_password_authenticates_and_the_connection_is_served(sasl):
    with w.connect("127.0.0.1", sasl.sasl_port) as s:
        assert handshake(s, "PLAIN", 1) == (0, ["PLAIN"])
        assert authenticate(s, b"\0alice\0alice-secret", 2) == (0, None)
        s.sendall(w.metadata_v4_request(3, None, allow_auto_create=False))
        corr, _ = w.parse_metadata_v4(w.recv_frame(s))
        assert corr == 3
        # No second exchange on an authenticated connection (ILLEGAL_SASL_STATE).
        assert handshake(s, "PLAIN", 4) == (34, [])


def test_an_unsupported_mechanism_is_refused_with_the_enabled_ones(sasl):
    with w.connect("127.0.0.1", sasl.sasl_port) as s:
        assert handshake(s, "SCRAM-SHA-256", 1) == (33, ["PLAIN"])
        assert closed(s)


def test_sasl_on_a_plaintext_listener_is_an_illegal_state(sasl):
    with w.connect("127.0.0.1", sasl.port) as s:
        assert handshake(s, "PLAIN", 1) == (34, [])
        # and the connection goes on
        assert w.api_versions_v0(s, 2).error_code == 0
