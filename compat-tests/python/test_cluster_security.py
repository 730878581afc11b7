"""A three-broker cluster that runs entirely on secured listeners (issue
11, point 6): clients and brokers on SASL_SSL (brokers log in to each other
with SASL/PLAIN as a super user), ACLs on, and controllers either on
SASL_SSL too (they log in to each other with SASL/PLAIN,
`sasl.mechanism.controller.protocol`) or on an SSL listener with mutual
TLS (that cluster's stores are keytool's: a JKS keystore, a PKCS12
truststore). Replication, leader failover under kill -9 and transactions work as
on PLAINTEXT; users log in with SCRAM created through the cluster's
metadata; and impostors are refused: a client without CLUSTER_ACTION
cannot act as a follower, and the controller port answers nobody who does
not prove to be a node of the cluster (a plain TCP proposal; on mutual
TLS a certificate from another CA, none at all, or a user's; on SASL_SSL
no login, a wrong password, or a user without CLUSTER_ACTION)."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient,
                                   NewTopic, ResourcePatternType, ResourceType, ScramCredentialInfo,
                                   ScramMechanism, UserScramCredentialUpsertion)

from conftest import Broker, free_port, wait_until
from pki import KEY_PASSWORD, STORE_PASSWORD, TRUST_PASSWORD, java_stores
from pki import make as make_pki

pytestmark = pytest.mark.timeout(300)

JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="broker" password="broker-secret" '
        'user_broker="broker-secret" user_admin="admin-secret";')
# The controllers' own PLAIN users: the brokers, and alice, who may log
# in but is not allowed CLUSTER_ACTION.
CONTROLLER_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
                   'username="broker" password="broker-secret" '
                   'user_broker="broker-secret" user_alice="alice-secret";')
SASL_CONTROLLERS, TLS_CONTROLLERS = "SASL_SSL", "SSL"
# The tests that run on one of the two clusters only.
on_sasl_controllers = pytest.mark.parametrize("cluster", [SASL_CONTROLLERS], indirect=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module", params=[SASL_CONTROLLERS, TLS_CONTROLLERS],
                ids=["controllers-sasl_ssl", "controllers-mtls"])
def cluster(request, pki):
    controllers = request.param
    # The mTLS cluster keeps its key in a JKS store and its CA in a PKCS12
    # one, as keytool makes them: brokers and controllers read them to
    # accept and to connect to each other.
    stores = {"ssl.keystore.location": str(pki / "broker-keystore.pem"),
              "ssl.truststore.location": str(pki / "ca.pem")}
    if controllers == TLS_CONTROLLERS:
        keystore, _ = java_stores(pki, pki, "broker", "jks")
        _, truststore = java_stores(pki, pki, "broker", "pkcs12")
        stores = {"ssl.keystore.type": "JKS", "ssl.keystore.location": str(keystore),
                  "ssl.keystore.password": STORE_PASSWORD, "ssl.key.password": KEY_PASSWORD,
                  "ssl.truststore.type": "PKCS12", "ssl.truststore.location": str(truststore),
                  "ssl.truststore.password": TRUST_PASSWORD}
    ports = {node: (free_port(), free_port()) for node in (1, 2, 3)}
    voters = ",".join(f"{node}@127.0.0.1:{controller}" for node, (_, controller) in ports.items())
    brokers = []
    for node, (port, controller) in ports.items():
        brokers.append(Broker(name=f"secure-{node}", port=port, overrides={
            "node.id": node,
            "process.roles": "broker,controller",
            "listeners": f"SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"SASL_SSL://127.0.0.1:{port}",
            "listener.security.protocol.map": f"SASL_SSL:SASL_SSL,CONTROLLER:{controllers}",
            "inter.broker.listener.name": "SASL_SSL",
            "controller.listener.names": "CONTROLLER",
            "controller.quorum.voters": voters,
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "listener.name.sasl_ssl.plain.sasl.jaas.config": JAAS,
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": CONTROLLER_JAAS,
            **stores,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            # The brokers: by SASL on the inter-broker listener, by their
            # certificate or their PLAIN login on the controllers' one.
            "super.users": "User:broker;User:admin;User:CN=broker",
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "500",
            "replica.lag.time.max.ms": "4000",
            "offsets.topic.replication.factor": "3",
            "transaction.state.log.replication.factor": "3",
            "transaction.state.log.min.isr": "2",
        }))
    for b in brokers:
        b.controller_port = ports[int(b.overrides["node.id"])][1]
        b.controllers = controllers
        b.start_async()
    try:
        for b in brokers:
            b.wait_ready()
        admin = AdminClient(client(pki, brokers, "admin"))
        wait_until(lambda: len(admin.describe_cluster().result(timeout=10).nodes) == 3,
                   timeout=60, what="three brokers registered")
    except BaseException:
        for b in brokers:
            b.cleanup()
        raise
    yield brokers
    for b in brokers:
        b.cleanup()


def client(pki, brokers, user: str, password: str | None = None,
           mechanism: str = "PLAIN", **extra) -> dict:
    return {
        "bootstrap.servers": ",".join(b.bootstrap for b in brokers if b.running),
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.username": user,
        "sasl.password": password or f"{user}-secret",
        "ssl.ca.location": str(pki / "ca.pem"),
        **extra,
    }


def layout(pki, brokers, topic):
    admin = AdminClient(client(pki, brokers, "admin"))
    described = admin.list_topics(topic, timeout=10).topics[topic]
    return {p.id: (p.leader, sorted(p.isrs)) for p in described.partitions.values()}


def create(pki, brokers, topic, partitions=3):
    admin = AdminClient(client(pki, brokers, "admin"))
    for future in admin.create_topics([NewTopic(topic, partitions, 3)]).values():
        future.result(timeout=30)
    wait_until(lambda: all(leader > 0 and isr == [1, 2, 3]
                           for leader, isr in layout(pki, brokers, topic).values())
               and len(layout(pki, brokers, topic)) == partitions,
               timeout=60, what=f"{topic} replicated to every broker")


@on_sasl_controllers
def test_replication_and_failover_run_on_secured_listeners(pki, cluster):
    """acks=all through a kill -9 of a leader: every acknowledged record
    is read back once, at its offset, and the replicas agree — all of it
    over SASL_SSL, between brokers and between controllers."""
    topic = "secure-failover"
    create(pki, cluster, topic)
    acked: list[tuple[int, int, bytes]] = []
    failed = []
    stop = threading.Event()

    def produce():
        producer = Producer(client(pki, cluster, "admin", acks="all",
                                   **{"enable.idempotence": True, "linger.ms": 2}))
        i = 0
        while not stop.is_set():
            value = f"v{i}".encode()
            producer.produce(topic, value=value, partition=i % 3, on_delivery=lambda err, msg: (
                failed.append(err) if err else acked.append((msg.partition(), msg.offset(),
                                                             msg.value()))))
            producer.poll(0)
            i += 1
            time.sleep(0.005)
        producer.flush(60)

    writer = threading.Thread(target=produce)
    writer.start()
    try:
        wait_until(lambda: len(acked) > 100, timeout=30, what="records acknowledged")
        victim_id = layout(pki, cluster, topic)[0][0]
        victim = next(b for b in cluster if b.overrides["node.id"] == victim_id)
        victim.kill()
        wait_until(lambda: layout(pki, [b for b in cluster if b.running], topic)[0][0]
                   not in (-1, victim_id), timeout=60, what="a new leader for partition 0")
        count = len(acked)
        wait_until(lambda: len(acked) > count + 100, timeout=60,
                   what="records acknowledged by the new leader")
        victim.start()
        wait_until(lambda: all(isr == [1, 2, 3] for _, isr in layout(pki, cluster, topic).values()),
                   timeout=90, what="the restarted broker back in every ISR")
    finally:
        stop.set()
        writer.join(90)
    assert not failed, failed[:3]

    consumer = Consumer(client(pki, cluster, "admin", **{"group.id": "secure-check",
                                                         "auto.offset.reset": "earliest",
                                                         "enable.auto.commit": False}))
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(3)}
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    seen = {}
    errors = []
    deadline = time.monotonic() + 60
    while len(seen) < sum(ends.values()) and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error() is None:
            seen[(message.partition(), message.offset())] = message.value()
        else:
            errors.append(message.error())
    consumer.close()

    def read(partition):
        offsets = [o for p, o in seen if p == partition]
        return len(offsets), min(offsets, default=None), max(offsets, default=None)
    diagnosis = {"ends": ends, "read (count, first, last)": {p: read(p) for p in range(3)},
                 "errors": errors[:5]}
    for partition, offset, value in acked:
        assert seen.get((partition, offset)) == value, (partition, offset, value, diagnosis)
    assert len(set(seen.values())) == len(seen), "a record was written twice"

    # Followers copy the leaders' bytes, over the secured listener too.
    def identical():
        for partition in range(3):
            copies = set()
            for broker in cluster:
                log = broker.partition_dir(topic, partition) / "00000000000000000000.log"
                copies.add(log.read_bytes() if log.exists() else b"")
            if len(copies) != 1:
                return False
        return True
    wait_until(identical, timeout=60, what="byte-identical replicas")


@on_sasl_controllers
def test_scram_users_and_acls_through_the_secured_cluster(pki, cluster):
    """A SCRAM user made through any broker logs in at every broker (the
    credential is in the replicated metadata), and may do what its ACLs
    say — a transaction included — and nothing more."""
    admin = AdminClient(client(pki, cluster, "admin"))
    upsert = UserScramCredentialUpsertion(
        "alice", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192), b"alice-secret")
    for future in admin.alter_user_scram_credentials([upsert]).values():
        future.result(timeout=30)
    topic = "secure-scram"
    create(pki, cluster, topic, partitions=1)
    acls = [AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:alice", "*",
                       op, AclPermissionType.ALLOW)
            for op in (AclOperation.WRITE, AclOperation.READ, AclOperation.DESCRIBE)]
    acls += [AclBinding(ResourceType.TRANSACTIONAL_ID, "alice-tx", ResourcePatternType.LITERAL,
                        "User:alice", "*", AclOperation.WRITE, AclPermissionType.ALLOW),
             AclBinding(ResourceType.GROUP, "alice-group", ResourcePatternType.LITERAL,
                        "User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW)]
    for future in admin.create_acls(acls).values():
        future.result(timeout=30)

    for broker in cluster:
        scram = client(pki, [broker], "alice", mechanism="SCRAM-SHA-256")
        wait_until(lambda: topic in AdminClient(scram).list_topics(timeout=10).topics,
                   timeout=30, what=f"alice logs in at {broker.name}")

    producer = Producer(client(pki, cluster, "alice", mechanism="SCRAM-SHA-256",
                               **{"transactional.id": "alice-tx"}))
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, value=f"tx-{i}".encode(), partition=0)
    producer.commit_transaction(30)

    consumer = Consumer(client(pki, cluster, "alice", mechanism="SCRAM-SHA-256", **{
        "group.id": "alice-group", "auto.offset.reset": "earliest",
        "isolation.level": "read_committed"}))
    consumer.subscribe([topic])
    values = []
    deadline = time.monotonic() + 60
    while len(values) < 3 and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            values.append(message.value())
    consumer.commit(asynchronous=False)
    consumer.close()
    assert values == [b"tx-0", b"tx-1", b"tx-2"]

    # No ACL on another topic: refused, nothing written.
    refused = Producer(client(pki, cluster, "alice", mechanism="SCRAM-SHA-256",
                              **{"message.timeout.ms": 5000}))
    errors = []
    refused.produce("secure-failover", value=b"no", on_delivery=lambda err, msg: errors.append(err))
    refused.flush(15)
    assert errors and errors[0] is not None and "authoriz" in str(errors[0]).lower(), errors


def frame(payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    return struct.pack(">I", len(body)) + body


def controller_refuses(sock) -> bool:
    """Whether the controller port ends the exchange without answering a
    request: no frame at all (a TLS alert to a plain-TCP client is none),
    or only the refusal of a login."""
    received = b""
    sock.settimeout(5)
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except (ConnectionError, ssl.SSLError, socket.timeout, OSError):
        pass
    if len(received) <= 4:
        return True
    (length,) = struct.unpack(">I", received[:4])
    try:
        reply = json.loads(received[4:4 + length])
    except ValueError:
        return True
    return "Err" in reply.get("Login", {}) and len(received) == 4 + length


def read_reply(sock) -> bytes:
    """One frame's JSON body from the controller port."""
    sock.settimeout(5)
    received = b""
    while len(received) < 4 or len(received) < 4 + struct.unpack(">I", received[:4])[0]:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"the controller closed the connection: {received!r}")
        received += chunk
    return received[4:]


def login(user: str, password: str) -> bytes:
    token = f"\0{user}\0{password}".encode()
    return frame({"Login": {"mechanism": "PLAIN", "token": list(token)}})


def tls_connect(pki, address, cert: str | None):
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if cert:
        context.load_cert_chain(str(pki / f"{cert}.pem"), str(pki / f"{cert}.key"))
    raw = socket.create_connection(address, timeout=5)
    return raw, context.wrap_socket(raw, server_hostname="localhost")


def test_impostors_on_the_controller_port_are_refused(pki, cluster):
    """The controller port takes nothing from whoever cannot prove to be a
    node of the cluster: not a plain-TCP proposal to fence a broker; on
    mutual TLS not a client without a certificate, with one from another
    CA, or with one from the right CA naming a user (alice); on SASL_SSL
    not a request before the login, a wrong password, an unknown user or a
    user (alice) not allowed CLUSTER_ACTION. The proposal changes nothing."""
    target = cluster[0]
    address = ("127.0.0.1", target.controller_port)
    fence = frame({"Propose": {"FenceBroker": {"node_id": 2}}})
    steal = frame({"FetchState": {"known_index": 0}})

    with socket.create_connection(address, timeout=5) as plain:
        plain.sendall(fence + steal)
        assert controller_refuses(plain)

    if target.controllers == TLS_CONTROLLERS:
        attempts = [(cert, steal) for cert in (None, "mallory", "alice")]
        refusals = ["reason=TLS handshake failed",
                    # alice's certificate is from the right CA: refused for what it names.
                    "reason=User:CN=alice is not allowed CLUSTER_ACTION"]
    else:
        attempts = [(None, steal), (None, login("broker", "wrong") + steal),
                    (None, login("mallory", "broker-secret") + steal),
                    (None, login("alice", "alice-secret") + fence),
                    (None, frame({"Login": {"mechanism": "SCRAM-SHA-256", "token": []}}))]
        refusals = ["reason=SASL/PLAIN login refused: the controller listener uses SASL: log in first",
                    "reason=SASL/PLAIN login refused: Authentication failed: Invalid username or password",
                    "reason=SASL/PLAIN login refused: SASL mechanism SCRAM-SHA-256 is not enabled here",
                    "reason=User:alice is not allowed CLUSTER_ACTION"]
    for cert, payload in attempts:
        raw = None
        try:
            raw, wrapped = tls_connect(pki, address, cert)
            wrapped.sendall(payload)
            assert controller_refuses(wrapped), (cert, payload[:60])
        except (ssl.SSLError, ConnectionError, OSError):
            pass  # refused in the handshake: what we want
        finally:
            if raw is not None:
                raw.close()
    # The broker logs a refusal after the peer has its answer and the close.
    def logged(refusal, what="controller connection refused"):
        return any(what in line and refusal in line
                   for line in target.log_path.read_text().splitlines())
    for refusal in refusals:
        wait_until(lambda: logged(refusal), timeout=10, what=f"the log line {refusal!r}")

    # A peer that proves to be a node of the cluster still speaks only for
    # registered brokers: a heartbeat for node 42 keeps nothing alive.
    ghost = frame({"Heartbeat": {"node_id": 42, "leaving": False}})
    raw, wrapped = tls_connect(pki, address, "broker")
    try:
        if target.controllers == TLS_CONTROLLERS:
            wrapped.sendall(ghost)
        else:
            wrapped.sendall(login("broker", "broker-secret"))
            assert json.loads(read_reply(wrapped)) == {"Login": {"Ok": None}}
            wrapped.sendall(ghost)
        assert json.loads(read_reply(wrapped)) == "Heartbeat"
    finally:
        raw.close()
    wait_until(lambda: logged("node_id=42", "not a registered broker"), timeout=10,
               what="the ignored heartbeat in the log")

    # Broker 2 was never fenced: every broker still lists all three.
    admin = AdminClient(client(pki, cluster, "admin"))
    time.sleep(1)
    assert len(admin.describe_cluster().result(timeout=10).nodes) == 3


def controller_client(pki, cluster, user: str) -> dict:
    """The Java Admin's settings to bootstrap from the controllers
    (`bootstrap.controllers`, KIP-919) as `user`: its certificate on the
    mutual-TLS controller listener, its PLAIN login on the SASL_SSL one."""
    config = {"bootstrap.controllers": f"127.0.0.1:{cluster[0].controller_port}",
              "ssl.truststore.type": "PEM", "ssl.truststore.location": str(pki / "ca.pem")}
    if cluster[0].controllers == TLS_CONTROLLERS:
        return {**config, "security.protocol": "SSL", "ssl.keystore.type": "PEM",
                "ssl.keystore.location": str(pki / f"{user}-keystore.pem")}
    return {**config, "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule "
                                f'required username="{user}" password="{user}-secret";'}


def test_kafka_clients_bootstrap_from_the_secured_controller_listener(pki, cluster):
    """The controller listener that authenticates the Raft peers serves
    Kafka clients with the same security: the Java Admin with
    `bootstrap.controllers` reaches it over mutual TLS (its certificate
    names it) or SASL_SSL (its PLAIN login does). A super user's
    describeCluster lists the controllers and describeMetadataQuorum the
    voters; alice, who may not ALTER the cluster, is refused
    DescribeCluster there, as Kafka's controllers refuse it."""
    import java_client
    nodes = java_client.run(controller_client(pki, cluster, "broker"), "nodes")
    assert sorted(nodes) == sorted(f"node {b.overrides['node.id']} 127.0.0.1 {b.controller_port}"
                                   for b in cluster), nodes
    quorum = [line.split() for line in
              java_client.run(controller_client(pki, cluster, "broker"), "quorum")]
    assert sorted(int(line[1]) for line in quorum if line[0] == "voter") == [1, 2, 3], quorum
    with pytest.raises(java_client.JavaClientError) as refused:
        java_client.run(controller_client(pki, cluster, "alice"), "nodes")
    assert "ClusterAuthorizationException" in str(refused.value), refused.value
