"""gregor's operator commands against a 3-broker cluster, checked against
Kafka's own tools on the same cluster (issue 14 point 5):
- `gregor metadata-quorum describe --status/--replication` prints the
  fields, voters and table rows Kafka's MetadataQuorumCommand prints;
- `gregor reassign-partitions --generate/--execute/--verify/--list` moves a
  replica away from its leader while confluent-kafka produces with
  acks=all: kafka-python reads every acknowledged record back at its
  offset, and Kafka's ReassignPartitionsCommand --verify agrees the move
  is done;
- `--cancel` restores the original replicas of a reassignment held back
  by `--throttle`, `--verify` then clears the throttle, and bad input gets
  Kafka's error texts;
- `log_dirs` in a plan place a new replica in the dir asked;
- `metadata-quorum remove-controller/add-controller` take a voter out and
  put it back."""

from __future__ import annotations

import json
import re
import subprocess
import threading

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

import cluster_harness
import java_client
from cluster_harness import bootstrap
from conftest import GREGOR_BIN, running_cluster, wait_until

pytestmark = pytest.mark.timeout(120)

OVERRIDES = {
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    # Small replica fetches and short quota windows: a throttle of a few
    # bytes a second holds a new replica back for good.
    "replica.fetch.max.bytes": "16384",
    "replication.quota.window.num": "2",
}


@pytest.fixture(scope="module")
def cluster():
    yield from running_cluster(3, OVERRIDES)


def gregor(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([GREGOR_BIN, *args], capture_output=True, text=True, timeout=60)
    if check:
        assert done.returncode == 0, f"gregor {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done


def fields(status: str) -> dict:
    return {k.strip(): v.strip() for k, v in
            (line.split(":", 1) for line in status.splitlines() if ":" in line)}


def table(text: str) -> tuple[list[str], dict]:
    """(headers, {node id: row}) of a `describe --replication` table."""
    lines = [line.split("\t") for line in text.splitlines() if line.strip()]
    headers = [cell.strip() for cell in lines[0] if cell.strip()]
    rows = {int(row[0]): [cell.strip() for cell in row if cell.strip()] for row in lines[1:]}
    return headers, rows


def test_metadata_quorum_describe_prints_what_kafkas_tool_prints(cluster):
    address = cluster[0].bootstrap

    def kafka(*args):
        return java_client.run_tool("org.apache.kafka.tools.MetadataQuorumCommand",
                                    "--bootstrap-server", address, "describe", *args)

    ours = gregor("metadata-quorum", "--bootstrap-server", address, "describe", "--status").stdout
    theirs = kafka("--status")
    assert [line.split(":", 1)[0] for line in ours.splitlines()] == \
        [line.split(":", 1)[0] for line in theirs.splitlines()] == \
        ["ClusterId", "LeaderId", "LeaderEpoch", "HighWatermark", "MaxFollowerLag",
         "MaxFollowerLagTimeMs", "CurrentVoters", "CurrentObservers"], (ours, theirs)
    ours_fields, theirs_fields = fields(ours), fields(theirs)
    for name in ("ClusterId", "LeaderId", "LeaderEpoch", "CurrentVoters", "CurrentObservers"):
        assert ours_fields[name] == theirs_fields[name], (name, ours, theirs)
    assert sorted(int(v) for v in re.findall(r'"id": (\d+)', ours_fields["CurrentVoters"])) == \
        [1, 2, 3], ours
    # The high watermark only grows; gregor asked first.
    assert 0 < int(ours_fields["HighWatermark"]) <= int(theirs_fields["HighWatermark"])

    ours = gregor("metadata-quorum", "--bootstrap-server", address, "describe",
                  "--replication").stdout
    theirs = kafka("--replication")
    (our_headers, our_rows), (their_headers, their_rows) = table(ours), table(theirs)
    assert our_headers == their_headers == ["NodeId", "DirectoryId", "LogEndOffset", "Lag",
                                            "LastFetchTimestamp", "LastCaughtUpTimestamp",
                                            "Status"]
    assert list(our_rows) == list(their_rows), (ours, theirs)  # leader, then the followers
    for node, row in our_rows.items():
        assert len(row) == 7 and row[1] == their_rows[node][1] and row[6] == their_rows[node][6], \
            (ours, theirs)
    assert our_rows[int(ours_fields["LeaderId"])][6] == "Leader"
    human = gregor("metadata-quorum", "--bootstrap-server", address, "describe",
                   "--replication", "--human-readable").stdout
    assert list(table(human)[1]) == list(our_rows), human

    refused = gregor("metadata-quorum", "--bootstrap-server", address, "describe", check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == \
        "One of --status or --replication must be specified with describe sub-command"


def plan_file(tmp_path, name: str, plan: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(plan))
    return str(path)


def reassign(address: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return gregor("reassign-partitions", "--bootstrap-server", address, *args, check=check)


def on_brokers_1_and_2(address: str, topic: str) -> AdminClient:
    """Creates `topic`, one partition on brokers 1 and 2, and waits until
    both are in sync; returns the admin client that created it."""
    admin = AdminClient({"bootstrap.servers": address})
    admin.create_topics([NewTopic(topic, num_partitions=1, replica_assignment=[[1, 2]])])[topic] \
        .result(timeout=30)
    wait_until(lambda: cluster_harness.layout(address, topic)[0][2] == [1, 2], timeout=30,
               what="the topic fully replicated")
    return admin


def test_reassign_partitions_moves_a_replica_under_acks_all_produce(cluster, tmp_path):
    address = bootstrap(cluster)
    topic = "ops-moving"
    on_brokers_1_and_2(address, topic)

    topics_file = plan_file(tmp_path, "topics.json", {"topics": [{"topic": topic}], "version": 1})
    generated = reassign(address, "--generate", "--topics-to-move-json-file", topics_file,
                         "--broker-list", "2,3").stdout
    current_title, current, _, proposed_title, proposed = generated.splitlines()
    assert (current_title, proposed_title) == ("Current partition replica assignment",
                                               "Proposed partition reassignment configuration")
    # The replicas' dirs as their brokers describe them (DescribeLogDirs).
    dirs = [str(next(b for b in cluster if b.overrides["node.id"] == n).data_dir) for n in (1, 2)]
    assert json.loads(current) == {"version": 1, "partitions": [
        {"topic": topic, "partition": 0, "replicas": [1, 2], "log_dirs": dirs}]}
    proposal = json.loads(proposed)
    assert sorted(proposal["partitions"][0]["replicas"]) == [2, 3], generated

    producer = Producer({"bootstrap.servers": address, "acks": "all",
                         "enable.idempotence": True, "linger.ms": 2})
    acked, stop = [], threading.Event()

    def produce():
        i = 0
        while not stop.is_set():
            producer.produce(topic, value=f"r{i}".encode(), partition=0,
                             on_delivery=lambda err, msg: acked.append(
                                 (err, msg.offset(), msg.value())))
            producer.poll(0)
            i += 1
            if i % 50 == 0:
                producer.flush(10)
        producer.flush(30)

    producing = threading.Thread(target=produce)
    producing.start()
    try:
        wait_until(lambda: len(acked) >= 100, timeout=30, what="records acknowledged")
        # Broker 1, the leader, leaves; broker 3 joins.
        plan = plan_file(tmp_path, "plan.json", proposal)
        executed = reassign(address, "--execute", "--reassignment-json-file", plan).stdout
        assert "Save this to use as the --reassignment-json-file option during rollback" \
            in executed, executed
        assert f"Successfully started partition reassignment for {topic}-0" in executed
        completed = f"Reassignment of partition {topic}-0 is completed."
        verified = wait_until(
            lambda: (lambda out: out if completed in out else None)(
                reassign(address, "--verify", "--reassignment-json-file", plan).stdout),
            timeout=30, interval=0.5, what="gregor --verify: completed")
        assert verified.startswith("Status of partition reassignment:\n"), verified
        assert "Clearing broker-level throttles on brokers 1,2,3" in verified, verified
        kafka = java_client.run_tool("org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
                                     "--bootstrap-server", address,
                                     "--reassignment-json-file", plan, "--verify")
        assert completed in kafka, kafka
        assert reassign(address, "--list").stdout == "No partition reassignments found.\n"
        count = len(acked)
        wait_until(lambda: len(acked) >= count + 100, timeout=30,
                   what="records acknowledged after the move")
    finally:
        stop.set()
        producing.join(60)
    leader, replicas, isr = cluster_harness.layout(address, topic)[0]
    assert (replicas, isr) == (proposal["partitions"][0]["replicas"], [2, 3]) and leader in (2, 3)
    assert all(err is None for err, *_ in acked), [a for a in acked if a[0]][:3]
    records = cluster_harness.consume_all(address, topic, 1, len(acked))
    at = {r.offset: r.value for r in records}
    assert len(at) == len(acked) == len(records), (len(at), len(acked), len(records))
    assert all(at.get(offset) == value for _, offset, value in acked), \
        "every acknowledged record at its offset"


def test_reassign_partitions_cancels_a_held_back_reassignment_and_refuses_bad_input(
        cluster, tmp_path):
    address = bootstrap(cluster)
    topic = "ops-cancelled"
    admin = on_brokers_1_and_2(address, topic)
    producer = Producer({"bootstrap.servers": address, "acks": "all", "linger.ms": 5})
    for i in range(200):
        producer.produce(topic, value=b"x" * 1000, partition=0)
    assert producer.flush(30) == 0
    leader = cluster_harness.layout(address, topic)[0][0]
    # --throttle 10 B/s, on both sides of the three brokers the move
    # involves: the new replica on broker 3 stays behind.
    plan = plan_file(tmp_path, "held.json", {"version": 1, "partitions": [
        {"topic": topic, "partition": 0, "replicas": [leader, 3]}]})
    executed = reassign(address, "--execute", "--reassignment-json-file", plan,
                        "--throttle", "10").stdout
    assert "Warning: You must run --verify periodically, until the reassignment completes, to " \
        "ensure the throttle is removed.\nThe inter-broker throttle limit was set to 10 B/s\n" \
        in executed, executed
    configs = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
    described = next(iter(configs.values())).result(30)
    assert (described["leader.replication.throttled.replicas"].value,
            described["follower.replication.throttled.replicas"].value) == ("0:1,0:2", "0:3")
    # The rates are dynamic configs of each broker the move involves.
    for broker_id in (1, 2, 3):
        rates = next(iter(admin.describe_configs(
            [ConfigResource(ConfigResource.Type.BROKER, str(broker_id))]).values())).result(30)
        assert (rates["leader.replication.throttled.rate"].value,
                rates["follower.replication.throttled.rate"].value) == ("10", "10"), broker_id
    listed = reassign(address, "--list").stdout
    assert listed.startswith("Current partition reassignments:\n"), listed
    assert f"{topic}-0: replicas: " in listed and " adding: 3." in listed, listed
    again = reassign(address, "--execute", "--reassignment-json-file", plan, check=False)
    assert again.returncode == 1 and "Cannot execute because there is an existing partition " \
        "assignment." in again.stderr, again.stderr
    in_progress = reassign(address, "--verify", "--reassignment-json-file", plan,
                           "--preserve-throttles").stdout
    assert f"Reassignment of partition {topic}-0 is still in progress." in in_progress

    cancelled = reassign(address, "--cancel", "--reassignment-json-file", plan,
                         "--preserve-throttles").stdout
    assert cancelled == f"Successfully cancelled partition reassignment for: {topic}-0\n" \
        "None of the specified partition moves are active.", cancelled
    wait_until(lambda: cluster_harness.layout(address, topic)[0][1:] == ([1, 2], [1, 2]),
               timeout=30, what="the original replicas restored")
    assert reassign(address, "--list").stdout == "No partition reassignments found.\n"
    assert reassign(address, "--cancel", "--reassignment-json-file", plan).stdout.startswith(
        "None of the specified partition reassignments are active.\n")
    # --verify with nothing in progress clears the throttles, as Kafka's does.
    verified = reassign(address, "--verify", "--reassignment-json-file", plan).stdout
    assert "There is no active reassignment of partition " f"{topic}-0, but replica set is " \
        f"1,2 rather than {leader},3." in verified, verified
    assert f"Clearing topic-level throttles on topic {topic}" in verified
    configs = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
    described = next(iter(configs.values())).result(30)
    assert described["leader.replication.throttled.replicas"].value in ("", None)

    refusals = {
        json.dumps({"version": 1, "partitions": [{"topic": topic, "partition": 0,
                                                  "replicas": [1, 9]}]}): "Unknown broker id 9",
        json.dumps({"version": 1, "partitions": []}):
            "Partition reassignment list cannot be empty",
        json.dumps({"version": 1, "partitions": [{"topic": topic, "partition": 0,
                                                  "replicas": [1, 1]}]}):
            f"Partition replica lists may not contain duplicate entries: {topic}-0 contains "
            "multiple entries for 1",
    }
    for i, (text, error) in enumerate(refusals.items()):
        path = tmp_path / f"bad-{i}.json"
        path.write_text(text)
        refused = reassign(address, "--execute", "--reassignment-json-file", str(path),
                           check=False)
        assert refused.returncode == 1 and refused.stderr.strip() == f"Error: {error}", \
            refused.stderr
    misplaced = reassign(address, "--verify", "--reassignment-json-file", plan, "--throttle", "5",
                         check=False)
    assert misplaced.returncode == 1 and misplaced.stderr.strip() == \
        'Option "[throttle]" can\'t be used with action "[verify]"', misplaced.stderr
    no_action = reassign(address, "--reassignment-json-file", plan, check=False)
    assert no_action.returncode == 1 and "Command must include exactly one action: --generate, " \
        "--execute, --verify, --cancel, --list" in no_action.stderr


def test_reassign_partitions_places_a_new_replica_in_the_log_dir_asked(cluster, tmp_path):
    """`log_dirs` in the plan: after AlterPartitionReassignments, gregor's
    --execute asks broker 3 for the dir (AlterReplicaLogDirs, retried
    while the replica is not there yet); gregor's and Kafka's --verify
    both see the replica completed in that dir; --execute's rollback JSON
    names the dirs the replicas are in, as Kafka's does."""
    from conftest import wait_for_brokers
    broker3, second = cluster_harness.add_log_dir(cluster, 3)
    wait_for_brokers(cluster)
    address = bootstrap(cluster)
    topic = "ops-dirs"
    on_brokers_1_and_2(address, topic)
    producer = Producer({"bootstrap.servers": address, "acks": "all"})
    for i in range(50):
        producer.produce(topic, value=f"d{i}".encode(), partition=0)
    assert producer.flush(30) == 0

    target = str(second)
    plan = plan_file(tmp_path, "dirs.json", {"version": 1, "partitions": [
        {"topic": topic, "partition": 0, "replicas": [1, 2, 3],
         "log_dirs": ["any", "any", target]}]})
    executed = reassign(address, "--execute", "--reassignment-json-file", plan).stdout
    rollback = json.loads(executed.splitlines()[2])
    dirs = {b.overrides["node.id"]: str(b.data_dir) for b in cluster}
    assert rollback["partitions"][0]["log_dirs"] == [dirs[1], dirs[2]], executed
    assert f"Successfully started moving log directory to {target} for replica {topic}-0 " \
        "with broker 3" in executed, executed
    done = f"Reassignment of replica {topic}-0-3 completed successfully."
    verified = wait_until(
        lambda: (lambda out: out if done in out and "is completed." in out else None)(
            reassign(address, "--verify", "--reassignment-json-file", plan).stdout),
        timeout=30, interval=0.5, what="the replica in its dir")
    kafka = java_client.run_tool("org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
                                 "--bootstrap-server", address,
                                 "--reassignment-json-file", plan, "--verify")
    assert done in kafka and f"Reassignment of partition {topic}-0 is completed." in kafka, kafka
    assert [line for line in verified.splitlines() if "eassignment of" in line] == \
        [line for line in kafka.splitlines() if "eassignment of" in line], (verified, kafka)
    assert (second / f"{topic}-0").is_dir()
    records = cluster_harness.consume_all(address, topic, 1, 50)
    assert [r.value for r in records] == [f"d{i}".encode() for i in range(50)]


def directory_id(broker) -> str:
    text = (broker.data_dir / "meta.properties").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)["directory.id"]


def test_metadata_quorum_removes_a_controller_and_adds_it_back(cluster, tmp_path):
    """KIP-853 through gregor's add-controller/remove-controller, the
    controller to add read from its server.properties as Kafka's tool reads
    it; Kafka's tool sees the same voters. (Last in the file: it turns the
    module's cluster to kraft.version 1.)"""
    address = bootstrap(cluster)
    java_client.run_tool("org.apache.kafka.tools.FeatureCommand", "--bootstrap-server",
                         cluster[0].bootstrap, "upgrade", "--feature", "kraft.version=1")
    ids = {b.overrides["node.id"]: directory_id(b) for b in cluster}

    def status():
        return fields(gregor("metadata-quorum", "--bootstrap-server", address, "describe",
                             "--status").stdout)

    def voters(text: str) -> dict:
        return {int(n): d for n, d in re.findall(r'"id": (\d+), "directoryId": "([^"]+)"', text)}

    described = wait_until(lambda: (lambda f: f if voters(f["CurrentVoters"]) == ids else None)(
        status()), timeout=20, what="the voters' directory ids recorded")
    node = next(n for n in ids if n != int(described["LeaderId"]))

    dry = gregor("metadata-quorum", "--bootstrap-server", address, "remove-controller",
                 "--controller-id", str(node), "--controller-directory-id", ids[node],
                 "--dry-run").stdout
    assert dry == f"DRY RUN of removing KRaft controller {node} with directory id {ids[node]}\n"
    removed = gregor("metadata-quorum", "--bootstrap-server", address, "remove-controller",
                     "-i", str(node), "-d", ids[node]).stdout
    assert removed == f"Removed KRaft controller {node} with directory id {ids[node]}\n"
    others = {n: d for n, d in ids.items() if n != node}
    wait_until(lambda: voters(status()["CurrentVoters"]) == others, timeout=20,
               what=f"controller {node} removed")
    theirs = fields(java_client.run_tool("org.apache.kafka.tools.MetadataQuorumCommand",
                                         "--bootstrap-server", address, "describe", "--status"))
    assert voters(theirs["CurrentVoters"]) == others, theirs

    broker = next(b for b in cluster if b.overrides["node.id"] == node)
    settings = {k: str(v) for k, v in broker.overrides.items()}
    settings["log.dirs"] = str(broker.data_dir)
    config = tmp_path / "controller.properties"
    config.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    endpoint = settings["listeners"].split(",")[1]
    added = gregor("metadata-quorum", "--bootstrap-server", address, "--command-config",
                   str(config), "add-controller").stdout
    assert added == f"Added controller {node} with directory id {ids[node]} and endpoints: " \
        f"{endpoint}\n", added
    wait_until(lambda: voters(status()["CurrentVoters"]) == ids, timeout=30,
               what=f"controller {node} a voter again")
    missing = gregor("metadata-quorum", "--bootstrap-server", address, "add-controller",
                     check=False)
    assert missing.returncode == 1 and missing.stderr.strip() == \
        "You must supply the configuration file of the controller you are adding when using " \
        "add-controller."


@pytest.fixture(scope="module")
def racked_cluster():
    # Voters 1 and 2 on rack a, 3 on rack b; broker 4 (an observer of the
    # quorum) has no rack.
    yield from running_cluster(3, OVERRIDES, observers=1, racks={1: "a", 2: "a", 3: "b"})


def test_reassign_partitions_generate_is_rack_aware_as_kafkas(racked_cluster, tmp_path):
    address = bootstrap(racked_cluster)
    topic = "ops-racked"
    admin = AdminClient({"bootstrap.servers": address})
    admin.create_topics([NewTopic(topic, num_partitions=6, replica_assignment=[[1, 2]] * 6)])[
        topic].result(timeout=30)
    wait_until(lambda: len(cluster_harness.layout(address, topic)) == 6, timeout=30,
               what="the topic's partitions")
    topics_file = plan_file(tmp_path, "topics.json", {"topics": [{"topic": topic}], "version": 1})
    rack = {1: "a", 2: "a", 3: "b"}

    def proposal(output: str) -> dict:
        lines = output.splitlines()
        return json.loads(lines[lines.index("Proposed partition reassignment configuration") + 1])

    ours = proposal(reassign(address, "--generate", "--topics-to-move-json-file", topics_file,
                             "--broker-list", "1,2,3").stdout)
    theirs = proposal(java_client.run_tool(
        "org.apache.kafka.tools.reassign.ReassignPartitionsCommand", "--bootstrap-server",
        address, "--generate", "--topics-to-move-json-file", topics_file, "--broker-list", "1,2,3"))
    for plan in (ours, theirs):
        assert sorted(p["partition"] for p in plan["partitions"]) == list(range(6)), plan
        for p in plan["partitions"]:
            # Two replicas each, one per rack: broker 3 and one of a's.
            assert sorted(rack[r] for r in p["replicas"]) == ["a", "b"], plan
    # gregor spreads the leaders over all three brokers, as Kafka's placer.
    assert {p["replicas"][0] for p in ours["partitions"]} == {1, 2, 3}, ours

    # A broker without a rack among racked ones: Kafka's refusal, in
    # gregor's and in Kafka's tool alike, unless racks are disregarded.
    refusal = ("Not all brokers have rack information. Add --disable-rack-aware in command line "
               "to make replica assignment without rack information.")
    refused = reassign(address, "--generate", "--topics-to-move-json-file", topics_file,
                       "--broker-list", "1,2,3,4", check=False)
    assert (refused.returncode, refused.stderr.strip()) == (1, f"Error: {refusal}"), refused
    with pytest.raises(java_client.JavaClientError, match=re.escape(refusal)):
        java_client.run_tool("org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
                             "--bootstrap-server", address, "--generate",
                             "--topics-to-move-json-file", topics_file,
                             "--broker-list", "1,2,3,4")
    plain = proposal(reassign(address, "--generate", "--topics-to-move-json-file", topics_file,
                              "--broker-list", "1,2,3,4", "--disable-rack-aware").stdout)
    assert {p["replicas"][0] for p in plain["partitions"]} == {1, 2, 3, 4}, plain
    misplaced = reassign(address, "--list", "--disable-rack-aware", check=False)
    assert misplaced.returncode == 1 and \
        'Option "[disable-rack-aware]" can\'t be used with action "[list]"' in misplaced.stderr, \
        misplaced
