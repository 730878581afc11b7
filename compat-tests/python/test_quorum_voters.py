"""KIP-853's dynamic quorum (issue #14, point 4): a running quorum of three
voters grows to five and shrinks back to three while topics are created
and records produced with acks=all, without downtime.

Nodes 4 and 5 start as controllers that are not in
`controller.quorum.voters` (`process.roles=broker,controller`): they follow
the metadata log as observers and serve as brokers. After `kraft.version`
is upgraded to 1 (Kafka's `kafka-features.sh`), node 4 is added with the
Java AdminClient (`Admin.addRaftVoter`) and node 5 with Kafka's own
`kafka-metadata-quorum.sh add-controller` (MetadataQuorumCommand, which
reads node 5's directory id from its meta.properties); node 5 leaves with
`remove-controller` and node 4 with `Admin.removeRaftVoter`. DescribeQuorum
(raw wire v2, and `Admin.describeMetadataQuorum`) shows the voters after
each step; a static voter and node 4, restarted with their old
`controller.quorum.voters`, keep the five; the active controller removed
hands over its leadership; node 5, removed and restarted, observes. The error cases are asserted on the wire, where Kafka's
codes show, and through the Java client, whose exceptions show."""

from __future__ import annotations

import struct
import threading
import time
import uuid
import base64
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, TopicPartition

import java_client
import kafka_wire as w
from cluster_harness import bootstrap
from conftest import Broker, free_port, running_cluster, wait_for_brokers, wait_until

pytestmark = pytest.mark.timeout(240)

CONTROLLER = "CONTROLLER"
NONE, NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT = 0, 6, 7
UNSUPPORTED_VERSION, INVALID_REQUEST = 35, 42
INCONSISTENT_CLUSTER_ID, DUPLICATE_VOTER, VOTER_NOT_FOUND = 104, 126, 127
ADD_RAFT_VOTER, REMOVE_RAFT_VOTER, DESCRIBE_QUORUM = 80, 81, 55


# -- raw wire: no Python client offers these calls ---------------------------

def _compact_string(s: str | None) -> bytes:
    return w.compact_string(s)


def _uuid(text: str) -> bytes:
    """A Kafka Uuid (URL-safe base64, no padding) as its 16 bytes."""
    return base64.urlsafe_b64decode(text + "==")


def _call(broker: Broker, api_key: int, version: int, body: bytes) -> w.Reader:
    with w.connect(broker.host, broker.port, timeout=60) as sock:
        sock.sendall(w.frame(w.request_header(api_key, version, 7, flexible=True) + body))
        reader = w.Reader(w.recv_frame(sock))
    assert reader.i32() == 7
    reader.skip_tags()  # response header v1
    return reader


def add_voter(broker: Broker, voter: int, directory_id: str, host: str, port: int,
              cluster_id: str | None = None, listener: str = CONTROLLER,
              timeout_ms: int = 30_000,
              ack_when_committed: bool | None = None) -> tuple[int, str | None]:
    """AddRaftVoter v0, or v1 when `ack_when_committed` is given."""
    body = (_compact_string(cluster_id) + w.i32(timeout_ms) + w.i32(voter) + _uuid(directory_id)
            + w.uvarint(2) + _compact_string(listener) + _compact_string(host)
            + struct.pack(">H", port) + w.TAGS_NONE)
    version = 0 if ack_when_committed is None else 1
    if version == 1:
        body += w.i8(1 if ack_when_committed else 0)
    reader = _call(broker, ADD_RAFT_VOTER, version, body + w.TAGS_NONE)
    reader.i32()  # throttle time
    return reader.i16(), reader.compact_string()


def remove_voter(broker: Broker, voter: int, directory_id: str,
                 cluster_id: str | None = None) -> tuple[int, str | None]:
    body = _compact_string(cluster_id) + w.i32(voter) + _uuid(directory_id) + w.TAGS_NONE
    reader = _call(broker, REMOVE_RAFT_VOTER, 0, body)
    reader.i32()
    return reader.i16(), reader.compact_string()


def describe_quorum(broker: Broker) -> dict | None:
    """DescribeQuorum v2 of __cluster_metadata-0: leader, voters and
    observers ({id: (directory id, log end offset)}), voters' endpoints;
    None while there is no leader to answer (NOT_LEADER_OR_FOLLOWER)."""
    body = (w.uvarint(2) + _compact_string("__cluster_metadata") + w.uvarint(2) + w.i32(0)
            + w.TAGS_NONE + w.TAGS_NONE + w.TAGS_NONE)
    r = _call(broker, DESCRIBE_QUORUM, 2, body)
    assert r.i16() == NONE
    r.compact_string()
    topics = r.array_len(True)
    assert topics == 1
    r.compact_string()
    assert r.array_len(True) == 1
    r.i32()
    error = r.i16()
    if error == NOT_LEADER_OR_FOLLOWER:
        return None
    assert error == NONE, error
    r.compact_string()
    leader, epoch, high_watermark = r.i32(), r.i32(), r.i64()

    def replicas() -> dict:
        found = {}
        for _ in range(r.array_len(True)):
            replica = r.i32()
            directory = base64.urlsafe_b64encode(r.take(16)).decode().rstrip("=")
            log_end_offset = r.i64()
            r.i64(), r.i64()
            r.skip_tags()
            found[replica] = (directory, log_end_offset)
        return found

    voters, observers = replicas(), replicas()
    r.skip_tags()
    r.skip_tags()
    nodes = {}
    for _ in range(r.array_len(True)):
        node = r.i32()
        for _ in range(r.array_len(True)):
            name, host, port = r.compact_string(), r.compact_string(), struct.unpack(">H", r.take(2))[0]
            r.skip_tags()
            nodes[node] = (name, host, port)
        r.skip_tags()
    return {"leader": leader, "epoch": epoch, "hw": high_watermark, "voters": voters,
            "observers": observers, "nodes": nodes}


def voters_are(brokers, expected: set[int]) -> dict | None:
    """The description, once every running broker's DescribeQuorum shows
    exactly `expected` as voters."""
    seen = None
    for b in brokers:
        if not b.running:
            continue
        seen = describe_quorum(b)
        if seen is None or set(seen["voters"]) != expected:
            return None
    return seen


# -- the cluster ---------------------------------------------------------------

def directory_id(broker: Broker) -> str:
    text = (broker.data_dir / "meta.properties").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)["directory.id"]


def cluster_id(broker: Broker) -> str:
    text = (broker.data_dir / "meta.properties").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)["cluster.id"]


def start_observer_controller(voters_config: str, node: int) -> Broker:
    """A controller that is not in controller.quorum.voters: it joins the
    quorum as an observer and serves as a broker."""
    port, controller = free_port(), free_port()
    broker = Broker(name=f"node-{node}", port=port, overrides={
        "node.id": node,
        "process.roles": "broker,controller",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},{CONTROLLER}://127.0.0.1:{controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": CONTROLLER,
        "controller.quorum.voters": voters_config,
    })
    broker.controller_port = controller
    broker.start()
    return broker


def controller_port(broker: Broker) -> int:
    listeners = broker.overrides["listeners"]
    return int(listeners.split(f"{CONTROLLER}://")[1].split(",")[0].rsplit(":", 1)[1])


def properties_file(broker: Broker, path: Path) -> Path:
    """The node's server.properties, as add-controller reads it."""
    settings = {k: str(v) for k, v in broker.overrides.items()}
    settings["log.dirs"] = str(broker.data_dir)
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return path


@pytest.fixture
def cluster():
    yield from running_cluster(3)


class Load:
    """Creates a topic (RF 3) and produces 20 records with acks=all to it,
    over and over, until stopped; remembers what was acknowledged. A
    creation that fails is tried again (an answer lost to a broker's
    restart may still have created the topic)."""

    def __init__(self, brokers):
        self.brokers = brokers
        self.created: list[str] = []
        self.acked: dict[str, list[bytes]] = {}
        self.errors: list[str] = []  # deliveries that failed
        self.retried: list[str] = []  # creations tried again, and why
        self.doing = "starting"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __repr__(self) -> str:
        return (f"{len(self.created)} created, doing: {self.doing}, "
                f"retried: {self.retried[-3:]}, errors: {self.errors[:3]}")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(60)

    def _run(self):
        static = ",".join(b.bootstrap for b in self.brokers[:3])
        admin = AdminClient({"bootstrap.servers": static})
        producer = Producer({"bootstrap.servers": static, "acks": "all",
                             "enable.idempotence": True, "message.timeout.ms": 60_000})
        n = 0
        while not self._stop.is_set():
            name = f"grow-shrink-{n}"
            self.doing = f"creating {name}"
            try:
                admin.create_topics([NewTopic(name, 2, 3)])[name].result(timeout=30)
            except KafkaException as e:
                # Retried, as a client would; an attempt whose answer was
                # lost (the test restarts brokers) may have created it.
                retried = any(r.startswith(f"{name}: ") for r in self.retried)
                self.retried.append(f"{name}: {e}")
                if not (retried and e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS):
                    time.sleep(0.5)
                    continue
            self.created.append(name)
            acked = self.acked.setdefault(name, [])
            for i in range(20):
                value = f"{name}-{i}".encode()
                producer.produce(name, value=value, partition=i % 2,
                                 on_delivery=lambda err, msg, v=value, a=acked:
                                 a.append(v) if err is None else self.errors.append(str(err)))
            self.doing = f"producing to {name}"
            producer.flush(60)
            n += 1
            time.sleep(0.2)
        producer.flush(60)


def java(brokers, *args: str) -> list[str]:
    return java_client.run({"bootstrap.servers": bootstrap(brokers[:3])}, *args)


def metadata_quorum(brokers, *args: str, config: Path | None = None) -> str:
    extra = ["--command-config", str(config)] if config else []
    return java_client.run_tool("org.apache.kafka.tools.MetadataQuorumCommand",
                                "--bootstrap-server", brokers[1].bootstrap, *extra, *args)


def test_a_quorum_grows_from_three_voters_to_five_and_back_while_topics_are_created(
        cluster, tmp_path):
    voters_config = cluster[0].overrides["controller.quorum.voters"]
    extra = [start_observer_controller(voters_config, node) for node in (4, 5)]
    brokers = cluster + extra
    try:
        four, five = extra
        ids = {4: directory_id(four), 5: directory_id(five)}
        ours = cluster_id(cluster[0])
        # They follow as observers, with their directory ids.
        seen = wait_until(lambda: (lambda d: d if d and {4, 5} <= set(d["observers"]) else None)(
            describe_quorum(cluster[0])), timeout=30, what="nodes 4 and 5 observe the quorum")
        assert set(seen["voters"]) == {1, 2, 3}
        assert seen["observers"][4][0] == ids[4] and seen["observers"][5][0] == ids[5]

        # kraft.version 0 (static voters, as Kafka's formatted with them):
        # no change yet.
        code, message = add_voter(cluster[0], 4, ids[4], "127.0.0.1", four.controller_port)
        assert code == UNSUPPORTED_VERSION, message
        java_client.run_tool("org.apache.kafka.tools.FeatureCommand",
                             "--bootstrap-server", cluster[0].bootstrap,
                             "upgrade", "--feature", "kraft.version=1")
        with pytest.raises(java_client.JavaClientError):
            java_client.run_tool("org.apache.kafka.tools.FeatureCommand",
                                 "--bootstrap-server", cluster[0].bootstrap,
                                 "downgrade", "--feature", "kraft.version=0")
        # The static voters then tell the leader their directory ids.
        for b in cluster:
            ids[int(b.overrides["node.id"])] = directory_id(b)
        wait_until(lambda: (lambda d: d and {v: i for v, (i, _) in d["voters"].items()}
                            == {n: ids[n] for n in (1, 2, 3)})(voters_are(cluster, {1, 2, 3})),
                   timeout=20, what="the static voters' directory ids recorded")

        with Load(brokers) as load:
            wait_until(lambda: len(load.created) >= 2, timeout=30, what="topics being created")

            # Grow: node 4 through the Java AdminClient (sent to a broker,
            # here one that is not the leader as often as not) ...
            assert java(brokers, "add-raft-voter", "4", ids[4], CONTROLLER, "127.0.0.1",
                        str(four.controller_port)) == ["add-raft-voter 4 ok"]
            seen = wait_until(lambda: voters_are(brokers, {1, 2, 3, 4}), timeout=30,
                              what="four voters")
            assert seen["voters"][4][0] == ids[4]
            assert seen["nodes"][4] == (CONTROLLER, "127.0.0.1", four.controller_port)

            # ... node 5 through kafka-metadata-quorum.sh add-controller.
            out = metadata_quorum(brokers, "add-controller",
                                  config=properties_file(five, tmp_path / "node-5.properties"))
            assert f"Added controller 5 with directory id {ids[5]}" in out, out
            seen = wait_until(lambda: voters_are(brokers, {1, 2, 3, 4, 5}), timeout=30,
                              what="five voters")
            assert seen["observers"].keys().isdisjoint({1, 2, 3, 4, 5})
            lines = java(brokers, "quorum")
            assert [l.split()[:3] for l in lines if l.startswith("voter")] == \
                [["voter", str(n), ids[n]] for n in (1, 2, 3, 4, 5)], lines
            assert [l.split()[1:] for l in lines if l.startswith("node")] == \
                [[str(n), CONTROLLER, "127.0.0.1", str(seen["nodes"][n][2])]
                 for n in (1, 2, 3, 4, 5)], lines

            # Kafka's errors: an existing voter, an unknown one, a voter
            # named with another directory id, no directory id, another
            # cluster's id.
            assert add_voter(cluster[2], 4, ids[4], "127.0.0.1", four.controller_port)[0] == \
                DUPLICATE_VOTER
            assert remove_voter(cluster[2], 9, ids[4])[0] == VOTER_NOT_FOUND
            assert remove_voter(cluster[2], 4, ids[5])[0] == VOTER_NOT_FOUND
            assert remove_voter(cluster[2], 2, ids[1])[0] == VOTER_NOT_FOUND
            assert remove_voter(cluster[2], 4, "AAAAAAAAAAAAAAAAAAAAAA")[0] == INVALID_REQUEST
            assert add_voter(cluster[2], 6, ids[4], "127.0.0.1", 1,
                             listener="PLAINTEXT")[0] == INVALID_REQUEST
            assert remove_voter(cluster[2], 4, ids[4], cluster_id="another")[0] == \
                INCONSISTENT_CLUSTER_ID
            assert java(brokers, "add-raft-voter", "5", ids[5], CONTROLLER, "127.0.0.1",
                        str(five.controller_port)) == \
                ["add-raft-voter 5 error DuplicateVoterException"]
            assert java(brokers, "remove-raft-voter", "9", ids[5]) == \
                ["remove-raft-voter 9 error VoterNotFoundException"]
            # A node that does not observe cannot be added.
            assert add_voter(cluster[0], 9, ids[4], "127.0.0.1", 1)[0] == REQUEST_TIMED_OUT

            # The voter set is in the log: a static voter restarted with
            # its old controller.quorum.voters keeps the five, and so does
            # node 4, which that list does not name.
            for node in (cluster[0], four):
                node.stop()
                node.start()
                wait_until(lambda: voters_are(brokers, {1, 2, 3, 4, 5}), timeout=30,
                           what=f"five voters after {node.name}'s restart")

            # The active controller removed resigns: another voter leads,
            # and the removed one, an observer, can be added back.
            leader = wait_until(lambda: voters_are(brokers, {1, 2, 3, 4, 5}), timeout=30,
                                what="a leader")["leader"]
            other = brokers[leader % 5]
            assert remove_voter(other, leader, ids[leader]) == (NONE, None)
            seen = wait_until(lambda: (lambda d: d if d and d["leader"] != leader else None)(
                voters_are(brokers, {1, 2, 3, 4, 5} - {leader})), timeout=30,
                what=f"a leader other than the removed {leader}")
            assert leader in seen["observers"]
            # v1, answered once the leader has written the new voter set.
            assert add_voter(other, leader, ids[leader], "127.0.0.1",
                             controller_port(brokers[leader - 1]),
                             ack_when_committed=False) == (NONE, None)
            wait_until(lambda: voters_are(brokers, {1, 2, 3, 4, 5}), timeout=30,
                       what=f"{leader} a voter again")

            # Shrink: node 5 through remove-controller, node 4 through Java.
            out = metadata_quorum(brokers, "remove-controller", "--controller-id", "5",
                                  "--controller-directory-id", ids[5])
            assert f"Removed KRaft controller 5 with directory id {ids[5]}" in out, out
            wait_until(lambda: voters_are(brokers, {1, 2, 3, 4}), timeout=30, what="four voters")
            assert java(brokers, "remove-raft-voter", "4", ids[4]) == ["remove-raft-voter 4 ok"]
            seen = wait_until(lambda: voters_are(brokers, {1, 2, 3}), timeout=30,
                              what="three voters again")
            # The removed voters observe again, and keep serving; node 5,
            # restarted, stays an observer.
            assert {4, 5} <= set(seen["observers"]), seen
            five.stop()
            five.start()
            seen = wait_until(lambda: (lambda d: d if d and 5 in d["observers"] else None)(
                voters_are(brokers, {1, 2, 3})), timeout=30, what="node 5 observing again")
            created_before = len(load.created)
            wait_until(lambda: len(load.created) >= created_before + 2, timeout=30,
                       what=f"topics still created after the shrink ({load})")

        assert load.errors == []
        # Every created topic and acknowledged record is there, read
        # through the removed voters too.
        admin = AdminClient({"bootstrap.servers": four.bootstrap})
        listed = admin.list_topics(timeout=20).topics
        assert set(load.created) <= set(listed)
        consumer = KafkaConsumer(bootstrap_servers=five.bootstrap, auto_offset_reset="earliest",
                                 enable_auto_commit=False, consumer_timeout_ms=5000)
        wanted = [TopicPartition(t, p) for t in load.created for p in (0, 1)]
        consumer.assign(wanted)
        got: dict[str, list[bytes]] = {}
        for record in consumer:
            got.setdefault(record.topic, []).append(record.value)
        consumer.close()
        for topic, acked in load.acked.items():
            assert sorted(got.get(topic, [])) == sorted(acked), topic
    finally:
        for b in extra:
            b.cleanup()


def test_a_voter_restarted_on_another_port_has_its_entry_updated(cluster):
    """KIP-853's UpdateRaftVoter: node 3 stops and comes back with its
    controller listener on another port, which its own
    `controller.quorum.voters` names (the other nodes' still name the old
    one). It has the leader update its entry, and the leader reaches it
    again: DescribeQuorum (raw wire v2, and Kafka's MetadataQuorumCommand)
    shows the new port and node 3 following the log; a topic created
    afterwards through node 1 (confluent-kafka) is served by node 3, whose
    records kafka-python reads back from it."""
    b1, b2, b3 = cluster
    old, new = controller_port(b3), free_port()
    b3.stop()
    for key in ("listeners", "controller.quorum.voters"):
        b3.overrides[key] = b3.overrides[key].replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
    b3.start()

    def updated():
        seen = describe_quorum(b1)
        if seen is None or seen["nodes"].get(3, ("", "", 0))[2] != new:
            return None
        leader_end = seen["voters"][seen["leader"]][1]
        return seen if seen["voters"][3][1] == leader_end else None

    seen = wait_until(updated, timeout=30, interval=0.5, what="node 3's new port in the quorum")
    assert seen["nodes"][3] == (CONTROLLER, "127.0.0.1", new), seen
    assert set(seen["voters"]) == {1, 2, 3}, seen
    replication = metadata_quorum(cluster, "describe", "--replication")
    row = next(line.split() for line in replication.splitlines() if line.split()[:1] == ["3"])
    assert row[-1] in ("Follower", "Leader"), replication

    wait_for_brokers(cluster)
    topic = "after-update"
    admin = AdminClient({"bootstrap.servers": b1.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 3)])[topic].result(timeout=30)
    producer = Producer({"bootstrap.servers": b1.bootstrap, "acks": "all"})
    for i in range(10):
        producer.produce(topic, value=f"v{i}".encode())
    assert producer.flush(30) == 0
    consumer = KafkaConsumer(bootstrap_servers=b3.bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=10_000)
    consumer.assign([TopicPartition(topic, 0)])
    values = [m.value for m in consumer]
    consumer.close()
    assert values == [f"v{i}".encode() for i in range(10)]


def test_a_quorum_found_through_bootstrap_servers_as_kafka_4_configures_it(tmp_path):
    """`controller.quorum.bootstrap.servers` without `controller.quorum.voters`
    (Kafka 4's own config/server.properties): node 1, whose bootstrap
    servers name only its own controller listener, starts a quorum of its
    own (Kafka's `format --standalone`); controller 2, pointed at node 1,
    observes it (`--no-initial-controllers`) until Kafka's
    `kafka-metadata-quorum.sh --bootstrap-controller … add-controller` makes
    it a voter; broker 3 (process.roles=broker) follows through the same
    setting. A topic replicated on all three takes confluent-kafka's acks=all
    records, which kafka-python reads back from broker 3."""
    c1 = free_port()

    def node(node_id: int, roles: str) -> Broker:
        port = free_port()
        listeners = f"PLAINTEXT://127.0.0.1:{port}"
        controller = free_port() if node_id != 1 else c1
        if "controller" in roles:
            listeners += f",{CONTROLLER}://127.0.0.1:{controller}"
        broker = Broker(name=f"node-{node_id}", port=port, overrides={
            "node.id": node_id,
            "process.roles": roles,
            "listeners": listeners,
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names": CONTROLLER,
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{c1}",
        })
        broker.controller_port = controller
        return broker

    brokers = [node(1, "broker,controller"), node(2, "broker,controller"), node(3, "broker")]
    try:
        for b in brokers:
            b.start()
        wait_for_brokers(brokers)
        seen = wait_until(lambda: voters_are(brokers, {1}), timeout=20, what="node 1 alone votes")
        assert {2, 3} <= set(seen["observers"]), seen
        assert seen["nodes"][1] == (CONTROLLER, "127.0.0.1", c1), seen

        java_client.run_tool("org.apache.kafka.tools.FeatureCommand", "--bootstrap-server",
                             brokers[0].bootstrap, "upgrade", "--feature", "kraft.version=1")
        out = java_client.run_tool(
            "org.apache.kafka.tools.MetadataQuorumCommand", "--bootstrap-controller",
            f"127.0.0.1:{c1}", "--command-config",
            str(properties_file(brokers[1], tmp_path / "node-2.properties")), "add-controller")
        assert f"Added controller 2 with directory id {directory_id(brokers[1])}" in out, out
        seen = wait_until(lambda: voters_are(brokers, {1, 2}), timeout=30, what="two voters")
        assert seen["nodes"][2] == (CONTROLLER, "127.0.0.1", brokers[1].controller_port), seen

        topic = "bootstrapped"
        admin = AdminClient({"bootstrap.servers": brokers[2].bootstrap})
        admin.create_topics([NewTopic(topic, 1, 3)])[topic].result(timeout=30)
        producer = Producer({"bootstrap.servers": brokers[2].bootstrap, "acks": "all"})
        for i in range(10):
            producer.produce(topic, value=f"b{i}".encode())
        assert producer.flush(30) == 0
        consumer = KafkaConsumer(bootstrap_servers=brokers[2].bootstrap,
                                 auto_offset_reset="earliest", consumer_timeout_ms=10_000)
        consumer.assign([TopicPartition(topic, 0)])
        assert [m.value for m in consumer] == [f"b{i}".encode() for i in range(10)]
        consumer.close()
    finally:
        for b in brokers:
            b.cleanup()
