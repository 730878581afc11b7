"""TLS listeners (issue 11, points 1 and 2): listeners as Kafka configures
them (`listener.security.protocol.map`, per-listener `listener.name.*`
settings, several listeners at once), PEM keystores and truststores by
Kafka's names, `ssl.client.auth`, `ssl.enabled.protocols`, and start-up
refusing what gregor does not implement rather than serving less security.

Certificates are made per run with the openssl command line; none is
committed."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

import java_client
import kafka_wire as w
from pki import KEY_PASSWORD, STORE_PASSWORD, TRUST_PASSWORD, java_stores
from pki import another_broker_certificate
from pki import make as make_pki
from conftest import GREGOR_BIN, free_port, unique_topic, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"))


# --- helpers ------------------------------------------------------------------

def tls_broker(broker_factory, pki: Path, **overrides):
    """A broker with a PLAINTEXT listener (its `port`) and an SSL one
    (returned beside it)."""
    ssl_port = free_port()
    b = broker_factory(start=False, **{
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki / "broker-keystore.pem"),
        **overrides,
    })
    listeners = f"PLAINTEXT://127.0.0.1:{b.port},SSL://127.0.0.1:{ssl_port}"
    b.overrides.setdefault("listeners", listeners)
    b.overrides.setdefault("advertised.listeners", listeners)
    b.start()
    return b, ssl_port


def confluent_ssl(pki: Path, cert: str | None = None) -> dict:
    config = {"security.protocol": "SSL", "ssl.ca.location": str(pki / "ca.pem")}
    if cert:
        config["ssl.certificate.location"] = str(pki / f"{cert}.pem")
        config["ssl.key.location"] = str(pki / f"{cert}.key")
    return config


def kafka_python_ssl(pki: Path, cert: str | None = None) -> dict:
    config = {"security_protocol": "SSL", "ssl_cafile": str(pki / "ca.pem")}
    if cert:
        config["ssl_certfile"] = str(pki / f"{cert}.pem")
        config["ssl_keyfile"] = str(pki / f"{cert}.key")
    return config


def create_topic(bootstrap: str, security: dict, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap, **security})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)


def confluent_round_trip(bootstrap: str, security: dict, topic: str, values: list[bytes]) -> list:
    """Produces `values` with acks=all, reads the topic from the start in a
    group, and returns (offset, value) pairs read."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", **security})
    offsets = []
    for value in values:
        producer.produce(topic, value=value, partition=0,
                         on_delivery=lambda err, msg: offsets.append((err, msg.offset())))
    assert producer.flush(30) == 0
    assert [err for err, _ in offsets] == [None] * len(values)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("tls-g"),
                         "auto.offset.reset": "earliest", **security})
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    try:
        while len(got) < len(values) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append((msg.offset(), msg.value()))
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return got


def metadata_port(bootstrap: str, security: dict) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap, **security})
    brokers = admin.list_topics(timeout=15).brokers
    assert list(brokers) == [1]
    return brokers[1].port


def refused_by_confluent(bootstrap: str, security: dict) -> bool:
    admin = AdminClient({"bootstrap.servers": bootstrap, **security})
    try:
        admin.list_topics(timeout=5)
    except KafkaException:
        return True
    return False


# --- serving ------------------------------------------------------------------

def test_ssl_and_plaintext_listeners_serve_both_clients(broker_factory, pki):
    b, ssl_port = tls_broker(broker_factory, pki)
    tls = f"127.0.0.1:{ssl_port}"
    # Each listener advertises itself to its own clients.
    assert metadata_port(tls, confluent_ssl(pki)) == ssl_port
    assert metadata_port(b.bootstrap, {}) == b.port

    topic = unique_topic("tls")
    create_topic(tls, confluent_ssl(pki), topic)
    values = [f"cf-{i}".encode() for i in range(10)]
    assert confluent_round_trip(tls, confluent_ssl(pki), topic, values) == list(enumerate(values))

    producer = KafkaProducer(bootstrap_servers=tls, acks="all", **kafka_python_ssl(pki))
    sent = [producer.send(topic, value=f"kp-{i}".encode(), partition=0) for i in range(10)]
    producer.flush(30)
    assert [f.get(10).offset for f in sent] == list(range(10, 20))
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=tls, group_id=unique_topic("tls-kp"),
                             auto_offset_reset="earliest", consumer_timeout_ms=15000,
                             **kafka_python_ssl(pki))
    got = []
    for msg in consumer:
        got.append((msg.offset, msg.value))
        if len(got) == 20:
            break
    consumer.commit()
    consumer.close()
    assert got == list(enumerate(values + [f"kp-{i}".encode() for i in range(10)]))
    # What one listener wrote, the other reads.
    with w.WireClient(b.host, b.port) as plain:
        assert plain.list_offset(topic, 0) == 20


def test_a_plaintext_client_on_the_ssl_port_gets_no_kafka_answer(broker_factory, pki):
    b, ssl_port = tls_broker(broker_factory, pki)
    with socket.create_connection(("127.0.0.1", ssl_port), timeout=10) as s:
        s.sendall(w.frame(w.request_header(18, 0, 1)))    # ApiVersions v0
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    # Nothing, or a TLS alert record (content type 21): never a Kafka frame.
    assert data == b"" or data[0] == 0x15, data[:16]
    wait_until(lambda: "SSL handshake failed" in b.log_tail(200), 10,
               what="the failed handshake logged")


def test_inline_pem_keystore_on_a_named_listener(broker_factory, pki):
    """`listener.name.<listener>.ssl.keystore.key` and `.certificate.chain`
    as inline PEM, on a listener mapped to SSL under another name."""
    b = broker_factory(start=False)
    port = free_port()
    listeners = f"PLAINTEXT://127.0.0.1:{b.port},CLIENTS://127.0.0.1:{port}"
    b.overrides.update({
        "listeners": listeners,
        "advertised.listeners": listeners,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CLIENTS:SSL,CONTROLLER:PLAINTEXT",
        "listener.name.clients.ssl.keystore.key": (pki / "broker.key").read_text(),
        "listener.name.clients.ssl.keystore.certificate.chain": (pki / "broker.pem").read_text(),
    })
    b.start()
    bootstrap = f"127.0.0.1:{port}"
    assert metadata_port(bootstrap, confluent_ssl(pki)) == port
    topic = unique_topic("inline")
    create_topic(bootstrap, confluent_ssl(pki), topic)
    assert confluent_round_trip(bootstrap, confluent_ssl(pki), topic, [b"a", b"b"]) == \
        [(0, b"a"), (1, b"b")]
    producer = KafkaProducer(bootstrap_servers=bootstrap, **kafka_python_ssl(pki))
    assert producer.send(topic, value=b"c", partition=0).get(15).offset == 2
    producer.close()


# --- client certificates ------------------------------------------------------

def test_client_auth_required_accepts_only_certificates_from_the_truststore(broker_factory, pki):
    b, ssl_port = tls_broker(broker_factory, pki, **{
        "ssl.client.auth": "required",
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki / "ca.pem"),
    })
    tls = f"127.0.0.1:{ssl_port}"
    topic = unique_topic("mtls")
    create_topic(tls, confluent_ssl(pki, "alice"), topic)
    assert confluent_round_trip(tls, confluent_ssl(pki, "alice"), topic, [b"x"]) == [(0, b"x")]
    producer = KafkaProducer(bootstrap_servers=tls, **kafka_python_ssl(pki, "alice"))
    assert producer.send(topic, value=b"y", partition=0).get(15).offset == 1
    producer.close()

    assert refused_by_confluent(tls, confluent_ssl(pki))                # no certificate
    assert refused_by_confluent(tls, confluent_ssl(pki, "mallory"))     # an untrusted CA's
    with pytest.raises(KafkaError):
        # kafka-python retries a refused bootstrap until bootstrap_timeout_ms.
        refused = KafkaProducer(bootstrap_servers=tls, max_block_ms=5000,
                                bootstrap_timeout_ms=5000, **kafka_python_ssl(pki, "mallory"))
        try:
            refused.send(topic, value=b"z", partition=0).get(10)
        finally:
            refused.close(timeout=5)
    # The plaintext listener does not ask for certificates.
    assert metadata_port(b.bootstrap, {}) == b.port


def test_the_java_client_over_ssl_with_a_client_certificate(broker_factory, pki):
    """Kafka's own Java client with PEM stores, as Kafka documents them."""
    b, ssl_port = tls_broker(broker_factory, pki, **{
        "ssl.client.auth": "required",
        "ssl.truststore.location": str(pki / "ca.pem"),
    })
    config = {
        "bootstrap.servers": f"127.0.0.1:{ssl_port}",
        "security.protocol": "SSL",
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki / "ca.pem"),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(pki / "alice-keystore.pem"),
    }
    assert java_client.run(config, "nodes") == [f"node 1 127.0.0.1 {ssl_port}"]
    topic = unique_topic("java-tls")
    assert java_client.run(config, "create", topic, "1") == [f"created {topic}"]
    assert java_client.run(config, "produce", topic, "a", "b", "c") == \
        ["offset 0", "offset 1", "offset 2"]
    assert java_client.run(config, "consume", topic, unique_topic("java-g"), "3") == \
        ["record 0 a", "record 1 b", "record 2 c", "committed 3"]
    # Without a certificate the handshake fails, and the client says so.
    without = {k: v for k, v in config.items() if not k.startswith("ssl.keystore")}
    without.update({"request.timeout.ms": "10000", "default.api.timeout.ms": "10000"})
    with pytest.raises(java_client.JavaClientError, match="SslAuthenticationException"):
        java_client.run(without, "nodes")


def test_client_auth_requested_lets_clients_without_a_certificate_in(broker_factory, pki):
    b, ssl_port = tls_broker(broker_factory, pki, **{
        "ssl.client.auth": "requested",
        "ssl.truststore.location": str(pki / "ca.pem"),
    })
    tls = f"127.0.0.1:{ssl_port}"
    assert metadata_port(tls, confluent_ssl(pki)) == ssl_port
    assert metadata_port(tls, confluent_ssl(pki, "alice")) == ssl_port
    # A certificate that is presented must still be trusted. (librdkafka
    # does not send one its server's CA list does not name, so the check
    # uses Python's ssl, which sends what it is given.)
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    context.load_cert_chain(str(pki / "mallory.pem"), str(pki / "mallory.key"))
    with socket.create_connection(("127.0.0.1", ssl_port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError, match="UNKNOWN_CA"):
            with context.wrap_socket(raw, server_hostname="localhost") as s:
                # TLS 1.3: the server's verdict on the client's certificate
                # arrives with the first read.
                s.sendall(w.frame(w.request_header(18, 0, 1)))
                s.recv(16)


def test_ssl_enabled_protocols_and_cipher_suites_limit_the_handshake(broker_factory, pki):
    b, ssl_port = tls_broker(broker_factory, pki, **{
        "ssl.enabled.protocols": "TLSv1.2",
        "ssl.cipher.suites": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    })
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    with socket.create_connection(("127.0.0.1", ssl_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.version() == "TLSv1.2"
            assert s.cipher()[0] == "ECDHE-RSA-AES256-GCM-SHA384"
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    with socket.create_connection(("127.0.0.1", ssl_port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname="localhost")
    assert metadata_port(f"127.0.0.1:{ssl_port}", confluent_ssl(pki)) == ssl_port


# --- start-up refuses what it cannot honour -------------------------------------

def encrypted_keystore(pki: Path, d: Path, password: str = "key-secret") -> Path:
    """The broker's keystore with its key encrypted (PKCS#8, PBES2 with
    AES-256-CBC), as `ssl.key.password` reads it."""
    encrypted = d / "broker-encrypted.key"
    subprocess.run(["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout",
                    f"pass:{password}", "-in", str(pki / "broker.key"), "-out", str(encrypted)],
                   check=True, capture_output=True)
    keystore = d / "broker-encrypted-keystore.pem"
    keystore.write_text(encrypted.read_text() + (pki / "broker.pem").read_text())
    return keystore


def test_an_encrypted_key_is_read_with_ssl_key_password(broker_factory, pki, tmp_path):
    keystore = encrypted_keystore(pki, tmp_path)
    assert "BEGIN ENCRYPTED PRIVATE KEY" in keystore.read_text()
    b, ssl_port = tls_broker(broker_factory, pki, **{
        "ssl.keystore.location": str(keystore), "ssl.key.password": "key-secret"})
    assert metadata_port(f"127.0.0.1:{ssl_port}", confluent_ssl(pki)) == ssl_port


def start_fails(tmp_path: Path, overrides: dict) -> str:
    """Runs a broker that must refuse to start; returns its output."""
    settings = {"log.dirs": str(tmp_path / "data"), "node.id": "1", **overrides}
    cmd = [GREGOR_BIN, "broker"]
    for k, v in settings.items():
        cmd += ["--override", f"{k}={v}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)
    assert done.returncode != 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize("case", [
    "sasl-ssl", "sasl-plaintext-mapped", "unmapped", "jks-type-on-pem", "bcfks", "no-keystore",
    "missing-file", "encrypted-key", "client-auth-without-truststore", "tls-1.1",
    "inter-broker-login-missing", "controller-login-missing", "controller-scram",
    "unknown-cipher-suite", "authorizer",
])
def test_start_up_refuses_what_gregor_cannot_honour(tmp_path, pki, case):
    p1, p2, c1 = free_port(), free_port(), free_port()
    keystore = {"ssl.keystore.location": str(pki / "broker-keystore.pem")}
    cases = {
        # Kafka's default sasl.enabled.mechanisms is GSSAPI.
        "sasl-ssl": ({"listeners": f"SASL_SSL://127.0.0.1:{p1}"},
                     "SASL mechanism GSSAPI is not implemented yet"),
        "sasl-plaintext-mapped": ({"listeners": f"EXT://127.0.0.1:{p1}",
                                   "listener.security.protocol.map": "EXT:SASL_PLAINTEXT",
                                   "sasl.enabled.mechanisms": "GSSAPI"},
                                  "SASL mechanism GSSAPI is not implemented yet"),
        "unmapped": ({"listeners": f"EXTERNAL://127.0.0.1:{p1}"},
                     "no security protocol for listener EXTERNAL"),
        "jks-type-on-pem": ({"listeners": f"SSL://127.0.0.1:{p1}", "ssl.keystore.type": "JKS",
                             **keystore},
                            "ssl.keystore.type is JKS but the file is not a key store"),
        "bcfks": ({"listeners": f"SSL://127.0.0.1:{p1}", "ssl.keystore.type": "BCFKS", **keystore},
                  "the supported store types are PEM, PKCS12 and JKS"),
        "no-keystore": ({"listeners": f"SSL://127.0.0.1:{p1}"}, "needs a key and certificate"),
        "missing-file": ({"listeners": f"SSL://127.0.0.1:{p1}",
                          "ssl.keystore.location": str(tmp_path / "nope.pem")},
                         "cannot read ssl.keystore.location"),
        "encrypted-key": ({"listeners": f"SSL://127.0.0.1:{p1}", "ssl.key.password": "wrong",
                           "ssl.keystore.location": str(encrypted_keystore(pki, tmp_path))},
                          "the private key cannot be decrypted with ssl.key.password"),
        "client-auth-without-truststore": ({"listeners": f"SSL://127.0.0.1:{p1}",
                                            "ssl.client.auth": "required", **keystore},
                                           "needs a truststore"),
        "tls-1.1": ({"listeners": f"SSL://127.0.0.1:{p1}", "ssl.enabled.protocols": "TLSv1.1",
                     **keystore}, "TLSv1.1 is not supported"),
        "unknown-cipher-suite": ({"listeners": f"SSL://127.0.0.1:{p1}",
                                  "ssl.cipher.suites": "TLS_RSA_WITH_RC4_128_MD5", **keystore},
                                 "ssl.cipher.suites: [\"TLS_RSA_WITH_RC4_128_MD5\"] not supported"),
        # Kafka 4 has no ZooKeeper-era AclAuthorizer; an authorizer asked
        # for and not there would let everyone in.
        "authorizer": ({"listeners": f"PLAINTEXT://127.0.0.1:{p1}",
                        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer"},
                       "not an authorizer gregor has"),
        # Brokers of a cluster on SASL need their own login (Kafka's default
        # sasl.mechanism.inter.broker.protocol, GSSAPI, is not there).
        "inter-broker-login-missing": ({
            "listeners": f"SASL_SSL://127.0.0.1:{p1},CONTROLLER://127.0.0.1:{c1}",
            "controller.listener.names": "CONTROLLER",
            "controller.quorum.voters": f"1@127.0.0.1:{c1},2@127.0.0.1:{p2}",
            "inter.broker.listener.name": "SASL_SSL",
            "sasl.enabled.mechanisms": "PLAIN",
            "listener.name.sasl_ssl.plain.sasl.jaas.config":
                'org.apache.kafka.common.security.plain.PlainLoginModule required user_a="b";',
            **keystore,
        }, "gregor logs in with PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 only"),
        # Controllers log in to each other with PLAIN: Kafka's default
        # sasl.mechanism.controller.protocol (GSSAPI) is not there, and
        # SCRAM credentials live in the metadata log the controllers serve.
        "controller-login-missing": ({
            "listeners": f"PLAINTEXT://127.0.0.1:{p1},CONTROLLER://127.0.0.1:{c1}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config":
                'org.apache.kafka.common.security.plain.PlainLoginModule required user_a="b";',
        }, "sasl.mechanism.controller.protocol"),
        "controller-scram": ({
            "listeners": f"PLAINTEXT://127.0.0.1:{p1},CONTROLLER://127.0.0.1:{c1}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "sasl.enabled.mechanisms": "SCRAM-SHA-256",
            "sasl.mechanism.controller.protocol": "SCRAM-SHA-256",
        }, "gregor logs in with PLAIN only"),
    }
    overrides, message = cases[case]
    output = start_fails(tmp_path, overrides)
    assert message in output, output
    # Nothing was left listening on the port it refused to serve.
    assert not _accepts(p1)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# --- stores changed at run time -------------------------------------------------

def served_certificate(port: int, pki: Path) -> bytes:
    """The certificate a new TLS connection is offered (DER)."""
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as s:
            return s.getpeercert(binary_form=True)


def certificate_of(keystore: Path) -> bytes:
    text = keystore.read_text()
    start = text.index("-----BEGIN CERTIFICATE-----")
    return ssl.PEM_cert_to_DER_cert(text[start:])


def test_a_listener_keystore_is_replaced_at_run_time(broker_factory, pki, tmp_path):
    """Certificate rotation without a restart, as Kafka does it:
    `kafka-configs --alter` of `listener.name.ssl.ssl.keystore.location`
    (to a new file, or to the same file rewritten) gives new connections
    the new certificate while open ones carry on; a certificate naming
    other hosts is refused (confluent-kafka's AlterConfigs gets Kafka's
    error), and the dynamic store outlives a restart."""
    import shutil
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource
    first = tmp_path / "first.pem"
    shutil.copy(pki / "broker-keystore.pem", first)
    b, ssl_port = tls_broker(broker_factory, pki, **{"ssl.keystore.location": str(first)})
    tls = f"127.0.0.1:{ssl_port}"
    assert served_certificate(ssl_port, pki) == certificate_of(first)
    topic = unique_topic("rotation")
    create_topic(tls, confluent_ssl(pki), topic)
    open_producer = Producer({"bootstrap.servers": tls, "acks": "all", **confluent_ssl(pki)})
    open_producer.produce(topic, value=b"before", partition=0)
    assert open_producer.flush(15) == 0

    def alter(location: Path) -> str:
        return java_client.run_tool(
            "org.apache.kafka.tools.ConfigCommand", "--bootstrap-server", b.bootstrap,
            "--entity-type", "brokers", "--entity-name", "1", "--alter", "--add-config",
            f"listener.name.ssl.ssl.keystore.location={location}")

    second = tmp_path / "second.pem"
    shutil.copy(another_broker_certificate(pki, "broker-second"), second)
    assert "Completed updating config for broker 1." in alter(second)
    assert served_certificate(ssl_port, pki) == certificate_of(second)
    # Rewritten in place and named again: read again.
    shutil.copy(another_broker_certificate(pki, "broker-third"), second)
    alter(second)
    third = certificate_of(second)
    assert served_certificate(ssl_port, pki) == third
    # The connection opened before goes on; a new client connects.
    delivered = []
    report = lambda err, msg: delivered.append((err, msg.offset()))  # noqa: E731
    open_producer.produce(topic, value=b"during", partition=0, on_delivery=report)
    assert open_producer.flush(15) == 0
    fresh = KafkaProducer(bootstrap_servers=tls, **kafka_python_ssl(pki))
    assert fresh.send(topic, value=b"after", partition=0).get(15).offset == 2
    fresh.close()
    assert delivered == [(None, 1)]

    other_hosts = another_broker_certificate(pki, "broker-elsewhere", san="DNS:elsewhere")
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    entry = ConfigEntry("listener.name.ssl.ssl.keystore.location", str(other_hosts),
                        incremental_operation=AlterConfigOpType.SET)
    future = admin.incremental_alter_configs(
        [ConfigResource("BROKER", "1", incremental_configs=[entry])])
    with pytest.raises(KafkaException) as refused:
        list(future.values())[0].result(15)
    error = refused.value.args[0]
    assert error.code() == 42, error  # INVALID_REQUEST
    assert "Validation of dynamic config update of SSLFactory failed" in error.str(), error
    assert "SubjectAltNames do not match" in error.str(), error
    assert served_certificate(ssl_port, pki) == third

    b.restart()
    wait_until(lambda: served_certificate(ssl_port, pki) == third, timeout=20,
               what="the dynamic keystore served after the restart")


# --- PKCS12 and JKS stores ---------------------------------------------------

def store_settings(keystore: Path, truststore: Path, kind: str | None) -> dict:
    """Kafka's settings for these stores; `kind` None leaves the types
    unset (Kafka's default, JKS, which reads PKCS12 files too)."""
    settings = {"ssl.keystore.location": str(keystore), "ssl.keystore.password": STORE_PASSWORD,
                "ssl.truststore.location": str(truststore),
                "ssl.truststore.password": TRUST_PASSWORD}
    if kind:
        settings.update({"ssl.keystore.type": kind.upper(), "ssl.truststore.type": kind.upper()})
    if keystore.suffix == ".jks":
        settings["ssl.key.password"] = KEY_PASSWORD
    return settings


@pytest.mark.parametrize("kind, configured", [
    ("pkcs12", "pkcs12"), ("jks", "jks"), ("pkcs12", None),
])
def test_pkcs12_and_jks_stores_as_keytool_writes_them(broker_factory, pki, tmp_path, kind,
                                                       configured):
    """The broker's keystore and truststore in PKCS12 or JKS, with client
    certificates required: confluent-kafka and kafka-python with PEM files,
    the Java client with stores of the same kind; a certificate of a CA the
    truststore does not hold is refused."""
    keystore, truststore = java_stores(pki, pki, "broker", kind)
    b = broker_factory(start=False, **{
        **{k: v for k, v in store_settings(keystore, truststore, configured).items()},
        "ssl.client.auth": "required",
    })
    # tls_broker's PEM keystore type must not apply here.
    ssl_port = free_port()
    listeners = f"PLAINTEXT://127.0.0.1:{b.port},SSL://127.0.0.1:{ssl_port}"
    b.overrides.update({"listeners": listeners, "advertised.listeners": listeners})
    b.start()
    tls = f"127.0.0.1:{ssl_port}"
    topic = unique_topic(f"stores-{kind}")
    create_topic(tls, confluent_ssl(pki, "alice"), topic)
    assert confluent_round_trip(tls, confluent_ssl(pki, "alice"), topic, [b"a", b"b"]) == \
        [(0, b"a"), (1, b"b")]
    producer = KafkaProducer(bootstrap_servers=tls, **kafka_python_ssl(pki, "alice"))
    assert producer.send(topic, value=b"c", partition=0).get(15).offset == 2
    producer.close()

    alice_keystore, client_truststore = java_stores(pki, pki, "alice", kind)
    config = {"bootstrap.servers": tls, "security.protocol": "SSL",
              **store_settings(alice_keystore, client_truststore, configured)}
    assert java_client.run(config, "produce", topic, "d") == ["offset 3"]
    assert java_client.run(config, "consume", topic, unique_topic("stores-g"), "4") == \
        ["record 0 a", "record 1 b", "record 2 c", "record 3 d", "committed 4"]
    # gregor's own console tools read the same client settings.
    properties = tmp_path / "client.properties"
    properties.write_text("".join(f"{k}={v}\n" for k, v in config.items()
                                  if k != "bootstrap.servers"))
    listed = subprocess.run([GREGOR_BIN, "topics", "--bootstrap-server", tls,
                             "--command-config", str(properties), "--list"],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert listed.returncode == 0, listed.stderr
    assert topic in listed.stdout.split()

    assert refused_by_confluent(tls, confluent_ssl(pki, "mallory"))
    assert metadata_port(b.bootstrap, {}) == b.port


@pytest.mark.parametrize("case", ["store-password", "key-password", "legacy-3des", "jceks"])
def test_start_up_names_what_is_wrong_with_a_key_store(tmp_path, pki, case):
    port = free_port()
    keystore, truststore = java_stores(pki, pki, "broker", "jks")
    settings = {"listeners": f"SSL://127.0.0.1:{port}",
                **store_settings(keystore, truststore, "jks")}
    if case == "store-password":
        settings["ssl.keystore.password"] = "wrong"
        message = "the store's password is wrong"
    elif case == "key-password":
        settings["ssl.key.password"] = "wrong"
        message = "the private key cannot be recovered with ssl.key.password"
    elif case == "legacy-3des":
        legacy = tmp_path / "legacy.p12"
        subprocess.run(["openssl", "pkcs12", "-export", "-in", str(pki / "broker.pem"),
                        "-inkey", str(pki / "broker.key"), "-keypbe", "PBE-SHA1-3DES",
                        "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1",
                        "-passout", f"pass:{STORE_PASSWORD}", "-out", str(legacy)],
                       check=True, capture_output=True)
        settings.update({"ssl.keystore.location": str(legacy), "ssl.keystore.type": "PKCS12"})
        settings.pop("ssl.key.password")
        message = "PKCS#12's legacy encryption (3DES or RC2"
    else:
        jceks = tmp_path / "broker.jceks"
        subprocess.run(["keytool", "-importkeystore", "-noprompt", "-srckeystore", str(keystore),
                 "-srcstorepass", STORE_PASSWORD, "-srckeypass", KEY_PASSWORD,
                 "-srcalias", "broker", "-destkeystore", str(jceks), "-deststoretype", "JCEKS",
                 "-deststorepass", STORE_PASSWORD, "-destkeypass", KEY_PASSWORD],
                       check=True, capture_output=True)
        settings["ssl.keystore.location"] = str(jceks)
        message = "JCEKS stores"
    output = start_fails(tmp_path, settings)
    assert message in output, output
    assert not _accepts(port)


# --- the client certificate's principal ---------------------------------------

def test_the_certificate_names_the_principal_through_the_mapping_rules(broker_factory, pki):
    """`ssl.principal.mapping.rules` as Kafka applies them: the first rule
    matching the subject (`CN=alice`) names the user, whom ACLs then
    judge; a subject no rule matches is not let in at all."""
    from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType,
                                       ResourcePatternType, ResourceType)
    b, ssl_port = tls_broker(broker_factory, pki, **{
        "ssl.truststore.location": str(pki / "ca.pem"),
        "ssl.client.auth": "required",
        "ssl.principal.mapping.rules": "RULE:^CN=(alice)$/$1-user/U",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        # PLAINTEXT's ANONYMOUS is the operator here.
        "super.users": "User:ANONYMOUS",
    })
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    for future in admin.create_topics([NewTopic("mapped", 1, 1)]).values():
        future.result(timeout=30)
    tls = f"127.0.0.1:{ssl_port}"
    # No ACL for the mapped principal yet: the topic is hidden from it.
    alice = AdminClient({"bootstrap.servers": tls, **confluent_ssl(pki, "alice")})
    assert "mapped" not in alice.list_topics(timeout=15).topics
    acl = AclBinding(ResourceType.TOPIC, "mapped", ResourcePatternType.LITERAL,
                     "User:ALICE-USER", "*", AclOperation.DESCRIBE, AclPermissionType.ALLOW)
    for future in admin.create_acls([acl]).values():
        future.result(timeout=30)
    wait_until(lambda: "mapped" in alice.list_topics(timeout=15).topics, timeout=15,
               what="the mapped principal's ACL applies")
    # The broker's own certificate (CN=broker) matches no rule: refused.
    assert refused_by_confluent(tls, confluent_ssl(pki, "broker"))
    assert "no ssl.principal.mapping.rules rule matches the client certificate CN=broker" \
        in b.log_path.read_text()
