"""Kafka clients that bootstrap from the controllers (KIP-919:
`--bootstrap-controller`, the admin client's `bootstrap.controllers`) on a
3-node cluster whose controller listeners also carry the Raft peers:
- raw wire: ApiVersions on a controller listener advertises the
  controller API set of Kafka 4.4's ControllerApis (no Produce, Fetch,
  Metadata, DescribeClientQuotas); DescribeCluster v2 with endpoint type
  2 names the three voters at their controller ports and the active
  controller; type 1 there, and type 2 on a broker listener, are
  MISMATCHED_ENDPOINT_TYPE, as Kafka 4.4 answers; a broker-only API on a
  controller listener closes the connection unanswered, as Kafka's
  SocketServer closes it;
- Kafka 4.4's `kafka-metadata-quorum.sh --bootstrap-controller describe
  --status/--replication` agrees with its `--bootstrap-server` answer;
- `kafka-reassign-partitions.sh --bootstrap-controller --list/--cancel`
  lists a reassignment held back by a throttle, cancels it, and then
  lists none;
- `kafka-cluster cluster-id`, `kafka-features describe` and
  `kafka-configs --describe` print the same through the controllers as
  through the brokers;
- the Java Admin with `bootstrap.controllers`: describeCluster lists the
  controllers, describeMetadataQuorum the voters and their endpoints;
- the Raft peers keep sharing the listener: a voter killed and restarted
  rejoins and catches up while Kafka clients use its controller port."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

import cluster_harness
import java_client
import kafka_wire as w
from cluster_harness import bootstrap
from conftest import GREGOR_BIN, running_cluster, wait_until

pytestmark = pytest.mark.timeout(180)

API_VERSIONS, METADATA, PRODUCE, DESCRIBE_CLUSTER = 18, 3, 0, 60
NONE, INVALID_REQUEST = 0, 42
MISMATCHED_ENDPOINT_TYPE, UNSUPPORTED_ENDPOINT_TYPE = 114, 115
BROKERS, CONTROLLERS = 1, 2
# Kafka 4.4's controller listener APIs (`"listeners"` naming
# "controller") that gregor implements; Fetch is Kafka's Raft
# replication, which gregor's controllers do over their own RPCs.
CONTROLLER_APIS = {17, 18, 19, 20, 29, 30, 31, 32, 33, 36, 37, 38, 39, 40, 41, 43, 44, 45, 46,
                   49, 50, 51, 55, 57, 60, 64, 80, 81}


@pytest.fixture(scope="module")
def cluster():
    yield from running_cluster(3, {
        "broker.session.timeout.ms": "3000",
        "broker.heartbeat.interval.ms": "500",
        "replica.fetch.max.bytes": "16384",
        "replication.quota.window.num": "2",
    })


def controller_port(broker) -> int:
    """The port of a broker's CONTROLLER listener (its `listeners`)."""
    match = re.search(r"CONTROLLER://[^,]*:(\d+)", broker.overrides["listeners"])
    assert match, broker.overrides["listeners"]
    return int(match.group(1))


def controller_address(broker) -> str:
    return f"{broker.host}:{controller_port(broker)}"


def node_id(broker) -> int:
    return int(broker.overrides["node.id"])


def api_versions(host: str, port: int) -> dict[int, tuple[int, int]]:
    with w.connect(host, port) as sock:
        result = w.api_versions_v0(sock)
    assert result.error_code == NONE
    return result.api_keys


def describe_cluster(host: str, port: int, endpoint_type: int) -> dict:
    """DescribeCluster v2 (flexible): the response's fields."""
    body = w.i8(0) + w.i8(endpoint_type) + w.i8(0) + w.TAGS_NONE
    with w.connect(host, port) as sock:
        sock.sendall(w.frame(w.request_header(DESCRIBE_CLUSTER, 2, 11, flexible=True) + body))
        r = w.Reader(w.recv_frame(sock))
    assert r.i32() == 11
    r.skip_tags()
    answer = {"throttle_ms": r.i32(), "error_code": r.i16(), "error_message": r.compact_string(),
              "endpoint_type": r.i8(), "cluster_id": r.compact_string(),
              "controller_id": r.i32(), "nodes": {}}
    for _ in range(r.array_len(flexible=True)):
        node, host_name, port_number, rack, fenced = \
            r.i32(), r.compact_string(), r.i32(), r.compact_string(), r.i8()
        r.skip_tags()
        answer["nodes"][node] = (host_name, port_number, rack, fenced)
    answer["authorized_operations"] = r.i32()
    r.skip_tags()
    return answer


def leader_of(cluster) -> int:
    """The active controller, as Kafka's Admin sees it through a broker."""
    lines = java_client.run({"bootstrap.servers": bootstrap(cluster)}, "quorum")
    return int(lines[0].split()[1])


def test_api_versions_on_a_controller_listener_advertise_the_controller_apis(cluster):
    b = cluster[0]
    on_controller = api_versions(b.host, controller_port(b))
    assert set(on_controller) == CONTROLLER_APIS, sorted(set(on_controller) ^ CONTROLLER_APIS)
    on_broker = api_versions(b.host, b.port)
    # The same ranges where both listeners serve an API.
    assert {key: on_broker[key] for key in CONTROLLER_APIS} == on_controller
    assert {PRODUCE, 1, METADATA, 48} <= set(on_broker)


def test_describe_cluster_on_a_controller_listener_names_the_voters(cluster):
    voters = {node_id(b): (b.host, controller_port(b)) for b in cluster}
    leader = leader_of(cluster)
    for b in cluster:
        answer = describe_cluster(b.host, controller_port(b), CONTROLLERS)
        assert (answer["error_code"], answer["endpoint_type"]) == (NONE, CONTROLLERS), answer
        assert {n: (host, port) for n, (host, port, _, _) in answer["nodes"].items()} == voters
        assert all(rack is None and fenced == 0 for _, _, rack, fenced in answer["nodes"].values())
        assert answer["controller_id"] == leader, answer
        assert answer["authorized_operations"] == -2 ** 31

    b = cluster[1]
    mismatched = describe_cluster(b.host, controller_port(b), BROKERS)
    assert mismatched["error_code"] == MISMATCHED_ENDPOINT_TYPE, mismatched
    assert mismatched["error_message"] == ("The request was sent to an endpoint of type "
                                           "CONTROLLER, but we wanted an endpoint of type BROKER")
    assert describe_cluster(b.host, controller_port(b), 7)["error_code"] == \
        UNSUPPORTED_ENDPOINT_TYPE
    # A broker listener still answers brokers only.
    on_broker = describe_cluster(b.host, b.port, CONTROLLERS)
    assert on_broker["error_code"] == MISMATCHED_ENDPOINT_TYPE, on_broker
    assert on_broker["error_message"] == ("The request was sent to an endpoint of type "
                                          "BROKER, but we wanted an endpoint of type CONTROLLER")
    brokers = describe_cluster(b.host, b.port, BROKERS)
    assert {n: port for n, (_, port, _, _) in brokers["nodes"].items()} == \
        {node_id(x): x.port for x in cluster}


@pytest.mark.parametrize("api_key,version,body", [
    (METADATA, 4, w.i32(-1) + w.i8(0)),
    (PRODUCE, 3, w.string(None) + w.i16(1) + w.i32(1000) + w.i32(0)),
], ids=["metadata", "produce"])
def test_a_broker_api_on_a_controller_listener_closes_the_connection(cluster, api_key, version,
                                                                     body):
    b = cluster[0]
    with w.connect(b.host, controller_port(b)) as sock:
        sock.sendall(w.frame(w.request_header(api_key, version, 5) + body))
        closed, answered = w.wait_closed(sock, timeout=10)
    assert (closed, answered) == (True, b"")
    # The same connection on the broker listener is answered.
    with w.connect(b.host, b.port) as sock:
        sock.sendall(w.frame(w.request_header(api_key, version, 5) + body))
        assert w.Reader(w.recv_frame(sock)).i32() == 5


def fields(status: str) -> dict:
    return {k.strip(): v.strip() for k, v in
            (line.split(":", 1) for line in status.splitlines() if ":" in line)}


def metadata_quorum(*args: str) -> str:
    return java_client.run_tool("org.apache.kafka.tools.MetadataQuorumCommand", *args)


def test_kafka_metadata_quorum_tool_with_bootstrap_controller(cluster):
    controller = controller_address(cluster[2])
    status = fields(metadata_quorum("--bootstrap-controller", controller, "describe", "--status"))
    through_brokers = fields(metadata_quorum("--bootstrap-server", bootstrap(cluster), "describe",
                                             "--status"))
    for name in ("ClusterId", "LeaderId", "CurrentVoters", "CurrentObservers"):
        assert status[name] == through_brokers[name], (name, status, through_brokers)
    assert int(status["LeaderId"]) in {1, 2, 3}
    voters = json.loads(status["CurrentVoters"])
    assert {v["id"]: v["endpoints"] for v in voters} == \
        {node_id(b): [f"CONTROLLER://{controller_address(b)}"] for b in cluster}, voters

    replication = metadata_quorum("--bootstrap-controller", controller, "describe",
                                  "--replication")
    rows = [line.split() for line in replication.splitlines()[1:] if line.strip()]
    statuses = {int(row[0]): row[-1] for row in rows}
    leader = int(status["LeaderId"])
    assert statuses == {n: ("Leader" if n == leader else "Follower") for n in (1, 2, 3)}, \
        replication


def test_gregors_metadata_quorum_command_with_bootstrap_controller(cluster):
    """`gregor metadata-quorum --bootstrap-controller` prints what Kafka's
    tool prints through the same controller, and refuses
    --bootstrap-server beside it."""
    controller = controller_address(cluster[0])

    def gregor(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([GREGOR_BIN, "metadata-quorum", *args], capture_output=True,
                              text=True, timeout=60)
        assert not check or done.returncode == 0, done
        return done

    ours = fields(gregor("--bootstrap-controller", controller, "describe", "--status").stdout)
    theirs = fields(metadata_quorum("--bootstrap-controller", controller, "describe", "--status"))
    for name in ("ClusterId", "LeaderId", "CurrentVoters", "CurrentObservers"):
        assert ours[name] == theirs[name], (name, ours, theirs)
    rows = gregor("--bootstrap-controller", controller, "describe", "--replication").stdout
    assert sorted(int(line.split()[0]) for line in rows.splitlines()[1:] if line.strip()) == \
        [1, 2, 3], rows
    both = gregor("--bootstrap-server", bootstrap(cluster), "--bootstrap-controller", controller,
                  "describe", "--status", check=False)
    assert both.returncode != 0 and "cannot be used with" in both.stderr, both


def reassign(*args: str) -> str:
    return java_client.run_tool("org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
                                *args)


def test_kafka_reassign_partitions_list_with_bootstrap_controller(cluster, tmp_path):
    controller = controller_address(cluster[0])
    assert reassign("--bootstrap-controller", controller, "--list") == \
        "No partition reassignments found.\n"

    # A move held back by a throttle of 10 B/s (set as test_cli_operations
    # sets it, with gregor's own command) stays listed until cancelled.
    topic = "through-controllers"
    address = bootstrap(cluster)
    admin = AdminClient({"bootstrap.servers": address})
    admin.create_topics([NewTopic(topic, num_partitions=1, replica_assignment=[[1, 2]])])[topic] \
        .result(timeout=30)
    wait_until(lambda: cluster_harness.layout(address, topic)[0][2] == [1, 2], timeout=30,
               what="the topic fully replicated")
    # One record a batch: a replica fetch (replica.fetch.max.bytes 16 KiB)
    # takes a few of them, and the throttle holds the rest back.
    producer = Producer({"bootstrap.servers": address, "acks": "all",
                         "batch.num.messages": 1})
    for _ in range(200):
        producer.produce(topic, value=b"x" * 1000, partition=0)
    assert producer.flush(30) == 0
    leader = cluster_harness.layout(address, topic)[0][0]
    plan = tmp_path / "held.json"
    plan.write_text(json.dumps({"version": 1, "partitions": [
        {"topic": topic, "partition": 0, "replicas": [leader, 3]}]}))
    subprocess.run([GREGOR_BIN, "reassign-partitions", "--bootstrap-server", address,
                    "--execute", "--reassignment-json-file", str(plan), "--throttle", "10"],
                   check=True, capture_output=True, timeout=60)
    listed = reassign("--bootstrap-controller", controller, "--list")
    assert listed.startswith("Current partition reassignments:\n"), listed
    assert f"{topic}-0: replicas: " in listed and " adding: 3." in listed, listed

    cancelled = reassign("--bootstrap-controller", controller, "--cancel",
                         "--reassignment-json-file", str(plan), "--preserve-throttles")
    assert cancelled == f"Successfully cancelled partition reassignment for: {topic}-0\n" \
        "None of the specified partition moves are active.", cancelled
    wait_until(lambda: cluster_harness.layout(address, topic)[0][1:] == ([1, 2], [1, 2]),
               timeout=30, what="the original replicas restored")
    assert reassign("--bootstrap-controller", controller, "--list") == \
        "No partition reassignments found.\n"


def test_java_admin_with_bootstrap_controllers(cluster):
    config = {"bootstrap.controllers": controller_address(cluster[1])}
    nodes = java_client.run(config, "nodes")
    assert sorted(nodes) == sorted(f"node {node_id(b)} {b.host} {controller_port(b)}"
                                   for b in cluster), nodes

    quorum = [line.split() for line in java_client.run(config, "quorum")]
    leader = int(quorum[0][1])
    assert leader in {1, 2, 3} and quorum[0][0] == "leader"
    assert sorted(int(line[1]) for line in quorum if line[0] == "voter") == [1, 2, 3]
    assert sorted(line[1:] for line in quorum if line[0] == "node") == \
        sorted([str(node_id(b)), "CONTROLLER", b.host, str(controller_port(b))] for b in cluster)


def test_a_restarted_voter_rejoins_through_the_shared_listener(cluster):
    """The Raft peers and the Kafka clients share the controller port: a
    voter killed and restarted is caught up by its peers while Kafka
    clients keep asking its port."""
    victim = cluster[2]
    victim.kill()
    victim.start()
    victim.wait_ready()
    controller = controller_address(victim)

    def caught_up():
        rows = [line.split() for line in metadata_quorum(
            "--bootstrap-controller", controller, "describe", "--replication").splitlines()[1:]
            if line.strip()]
        lag = {int(row[0]): int(row[3]) for row in rows}
        return lag.get(node_id(victim)) == 0 and len(lag) == 3

    wait_until(caught_up, timeout=60, interval=1, what="the restarted voter caught up")
    answer = describe_cluster(victim.host, controller_port(victim), CONTROLLERS)
    assert answer["error_code"] == NONE and sorted(answer["nodes"]) == [1, 2, 3]


def test_kafka_cluster_features_and_configs_tools_with_bootstrap_controller(cluster):
    """kafka-cluster cluster-id, kafka-features describe and kafka-configs
    --describe with `--bootstrap-controller` print what they print through
    the brokers."""
    controller = controller_address(cluster[1])
    brokers = bootstrap(cluster)

    def both(main_class: str, *args: str) -> tuple[str, str]:
        """The tool's output through the controllers, and through the
        brokers; `BOOTSTRAP` in `args` is where the option goes."""
        def run(option: str, address: str) -> str:
            return java_client.run_tool(main_class, *(
                part for arg in args
                for part in ((option, address) if arg == "BOOTSTRAP" else (arg,))))
        return run("--bootstrap-controller", controller), run("--bootstrap-server", brokers)

    ours, theirs = both("org.apache.kafka.tools.ClusterTool", "cluster-id", "BOOTSTRAP")
    assert ours == theirs and ours.startswith("Cluster ID: "), (ours, theirs)
    assert ours.split(": ", 1)[1].strip() == describe_cluster(
        cluster[0].host, controller_port(cluster[0]), CONTROLLERS)["cluster_id"]

    ours, theirs = both("org.apache.kafka.tools.FeatureCommand", "BOOTSTRAP", "describe")
    assert ours == theirs and "Feature: metadata.version" in ours, (ours, theirs)

    ours, theirs = both("org.apache.kafka.tools.ConfigCommand", "BOOTSTRAP", "--describe",
                        "--entity-type", "brokers", "--entity-name", "2")
    assert ours == theirs and ours.startswith("Dynamic configs for broker 2 are:"), \
        (ours, theirs)
