"""KIP-1071 streams groups over real sockets: StreamsGroupHeartbeat (88) and
StreamsGroupDescribe (89), v0 and v1, as Kafka 4.4's group coordinator
answers them -- from requests built by hand (streams_wire.py) and from
franz-go's kmsg (`gregor-go-client franz streams`, compat-tests/go/streams.go).

Kafka's checks of a heartbeat and their messages; a topology whose source
topics are missing, then whose internal topics the broker creates with the
partition counts it derived, then whose tasks it assigns; two members
handing tasks over (a task moves only once its owner revoked it, so it is
never active on two members); fencing, unknown and static members; the
group size limit; the `streams.version` feature gate; the initial
rebalance delay; the interactive-query endpoints; and how the classic and
consumer group APIs see a streams group.

Brokers start with group.streams.initial.rebalance.delay.ms=0 and
group.streams.assignment.interval.ms=0 (Kafka's defaults, 3 s and 1 s,
would hold every assignment back), except where the delay is the point."""

from __future__ import annotations

import json
import time
import uuid

import pytest

import go_client
from conftest import lend_shared_broker, started_shared_broker, wait_until
from go_client import FRANZ
from group_harness import GroupWire
from kafka_wire import WireClient
from streams_wire import (ASSIGNMENT_DELAYED, DESCRIPTION_NOT_REQUESTED, DESCRIPTION_NOT_STORED,
                          MISSING_INTERNAL_TOPICS, MISSING_SOURCE_TOPICS, SHUTDOWN_APPLICATION,
                          STALE_TOPOLOGY, StreamsWire, subtopology, topic_info, topology)

pytestmark = pytest.mark.timeout(120)

NONE = 0
INCONSISTENT_GROUP_PROTOCOL = 23
UNKNOWN_MEMBER_ID = 25
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42
NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
GROUP_MAX_SIZE_REACHED = 81
FENCED_INSTANCE_ID = 82
FENCED_MEMBER_EPOCH = 110
UNRELEASED_INSTANCE_ID = 111
STREAMS_INVALID_TOPOLOGY = 130

# Kafka 4.4's defaults, which every heartbeat answer carries.
HEARTBEAT_INTERVAL_MS = 5000
TASK_OFFSET_INTERVAL_MS = 60000
ACCEPTABLE_RECOVERY_LAG = 10000

IMMEDIATE = {"group.streams.initial.rebalance.delay.ms": "0",
             "group.streams.assignment.interval.ms": "0"}
REBALANCE_TIMEOUT_MS = 30000


@pytest.fixture(scope="module")
def streams_module_broker():
    yield from started_shared_broker("streams", IMMEDIATE)


@pytest.fixture
def streams_broker(streams_module_broker, request):
    yield from lend_shared_broker(streams_module_broker, "streams broker", request)


@pytest.fixture
def names(request):
    """Unique names for this test: names("g") -> "<test>-g-<hex>"."""
    tag = uuid.uuid4().hex[:8]
    short = request.node.name.removeprefix("test_")[:24]
    return lambda what: f"{short}-{what}-{tag}"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def create_topics(bootstrap: str, *topics: tuple[str, int]) -> None:
    host, port = bootstrap.rsplit(":", 1)
    with WireClient(host, int(port)) as client:
        answers = client.create_topics_v4([(name, n, 1) for name, n in topics])
    assert all(err == 0 for err, _ in answers.values()), answers


def partition_counts(bootstrap: str, topics: list[str]) -> dict[str, int | None]:
    """Partition counts as Metadata v4 tells them (None: no such topic),
    without auto-creating anything."""
    host, port = bootstrap.rsplit(":", 1)
    with WireClient(host, int(port)) as client:
        found = client.metadata_v4(topics, allow_auto_create=False)
    return {t: (n if err == 0 else None) for t, (err, n) in found.items()}


def join(group: str, member: str, topo: dict, process: str = "process-1", **extra) -> dict:
    """The fields of a first heartbeat, as Kafka Streams sends it."""
    fields = dict(group_id=group, member_id=member, member_epoch=0,
                  rebalance_timeout_ms=REBALANCE_TIMEOUT_MS, topology=topo, active_tasks={},
                  standby_tasks={}, warmup_tasks={}, process_id=process)
    fields.update(extra)
    return fields


def stateless(source: str) -> dict:
    """One subtopology reading `source`: as many tasks as it has partitions."""
    return topology(subtopology("0", source_topics=[source]))


def word_count(source: str, repartition: str, changelog: str) -> dict:
    """Kafka Streams' word count: `source` re-keyed through `repartition`
    into a counting store whose changelog is `changelog`."""
    return topology(
        subtopology("0", source_topics=[source], repartition_sink_topics=[repartition]),
        subtopology("1", repartition_source_topics=[topic_info(repartition)],
                    state_changelog_topics=[topic_info(changelog)]))


def ok(answer: dict) -> dict:
    assert answer["error_code"] == NONE, answer
    return answer


def refused(answer: dict, code: int, message) -> None:
    """A heartbeat refused with `code` and Kafka's `message` (None: no
    message); an error answer carries nothing else (Status at its default,
    an empty list; the task lists null)."""
    assert (answer["error_code"], answer["error_message"]) == (code, message), answer
    assert (answer["member_epoch"], answer["status"], answer["active_tasks"],
            answer["partitions_by_user_endpoint"]) == (0, [], None, None), answer


def count(tasks: dict[str, list[int]]) -> int:
    return sum(len(p) for p in tasks.values())


def task_set(tasks: dict[str, list[int]] | None) -> set[tuple[str, int]]:
    return {(s, p) for s, ps in (tasks or {}).items() for p in ps}


def by_member(group: dict) -> dict[str, dict]:
    return {m["member_id"]: m for m in group["members"]}


# franz-go (kmsg): the Go harness's `streams` command takes kmsg's request
# structs as JSON and prints kmsg's decoded answers.

def kmsg_topology(topo: dict) -> dict:
    def info(t):
        return {"Topic": t["name"], "NumPartitions": t["partitions"],
                "ReplicationFactor": t["replication_factor"],
                "Configs": [{"Key": k, "Value": v} for k, v in t["configs"].items()]}
    return {"Epoch": topo["epoch"], "Subtopologies": [
        {"SubtopologyID": s["id"], "SourceTopics": s["source_topics"],
         "SourceTopicRegex": s["source_topic_regex"],
         "StateChangelogTopics": [info(t) for t in s["state_changelog_topics"]],
         "RepartitionSinkTopics": s["repartition_sink_topics"],
         "RepartitionSourceTopics": [info(t) for t in s["repartition_source_topics"]],
         "CopartitionGroups": [{"SourceTopics": g[0], "RepartitionSourceTopics": g[1]}
                               for g in s["copartition_groups"]]}
        for s in topo["subtopologies"]]}


def kmsg_tasks(tasks: dict[str, list[int]] | None):
    if tasks is None:
        return None
    return [{"SubtopologyID": s, "Partitions": sorted(p)} for s, p in sorted(tasks.items())]


def ktasks(tasks) -> dict[str, list[int]] | None:
    """kmsg's []TaskIDs as {subtopology: [partitions]} (None if null)."""
    if tasks is None:
        return None
    return {t["SubtopologyID"]: sorted(t["Partitions"] or []) for t in tasks}


def franz(bootstrap: str, *steps: dict) -> list[dict]:
    """Runs `steps` (each {"heartbeat": ...} or {"describe": ...}, with
    an optional "max_version") through franz-go, one process; kmsg's
    answers in order."""
    lines = go_client.run(FRANZ, bootstrap, "streams", *(json.dumps(s) for s in steps))
    answers = [json.loads(line.split(" ", 1)[1]) for line in lines]
    assert len(answers) == len(steps), lines
    return answers


def franz_heartbeat(group: str, member: str, epoch: int, owned=None, max_version=None,
                    **fields) -> dict:
    """A kmsg StreamsGroupHeartbeat step; `owned`: the active tasks the
    member owns (standby and warm-up empty), None for null lists."""
    request = {"Group": group, "MemberID": member, "MemberEpoch": epoch,
               "EndpointInformationEpoch": -1}
    if owned is not None:
        request.update(ActiveTasks=kmsg_tasks(owned), StandbyTasks=[], WarmupTasks=[])
    request.update(fields)
    step = {"heartbeat": request}
    if max_version is not None:
        step["max_version"] = max_version
    return step


def franz_join(group: str, member: str, topo: dict, process: str) -> dict:
    return franz_heartbeat(group, member, 0, owned={}, Topology=kmsg_topology(topo),
                           RebalanceTimeoutMillis=REBALANCE_TIMEOUT_MS, ProcessID=process)


def franz_describe(*groups: str, max_version=None, **fields) -> dict:
    step = {"describe": {"Groups": list(groups), **fields}}
    if max_version is not None:
        step["max_version"] = max_version
    return step


# ---------------------------------------------------------------------------
# request validation
# ---------------------------------------------------------------------------

def test_heartbeat_validation_answers_kafkas_errors(streams_broker, names):
    """Kafka's GroupCoordinatorService checks, each refused with its
    message before the group is looked at: nothing is created."""
    group, source = names("g"), names("in")
    topo = stateless(source)
    base = join(group, "m-1", topo)
    with StreamsWire.to(streams_broker.bootstrap) as wire:
        cases = [
            (dict(base, member_id=""), INVALID_REQUEST, "MemberId can't be empty."),
            (dict(base, member_id="   "), INVALID_REQUEST, "MemberId can't be empty."),
            (dict(base, instance_id=""), INVALID_REQUEST, "InstanceId can't be empty."),
            (dict(base, rack_id=" "), INVALID_REQUEST, "RackId can't be empty."),
            (dict(base, rebalance_timeout_ms=-1), INVALID_REQUEST,
             "RebalanceTimeoutMs must be provided in first request."),
            (dict(base, active_tasks=None), INVALID_REQUEST,
             "ActiveTasks must be empty when (re-)joining."),
            (dict(base, active_tasks={"0": [0]}), INVALID_REQUEST,
             "ActiveTasks must be empty when (re-)joining."),
            (dict(base, standby_tasks=None), INVALID_REQUEST,
             "StandbyTasks must be empty when (re-)joining."),
            (dict(base, warmup_tasks=None), INVALID_REQUEST,
             "WarmupTasks must be empty when (re-)joining."),
            (dict(base, topology=None), INVALID_REQUEST,
             "Topology must be non-null when (re-)joining."),
            (dict(base, member_epoch=-3, topology=None), INVALID_REQUEST,
             "MemberEpoch is -3, but must be greater than or equal to -2."),
            (dict(base, member_epoch=-2, topology=None), INVALID_REQUEST,
             "InstanceId can't be null."),
            (dict(base, member_epoch=1, topology=None, active_tasks={}, standby_tasks=None,
                  warmup_tasks=None), INVALID_REQUEST,
             "If one task-type is non-null, all must be non-null."),
            (dict(base, member_epoch=1, active_tasks=None, standby_tasks=None,
                  warmup_tasks=None), INVALID_REQUEST,
             "Topology can only be provided when (re-)joining."),
            (dict(base, topology=topology(subtopology("0", source_topic_regex=[f"{source}.*"]))),
             INVALID_REQUEST, "Regular expressions for source topics are not supported yet."),
            (dict(base, topology=topology(subtopology(
                "0", source_topics=[source],
                state_changelog_topics=[topic_info(f"{group}-store-changelog", 3)]))),
             STREAMS_INVALID_TOPOLOGY,
             f"Changelog topic {group}-store-changelog must have an undefined partition "
             "count, but it is set to 3."),
        ]
        for fields, code, message in cases:
            for version in (0, 1):
                refused(wire.heartbeat(version, **fields), code, message)
        # Nothing was created by the refused joins.
        described = wire.describe_one(group)
        assert (described["error_code"], described["error_message"]) == \
            (GROUP_ID_NOT_FOUND, f"Group {group} not found."), described

    # franz-go's kmsg sends null task lists as null: the same refusal.
    (answer,) = franz(streams_broker.bootstrap, franz_heartbeat(
        group, "m-1", 0, Topology=kmsg_topology(topo), RebalanceTimeoutMillis=30000))
    assert (answer["ErrorCode"], answer["ErrorMessage"]) == \
        (INVALID_REQUEST, "ActiveTasks must be empty when (re-)joining."), answer
    assert (answer["Status"], answer["ActiveTasks"], answer["MemberEpoch"]) == ([], None, 0), \
        answer


def test_blank_group_ids_are_refused(streams_broker, names):
    """Kafka refuses a blank group id (empty or spaces) as it refuses a
    blank member id, checking the member id first; nothing is created."""
    source = names("in")
    base = join("", "m-1", stateless(source))
    with StreamsWire.to(streams_broker.bootstrap) as wire:
        empty = wire.heartbeat(**base)
        both = wire.heartbeat(**dict(base, member_id=""))
        spaces = wire.heartbeat(**dict(base, group_id="   "))
    groups = GroupWire(*streams_broker.bootstrap.rsplit(":", 1))
    try:
        listed = {g["group_id"] for g in groups.call("ListGroups", 5)["groups"]}
    finally:
        groups.close()
    refused(empty, INVALID_REQUEST, "GroupId can't be empty.")
    refused(spaces, INVALID_REQUEST, "GroupId can't be empty.")
    assert "   " not in listed, listed
    refused(both, INVALID_REQUEST, "MemberId can't be empty.")


def test_a_join_refused_for_its_topology_creates_no_group(streams_broker, names):
    """A topology Kafka cannot configure with any topics (a repartition
    topic nobody writes, a loop of repartition topics) fails the join with
    STREAMS_INVALID_TOPOLOGY, and no record is written: the group does not
    exist afterwards."""
    bootstrap = streams_broker.bootstrap
    source = names("in")
    create_topics(bootstrap, (source, 2))
    never_written = topology(
        subtopology("0", source_topics=[source]),
        subtopology("1", repartition_source_topics=[topic_info(names("unwritten"))]))
    loop_a, loop_b = names("loop-a"), names("loop-b")
    loop = topology(
        subtopology("0", repartition_source_topics=[topic_info(loop_a)],
                    repartition_sink_topics=[loop_b]),
        subtopology("1", repartition_source_topics=[topic_info(loop_b)],
                    repartition_sink_topics=[loop_a]))
    cases = [(names("g-unwritten"), never_written,
              "Failed to compute number of partitions for all repartition topics, because a "
              "repartition source topic is never used as a sink topic."),
             (names("g-loop"), loop,
              "Failed to compute number of partitions for all repartition topics. There may "
              "be loops in the topology that cannot be resolved.")]
    host, port = bootstrap.rsplit(":", 1)
    with StreamsWire(host, port) as wire:
        for group, topo, message in cases:
            refused(wire.heartbeat(**join(group, "m-1", topo)), STREAMS_INVALID_TOPOLOGY,
                    message)
        described = {group: wire.describe_one(group) for group, _, _ in cases}
    groups = GroupWire(host, int(port))
    try:
        listed = {g["group_id"] for g in groups.call("ListGroups", 5)["groups"]}
    finally:
        groups.close()
    for group, _, _ in cases:
        assert group not in listed, (group, listed)
        assert (described[group]["error_code"], described[group]["error_message"]) == \
            (GROUP_ID_NOT_FOUND, f"Group {group} not found."), described[group]


def test_topologies_naming_kafkas_internal_topics_are_refused(streams_broker, names):
    """KafkaApis refuses the topics Kafka keeps for itself (Topic.isInternal:
    __consumer_offsets, __transaction_state, __share_group_state) and
    invalid topic names; any other name is the application's own, even one
    starting with "__"."""
    group = names("g")
    with StreamsWire.to(streams_broker.bootstrap) as wire:
        answer = wire.heartbeat(**join(group, "m-1", stateless("__consumer_offsets")))
        refused(answer, STREAMS_INVALID_TOPOLOGY,
                "Use of Kafka internal topics __consumer_offsets in a Kafka Streams topology "
                "is prohibited.")
        answer = wire.heartbeat(**join(group, "m-1", topology(subtopology(
            "0", source_topics=[names("in")],
            state_changelog_topics=[topic_info("__transaction_state")]))))
        refused(answer, STREAMS_INVALID_TOPOLOGY,
                "Use of Kafka internal topics __transaction_state in a Kafka Streams topology "
                "is prohibited.")
        answer = wire.heartbeat(**join(group, "m-1", stateless("no spaces allowed")))
        refused(answer, STREAMS_INVALID_TOPOLOGY,
                "Topic names no spaces allowed are not valid topic names.")
        # A user topic whose name starts with "__" is not internal to Kafka:
        # the join is taken (the topic does not exist yet).
        user_topic = "__" + names("user-topic")
        answer = ok(wire.heartbeat(**join(group, "m-1", stateless(user_topic))))
        assert answer["status"] == [(MISSING_SOURCE_TOPICS,
                                     f"Source topics {user_topic} are missing.")], answer


def test_topology_is_fixed_by_the_first_member(streams_broker, names):
    """The group keeps the first topology: an older epoch is told it is
    stale, a different topology at the same or a newer epoch is refused
    (Kafka 4.4 does not update topologies)."""
    group, source = names("g"), names("in")
    create_topics(streams_broker.bootstrap, (source, 2))
    topo = topology(subtopology("0", source_topics=[source]), epoch=1)
    with StreamsWire.to(streams_broker.bootstrap) as wire:
        first = ok(wire.heartbeat(**join(group, "m-1", topo)))
        assert (first["member_epoch"], first["status"]) == (1, []), first
        older = ok(wire.heartbeat(**join(group, "m-2", topology(
            subtopology("0", source_topics=[source]), epoch=0), process="process-2")))
        assert older["status"] == [(STALE_TOPOLOGY, "The member's topology epoch 0 is behind "
                                                    "the group's topology epoch 1.")], older
        for epoch in (1, 2):
            other = topology(subtopology("0", source_topics=[source, names("other")]),
                             epoch=epoch)
            refused(wire.heartbeat(**join(group, "m-3", other, process="process-3")),
                    INVALID_REQUEST, "Topology updates are not supported yet.")
        members = by_member(wire.describe_one(group))
        assert sorted(members) == ["m-1", "m-2"], members
        assert (members["m-1"]["topology_epoch"], members["m-2"]["topology_epoch"]) == (1, 0)


# ---------------------------------------------------------------------------
# topics: missing sources, internal topics created by the broker, tasks
# ---------------------------------------------------------------------------

def test_missing_source_topics_then_internal_topics_created_then_tasks(streams_broker, names):
    bootstrap = streams_broker.bootstrap
    group = names("g")
    source_a, source_b = names("a-in"), names("b-in")
    repartition, changelog = f"{group}-count-repartition", f"{group}-count-changelog"
    topo = topology(
        subtopology("0", source_topics=[source_b, source_a], repartition_sink_topics=[repartition]),
        subtopology("1", repartition_source_topics=[topic_info(repartition)],
                    state_changelog_topics=[topic_info(changelog,
                                                       configs={"cleanup.policy": "compact"})]))
    raw_subtopology_1 = {"id": "1", "source_topics": [], "repartition_sink_topics": [],
                         "state_changelog_topics": [
                             {"name": changelog, "partitions": 0, "replication_factor": 0,
                              "configs": {"cleanup.policy": "compact"}}],
                         "repartition_source_topics": [
                             {"name": repartition, "partitions": 0, "replication_factor": 0,
                              "configs": {}}]}
    with StreamsWire.to(bootstrap) as wire:
        # 1. No source topic exists: the member joins, without tasks.
        first = ok(wire.heartbeat(**join(group, "m-1", topo)))
        assert first["member_id"] == "m-1" and first["member_epoch"] == 1, first
        assert first["status"] == [(MISSING_SOURCE_TOPICS,
                                    f"Source topics {source_a}, {source_b} are missing.")]
        assert (first["active_tasks"], first["standby_tasks"], first["warmup_tasks"]) == \
            ({}, {}, {}), first
        assert (first["heartbeat_interval_ms"], first["task_offset_interval_ms"],
                first["acceptable_recovery_lag"], first["topology_description_required"]) == \
            (HEARTBEAT_INTERVAL_MS, TASK_OFFSET_INTERVAL_MS, ACCEPTABLE_RECOVERY_LAG, False)
        described = wire.describe_one(group)
        assert (described["error_code"], described["group_state"], described["group_epoch"],
                described["assignment_epoch"]) == (NONE, "NotReady", 1, 1), described
        assert described["topology"]["subtopologies"][1] == raw_subtopology_1, described
        assert by_member(described)["m-1"]["assignment"] == \
            {"active": {}, "standby": {}, "warmup": {}}

        # 2. One of them appears: the group epoch moves on, the other is missing.
        create_topics(bootstrap, (source_b, 2))
        second = ok(wire.heartbeat(group_id=group, member_id="m-1", member_epoch=1))
        assert second["member_epoch"] == 2, second
        assert second["status"] == [(MISSING_SOURCE_TOPICS,
                                     f"Source topics {source_a} are missing.")], second
        assert second["active_tasks"] is None, second   # unchanged: not sent

        # 3. Both exist: the internal topics are missing, and the broker
        # creates them, with the partition count it derived (the most
        # partitions of the subtopology's sources: 4).
        assert partition_counts(bootstrap, [repartition, changelog]) == \
            {repartition: None, changelog: None}
        create_topics(bootstrap, (source_a, 4))
        third = ok(wire.heartbeat(group_id=group, member_id="m-1", member_epoch=2))
        assert third["member_epoch"] == 3 and third["active_tasks"] is None, third
        ((code, detail),) = third["status"]
        assert code == MISSING_INTERNAL_TOPICS, third
        prefix = "Internal topics are missing: "
        assert detail.startswith(prefix), detail
        assert sorted(detail.removeprefix(prefix).split(", ")) == sorted([repartition, changelog])
        described = wire.describe_one(group)
        assert (described["group_state"], described["group_epoch"]) == ("NotReady", 3)
        assert described["topology"]["subtopologies"][1] == raw_subtopology_1, described

        wait_until(lambda: partition_counts(bootstrap, [repartition, changelog]) ==
                   {repartition: 4, changelog: 4}, timeout=15,
                   what="the broker creating the internal topics with 4 partitions")
        from confluent_kafka.admin import AdminClient, ConfigResource
        admin = AdminClient({"bootstrap.servers": bootstrap})
        resource = ConfigResource(ConfigResource.Type.TOPIC, changelog)
        configs = admin.describe_configs([resource])[resource].result(timeout=10)
        assert configs["cleanup.policy"].value == "compact"

        # 4. Ready: all the tasks (4 of each subtopology) to the one member.
        fourth = ok(wire.heartbeat(group_id=group, member_id="m-1", member_epoch=3))
        every = {"0": [0, 1, 2, 3], "1": [0, 1, 2, 3]}
        assert (fourth["member_epoch"], fourth["status"]) == (4, []), fourth
        assert (fourth["active_tasks"], fourth["standby_tasks"], fourth["warmup_tasks"]) == \
            (every, {}, {}), fourth

        # v0: the same answer, with v0's legacy lag field and without v1's.
        v0 = ok(wire.heartbeat(0, group_id=group, member_id="m-1", member_epoch=4,
                               active_tasks=every, standby_tasks={}, warmup_tasks={}))
        assert (v0["member_epoch"], v0["status"], v0["active_tasks"]) == (4, [], None), v0
        assert v0["acceptable_recovery_lag_legacy"] == 0 and "acceptable_recovery_lag" not in v0

        # StreamsGroupDescribe: the configured topology, with the counts decided.
        for version in (0, 1):
            described = wire.describe_one(group, version)
            assert (described["error_code"], described["group_state"],
                    described["group_epoch"], described["assignment_epoch"]) == \
                (NONE, "Stable", 4, 4), described
            assert described["topology"] == {"epoch": 0, "subtopologies": [
                {"id": "0", "source_topics": sorted([source_a, source_b]),
                 "repartition_sink_topics": [repartition], "state_changelog_topics": [],
                 "repartition_source_topics": []},
                {**raw_subtopology_1,
                 "state_changelog_topics": [{"name": changelog, "partitions": 4,
                                             "replication_factor": 0,
                                             "configs": {"cleanup.policy": "compact"}}],
                 "repartition_source_topics": [{"name": repartition, "partitions": 4,
                                                "replication_factor": 0, "configs": {}}]}]}
            (member,) = described["members"]
            assert {k: member[k] for k in ("member_id", "member_epoch", "instance_id",
                                           "rack_id", "client_id", "client_host",
                                           "topology_epoch", "process_id", "user_endpoint",
                                           "is_classic")} == \
                {"member_id": "m-1", "member_epoch": 4, "instance_id": None, "rack_id": None,
                 "client_id": "gregor-compat-streams", "client_host": "/127.0.0.1",
                 "topology_epoch": 0, "process_id": "process-1", "user_endpoint": None,
                 "is_classic": False}
            assert member["assignment"] == member["target_assignment"] == \
                {"active": every, "standby": {}, "warmup": {}}, member
            assert described["authorized_operations"] == -2147483648
            if version == 1:
                assert (described["assignor_name"], described["topology_description_status"],
                        described["topology_description"]) == \
                    ("sticky", DESCRIPTION_NOT_REQUESTED, None), described
        asked = wire.describe_one(group, 1, include_topology_description=True)
        assert (asked["topology_description_status"], asked["topology_description"]) == \
            (DESCRIPTION_NOT_STORED, None), asked

        # Leaving (-1) answers epoch -1 and empties the group; its epoch moves on.
        left = ok(wire.heartbeat(group_id=group, member_id="m-1", member_epoch=-1))
        assert (left["member_id"], left["member_epoch"], left["status"],
                left["active_tasks"]) == ("m-1", -1, [], None), left
        described = wire.describe_one(group)
        assert (described["group_state"], described["group_epoch"],
                described["assignment_epoch"], described["members"]) == ("Empty", 5, 5, [])


# ---------------------------------------------------------------------------
# two members: revocation before assignment (franz-go's kmsg)
# ---------------------------------------------------------------------------

def test_two_members_hand_tasks_over_only_after_revocation_franz(streams_broker, names):
    bootstrap = streams_broker.bootstrap
    group = names("g")
    source, repartition, changelog = names("in"), f"{group}-repartition", f"{group}-changelog"
    create_topics(bootstrap, (source, 2), (repartition, 2), (changelog, 2))
    topo = word_count(source, repartition, changelog)
    every = {"0": [0, 1], "1": [0, 1]}

    def owned_by(described: dict) -> dict[str, set]:
        """Each member's active tasks, checking none is active twice."""
        owners = {m["MemberID"]: task_set(ktasks(m["Assignment"]["ActiveTasks"] or []))
                  for m in described["Members"] or []}
        seen: set = set()
        for tasks in owners.values():
            assert not tasks & seen, f"a task is active on two members: {owners}"
            seen |= tasks
        return owners

    # A joins alone: every task.
    (a1,) = franz(bootstrap, franz_join(group, "member-a", topo, "process-a"))
    assert (a1["ErrorCode"], a1["MemberEpoch"], a1["Status"]) == (NONE, 1, []), a1
    assert (ktasks(a1["ActiveTasks"]), a1["StandbyTasks"], a1["WarmupTasks"]) == \
        (every, [], []), a1
    assert (a1["Version"], a1["AcceptableRecoveryLag"]) == (1, ACCEPTABLE_RECOVERY_LAG), a1

    # B joins (epoch 2): its share is still A's, so it gets nothing yet.
    (b1,) = franz(bootstrap, franz_join(group, "member-b", topo, "process-b"))
    assert (b1["ErrorCode"], b1["MemberEpoch"], ktasks(b1["ActiveTasks"])) == (NONE, 2, {}), b1

    # A, still owning everything, is told to keep half: it stays at epoch 1
    # until it has let the other half go. B still waits (v0 this time).
    a2, b2, described = franz(
        bootstrap, franz_heartbeat(group, "member-a", 1, owned=every),
        franz_heartbeat(group, "member-b", 2, owned={}, max_version=0),
        franz_describe(group))
    assert (a2["ErrorCode"], a2["MemberEpoch"]) == (NONE, 1), a2
    kept = task_set(ktasks(a2["ActiveTasks"]))
    moved = task_set(every) - kept
    assert kept < task_set(every) and len(kept) == 2, a2
    assert (a2["StandbyTasks"], a2["WarmupTasks"]) == ([], []), a2
    assert (b2["ErrorCode"], b2["MemberEpoch"], b2["ActiveTasks"]) == (NONE, 2, None), b2
    assert (b2["Version"], b2["AcceptableRecoveryLagLegacy"]) == (0, 0), b2
    (g,) = described["Groups"]
    assert (g["ErrorCode"], g["State"], g["Epoch"], g["AssignmentEpoch"]) == \
        (NONE, "Reconciling", 2, 2), g
    members = {m["MemberID"]: m for m in g["Members"]}
    assert {m: members[m]["MemberEpoch"] for m in members} == {"member-a": 1, "member-b": 2}
    assert owned_by(g) == {"member-a": kept, "member-b": set()}
    assert task_set(ktasks(members["member-a"]["TargetAssignment"]["ActiveTasks"])) == kept
    assert task_set(ktasks(members["member-b"]["TargetAssignment"]["ActiveTasks"])) == moved

    # Still reporting the moved tasks: nothing moves. Then A lets them go:
    # it moves to epoch 2 (its tasks unchanged, so not resent), and only
    # then does B get them.
    kept_tasks = {}
    for s, p in kept:
        kept_tasks.setdefault(s, []).append(p)
    a3, b3, a4, b4, described = franz(
        bootstrap, franz_heartbeat(group, "member-a", 1, owned=every),
        franz_heartbeat(group, "member-b", 2, owned={}),
        franz_heartbeat(group, "member-a", 1, owned=kept_tasks),
        franz_heartbeat(group, "member-b", 2, owned={}),
        franz_describe(group))
    assert (a3["ErrorCode"], a3["MemberEpoch"], a3["ActiveTasks"]) == (NONE, 1, None), a3
    assert (b3["ErrorCode"], b3["MemberEpoch"], b3["ActiveTasks"]) == (NONE, 2, None), b3
    assert (a4["ErrorCode"], a4["MemberEpoch"], a4["ActiveTasks"]) == (NONE, 2, None), a4
    assert (b4["ErrorCode"], b4["MemberEpoch"]) == (NONE, 2), b4
    assert task_set(ktasks(b4["ActiveTasks"])) == moved, b4
    (g,) = described["Groups"]
    assert (g["State"], g["Epoch"], g["AssignmentEpoch"], g["AssignorName"]) == \
        ("Stable", 2, 2, "sticky"), g
    assert owned_by(g) == {"member-a": kept, "member-b": moved}
    members = {m["MemberID"]: m for m in g["Members"]}
    for member_id, process in (("member-a", "process-a"), ("member-b", "process-b")):
        m = members[member_id]
        assert (m["MemberEpoch"], m["ProcessID"], m["ClientID"], m["ClientHost"],
                m["TopologyEpoch"], m["IsClassic"]) == \
            (2, process, "kgo", "/127.0.0.1", 0, False), m
        assert ktasks(m["Assignment"]["ActiveTasks"]) == \
            ktasks(m["TargetAssignment"]["ActiveTasks"]), m
    (sub0, sub1) = g["Topology"]["Subtopologies"]
    assert (sub0["SubtopologyID"], sub0["SourceTopics"], sub0["RepartitionSinkTopics"]) == \
        ("0", [source], [repartition]), sub0
    assert [(t["Topic"], t["NumPartitions"]) for t in sub1["RepartitionSourceTopics"]] == \
        [(repartition, 2)], sub1
    assert [(t["Topic"], t["NumPartitions"]) for t in sub1["StateChangelogTopics"]] == \
        [(changelog, 2)], sub1

    # B leaves: -1 back, the group epoch moves on (3) and A gets everything.
    b5, a5, described = franz(
        bootstrap, franz_heartbeat(group, "member-b", -1),
        franz_heartbeat(group, "member-a", 2, owned=kept_tasks),
        franz_describe(group, max_version=0))
    assert (b5["ErrorCode"], b5["MemberID"], b5["MemberEpoch"], b5["Status"]) == \
        (NONE, "member-b", -1, []), b5
    assert (a5["ErrorCode"], a5["MemberEpoch"], ktasks(a5["ActiveTasks"])) == \
        (NONE, 3, every), a5
    (g,) = described["Groups"]
    assert (described["Version"], g["State"], g["Epoch"], g["AssignmentEpoch"]) == \
        (0, "Stable", 3, 3), g
    assert owned_by(g) == {"member-a": task_set(every)}


# ---------------------------------------------------------------------------
# fencing, unknown members, static members
# ---------------------------------------------------------------------------

def test_fencing_and_unknown_members(streams_broker, names):
    bootstrap = streams_broker.bootstrap
    group, source = names("g"), names("in")
    create_topics(bootstrap, (source, 2))
    topo = stateless(source)
    with StreamsWire.to(bootstrap) as wire:
        a = ok(wire.heartbeat(**join(group, "member-a", topo)))
        assert (a["member_epoch"], a["active_tasks"]) == (1, {"0": [0, 1]}), a
        refused(wire.heartbeat(group_id=group, member_id="member-a", member_epoch=2),
                FENCED_MEMBER_EPOCH,
                "The streams group member has a greater member epoch (2) than the one known by "
                "the group coordinator (1). The member must abandon all its partitions and "
                "rejoin.")
        # B joins; A gives up a task and reaches epoch 2 (previous epoch 1).
        assert ok(wire.heartbeat(**join(group, "member-b", topo, process="process-b")))[
            "member_epoch"] == 2
        revoking = ok(wire.heartbeat(group_id=group, member_id="member-a", member_epoch=1,
                                     active_tasks={"0": [0, 1]}, standby_tasks={},
                                     warmup_tasks={}))
        kept = revoking["active_tasks"]
        assert revoking["member_epoch"] == 1 and count(kept) == 1, revoking
        owning_kept = dict(active_tasks=kept, standby_tasks={}, warmup_tasks={})
        assert ok(wire.heartbeat(group_id=group, member_id="member-a", member_epoch=1,
                                 **owning_kept))["member_epoch"] == 2
        b = ok(wire.heartbeat(group_id=group, member_id="member-b", member_epoch=2,
                              active_tasks={}, standby_tasks={}, warmup_tasks={}))
        assert b["member_epoch"] == 2 and count(b["active_tasks"]) == 1, b

        # The previous epoch is taken once more from a member owning only
        # tasks it still has (the answer moving it on may have been lost) ...
        again = ok(wire.heartbeat(group_id=group, member_id="member-a", member_epoch=1,
                                  **owning_kept))
        assert (again["member_epoch"], again["active_tasks"]) == (2, None), again
        # ... not without its tasks, nor with tasks it no longer has.
        smaller = ("The streams group member has a smaller member epoch (1) than the one known "
                   "by the group coordinator (2). The member must abandon all its partitions "
                   "and rejoin.")
        refused(wire.heartbeat(group_id=group, member_id="member-a", member_epoch=1),
                FENCED_MEMBER_EPOCH, smaller)
        refused(wire.heartbeat(group_id=group, member_id="member-a", member_epoch=1,
                               active_tasks={"0": [0, 1]}, standby_tasks={}, warmup_tasks={}),
                FENCED_MEMBER_EPOCH, smaller)
        # Tasks the topology does not have.
        refused(wire.heartbeat(group_id=group, member_id="member-a", member_epoch=2,
                               active_tasks={"9": [0]}, standby_tasks={}, warmup_tasks={}),
                INVALID_REQUEST, "Subtopology 9 does not exist in the topology.")
        refused(wire.heartbeat(group_id=group, member_id="member-a", member_epoch=2,
                               active_tasks={"0": [5]}, standby_tasks={}, warmup_tasks={}),
                INVALID_REQUEST,
                "Task 5 for subtopology 0 is invalid. Number of tasks for this subtopology: 2")
        # Unknown members, heartbeating or leaving.
        for epoch in (1, -1):
            refused(wire.heartbeat(group_id=group, member_id="nobody", member_epoch=epoch),
                    UNKNOWN_MEMBER_ID, f"Member nobody is not a member of group {group}.")
        # A group the coordinator does not know (streams groups are kept in
        # __consumer_offsets, so a restarted coordinator knows its groups).
        unknown = names("unknown")
        answer = wire.heartbeat(group_id=unknown, member_id="member-a", member_epoch=1)
        assert (answer["error_code"], answer["error_message"]) == \
            (GROUP_ID_NOT_FOUND, f"Streams group {unknown} not found."), answer
        # The refusals changed nothing.
        described = wire.describe_one(group)
        assert (described["group_state"], described["group_epoch"]) == ("Stable", 2), described
        assert {m: d["member_epoch"] for m, d in by_member(described).items()} == \
            {"member-a": 2, "member-b": 2}


def test_static_member_leaves_for_a_while_and_is_replaced(streams_broker, names):
    bootstrap = streams_broker.bootstrap
    group, source = names("g"), names("in")
    create_topics(bootstrap, (source, 2))
    topo = stateless(source)
    every = {"0": [0, 1]}
    with StreamsWire.to(bootstrap) as wire:
        first = ok(wire.heartbeat(**join(group, "static-1", topo, instance_id="instance-a")))
        assert (first["member_epoch"], first["active_tasks"]) == (1, every), first
        # The instance id is owned: another member cannot take it.
        refused(wire.heartbeat(**join(group, "static-2", topo, instance_id="instance-a")),
                UNRELEASED_INSTANCE_ID,
                "Static member static-2 with instance id instance-a cannot join the group "
                "because the instance id is owned by static-1 member.")
        refused(wire.heartbeat(group_id=group, member_id="static-2", member_epoch=1,
                               instance_id="instance-a"),
                FENCED_INSTANCE_ID,
                "Static member static-2 with instance id instance-a was fenced by member "
                "static-1.")
        refused(wire.heartbeat(group_id=group, member_id="static-1", member_epoch=1,
                               instance_id="instance-z"),
                UNKNOWN_MEMBER_ID, "Instance id instance-z is unknown.")

        # Leaving for a while (-2): it stays in the group with its tasks.
        left = ok(wire.heartbeat(group_id=group, member_id="static-1", member_epoch=-2,
                                 instance_id="instance-a"))
        assert (left["member_id"], left["member_epoch"], left["status"]) == \
            ("static-1", -2, []), left
        described = wire.describe_one(group)
        (member,) = described["members"]
        assert (described["group_epoch"], member["member_id"], member["member_epoch"],
                member["instance_id"]) == (1, "static-1", -2, "instance-a"), described
        assert member["target_assignment"]["active"] == every, member

        # The instance comes back under a new member id: it takes the old
        # member's place and tasks, and the group epoch does not move.
        back = ok(wire.heartbeat(**join(group, "static-2", topo, instance_id="instance-a")))
        assert (back["member_id"], back["member_epoch"], back["active_tasks"]) == \
            ("static-2", 1, every), back
        described = wire.describe_one(group)
        (member,) = described["members"]
        assert (described["group_state"], described["group_epoch"],
                described["assignment_epoch"]) == ("Stable", 1, 1), described
        assert (member["member_id"], member["member_epoch"], member["instance_id"],
                member["assignment"]["active"]) == ("static-2", 1, "instance-a", every), member
        refused(wire.heartbeat(group_id=group, member_id="static-1", member_epoch=1,
                               instance_id="instance-a"),
                FENCED_INSTANCE_ID,
                "Static member static-1 with instance id instance-a was fenced by member "
                "static-2.")
        # Leaving for good (-1).
        gone = ok(wire.heartbeat(group_id=group, member_id="static-2", member_epoch=-1,
                                 instance_id="instance-a"))
        assert gone["member_epoch"] == -1, gone
        described = wire.describe_one(group)
        assert (described["group_state"], described["group_epoch"]) == ("Empty", 2), described


def test_group_max_size_reached(broker_factory, names):
    """group.streams.max.size=1: a second member is refused; the member
    itself, and a static member replacing its released instance, are not."""
    broker = broker_factory(**IMMEDIATE, **{"group.streams.max.size": "1"})
    group, static_group, source = names("g"), names("static"), names("in")
    create_topics(broker.bootstrap, (source, 1))
    topo = stateless(source)
    full = "The streams group has reached its maximum capacity of 1 members."
    with StreamsWire.to(broker.bootstrap) as wire:
        assert ok(wire.heartbeat(**join(group, "m-1", topo)))["member_epoch"] == 1
        assert ok(wire.heartbeat(**join(group, "m-1", topo)))["member_epoch"] == 1
        ok(wire.heartbeat(**join(static_group, "s-1", topo, instance_id="i-1")))
        ok(wire.heartbeat(group_id=static_group, member_id="s-1", member_epoch=-2,
                          instance_id="i-1"))
        replaced = ok(wire.heartbeat(**join(static_group, "s-2", topo, instance_id="i-1")))
        assert (replaced["member_epoch"], replaced["active_tasks"]) == (1, {"0": [0]}), replaced
        second = wire.heartbeat(**join(group, "m-2", topo, process="process-2"))
    (third,) = franz(broker.bootstrap, franz_join(group, "m-3", topo, "process-3"))
    assert (third["ErrorCode"], third["ErrorMessage"]) == (GROUP_MAX_SIZE_REACHED, full), third
    refused(second, GROUP_MAX_SIZE_REACHED, full)


def test_shutdown_application_is_told_to_every_member(streams_broker, names):
    """A member asking for the application's shutdown (on a heartbeat or
    when leaving) makes every member's heartbeat carry SHUTDOWN_APPLICATION
    until the group is empty."""
    bootstrap = streams_broker.bootstrap
    group, source = names("g"), names("in")
    create_topics(bootstrap, (source, 2))
    topo = stateless(source)

    def shutdown(member: str) -> tuple[int, str]:
        return (SHUTDOWN_APPLICATION, f"Streams group member {member} encountered a fatal "
                                      "error and requested a shutdown for the entire "
                                      "application.")

    with StreamsWire.to(bootstrap) as wire:
        a = ok(wire.heartbeat(**join(group, "member-a", topo)))
        b = ok(wire.heartbeat(**join(group, "member-b", topo, process="process-b")))
        asked = ok(wire.heartbeat(group_id=group, member_id="member-a",
                                  member_epoch=a["member_epoch"], shutdown_application=True))
        assert asked["status"] == [shutdown("member-a")], asked
        told = ok(wire.heartbeat(group_id=group, member_id="member-b",
                                 member_epoch=b["member_epoch"]))
        assert told["status"] == [shutdown("member-a")], told
        # Once the group is empty, it is forgotten.
        for member in ("member-a", "member-b"):
            ok(wire.heartbeat(group_id=group, member_id=member, member_epoch=-1))
        c = ok(wire.heartbeat(**join(group, "member-c", topo, process="process-c")))
        assert c["status"] == [], c
        d = ok(wire.heartbeat(**join(group, "member-d", topo, process="process-d")))
        # Asked by a member leaving.
        ok(wire.heartbeat(group_id=group, member_id="member-c", member_epoch=-1,
                          shutdown_application=True))
        told = ok(wire.heartbeat(group_id=group, member_id="member-d",
                                 member_epoch=d["member_epoch"]))
        assert told["status"] == [shutdown("member-c")], told


# ---------------------------------------------------------------------------
# the streams.version feature, the initial rebalance delay, IQ endpoints
# ---------------------------------------------------------------------------

def test_streams_version_downgraded_refuses_streams_groups(broker_factory, names):
    broker = broker_factory(**IMMEDIATE)
    bootstrap = broker.bootstrap
    group, source = names("g"), names("in")
    create_topics(bootstrap, (source, 1))
    topo = stateless(source)

    def finalized() -> set[str]:
        return {line.split()[1] for line in go_client.run(FRANZ, bootstrap, "features")
                if line.startswith("finalized")}

    assert "finalized streams.version 1" in go_client.run(FRANZ, bootstrap, "features")
    with StreamsWire.to(bootstrap) as wire:
        assert ok(wire.heartbeat(**join(group, "m-1", topo)))["member_epoch"] == 1
        assert go_client.run(FRANZ, bootstrap, "update-feature", "streams.version", "0",
                             "2") == ["updated 0"]
        try:
            assert "streams.version" not in finalized()
            for version in (0, 1):
                refused(wire.heartbeat(version, group_id=group, member_id="m-1",
                                       member_epoch=1), UNSUPPORTED_VERSION, None)
                refused(wire.heartbeat(version, **join(names("other"), "m-9", topo)),
                        UNSUPPORTED_VERSION, None)
                (described,) = wire.describe([group], version)
                assert (described["group_id"], described["error_code"],
                        described["error_message"], described["members"]) == \
                    (group, UNSUPPORTED_VERSION, None, []), described
            heartbeat, described = franz(bootstrap, franz_heartbeat(group, "m-1", 1),
                                         franz_describe(group))
            assert (heartbeat["ErrorCode"], heartbeat["ErrorMessage"]) == \
                (UNSUPPORTED_VERSION, None), heartbeat
            assert [(g["Group"], g["ErrorCode"]) for g in described["Groups"]] == \
                [(group, UNSUPPORTED_VERSION)], described
        finally:
            assert go_client.run(FRANZ, bootstrap, "update-feature", "streams.version", "1",
                                 "1") == ["updated 0"]
        # Upgraded back: the group is still there.
        assert "streams.version" in finalized()
        again = ok(wire.heartbeat(group_id=group, member_id="m-1", member_epoch=1))
        assert again["member_epoch"] == 1, again


def test_initial_rebalance_delay_holds_the_first_assignment(broker_factory, names):
    """Kafka's default delay (here 700 ms): the first member of an empty
    group waits at epoch 0, told ASSIGNMENT_DELAYED, then gets its tasks."""
    broker = broker_factory(**{"group.streams.initial.rebalance.delay.ms": "700",
                               "group.streams.assignment.interval.ms": "0"})
    group, source = names("g"), names("in")
    create_topics(broker.bootstrap, (source, 2))
    topo = stateless(source)
    with StreamsWire.to(broker.bootstrap) as wire:
        delayed = ok(wire.heartbeat(**join(group, "m-1", topo)))
        assert (delayed["member_epoch"], delayed["active_tasks"], delayed["status"]) == \
            (0, {}, [(ASSIGNMENT_DELAYED,
                      "Assignment delayed due to the configured initial rebalance delay.")]), \
            delayed
        described = wire.describe_one(group)
        assert (described["group_state"], described["group_epoch"],
                described["assignment_epoch"]) == ("Assigning", 1, 0), described
        time.sleep(1.0)
        done = ok(wire.heartbeat(**join(group, "m-1", topo)))
        assert (done["member_epoch"], done["active_tasks"], done["status"]) == \
            (1, {"0": [0, 1]}, []), done


def test_the_delayed_assignment_is_computed_when_the_delay_ends(broker_factory, names):
    """Kafka computes the delayed target assignment on a timer when the
    delay ends, without waiting for a heartbeat: StreamsGroupDescribe shows
    it (and the member not reconciled to it yet) right away."""
    broker = broker_factory(**{"group.streams.initial.rebalance.delay.ms": "500",
                               "group.streams.assignment.interval.ms": "0"})
    group, source = names("g"), names("in")
    create_topics(broker.bootstrap, (source, 2))
    with StreamsWire.to(broker.bootstrap) as wire:
        assert ok(wire.heartbeat(**join(group, "m-1", stateless(source))))["member_epoch"] == 0
        time.sleep(1.0)
        described = wire.describe_one(group)
        (member,) = described["members"]
        assert (described["group_state"], described["group_epoch"],
                described["assignment_epoch"], member["member_epoch"]) == \
            ("Reconciling", 1, 1, 0), described
        assert member["target_assignment"]["active"] == {"0": [0, 1]}, member


def test_interactive_query_endpoints(streams_broker, names):
    """PartitionsByUserEndpoint: the partitions of the member's tasks in each
    topic its subtopology reads -- a topic with fewer partitions than the
    subtopology has tasks has none for the higher task ids."""
    bootstrap = streams_broker.bootstrap
    group, wide, narrow = names("g"), names("wide"), names("narrow")
    create_topics(bootstrap, (wide, 2), (narrow, 1))
    topo = topology(subtopology("0", source_topics=[wide, narrow]))
    with StreamsWire.to(bootstrap) as wire:
        joined = ok(wire.heartbeat(**join(group, "m-1", topo,
                                          user_endpoint=("app-host", 8080))))
        assert (joined["member_epoch"], joined["active_tasks"]) == (1, {"0": [0, 1]}), joined
        # A member that has the group's endpoint epoch is not sent them again.
        again = ok(wire.heartbeat(group_id=group, member_id="m-1", member_epoch=1,
                                  endpoint_information_epoch=joined["endpoint_information_epoch"]))
        assert again["partitions_by_user_endpoint"] is None, again
        described = wire.describe_one(group)
        assert by_member(described)["m-1"]["user_endpoint"] == ("app-host", 8080)
    # What the join was told: one entry, for the member's endpoint.
    (entry,) = joined["partitions_by_user_endpoint"]
    assert entry["user_endpoint"] == ("app-host", 8080), entry
    assert entry["standby_partitions"] == [], entry
    assert sorted(entry["active_partitions"]) == [(narrow, [0]), (wide, [0, 1])], entry


# ---------------------------------------------------------------------------
# the other group APIs on a streams group
# ---------------------------------------------------------------------------

def test_classic_and_consumer_group_apis_on_a_streams_group(streams_broker, names):
    bootstrap = streams_broker.bootstrap
    group, consumer_group, source = names("g"), names("consumer"), names("in")
    create_topics(bootstrap, (source, 1))
    topo = stateless(source)
    host, port = bootstrap.rsplit(":", 1)
    wire, groups = StreamsWire(host, port), GroupWire(host, int(port))
    try:
        ok(wire.heartbeat(**join(group, "m-1", topo)))

        def listed(version=5, **filters) -> dict[str, dict]:
            answer = groups.call("ListGroups", version, **filters)
            assert answer["error_code"] == NONE, answer
            return {g["group_id"]: g for g in answer["groups"]}

        entry = listed(types_filter=["streams"])[group]
        assert (entry["protocol_type"], entry["group_state"], entry["group_type"]) == \
            ("streams", "Stable", "streams"), entry
        assert group in listed(types_filter=["Streams"])
        assert group not in listed(types_filter=["consumer", "classic"])
        assert group in listed(4, states_filter=["stable"])

        # DescribeGroups (classic): not a classic group.
        (described,) = groups.call("DescribeGroups", 6, groups=[group])["groups"]
        assert (described["error_code"], described["error_message"],
                described["group_state"]) == \
            (GROUP_ID_NOT_FOUND, f"Group {group} is not a classic group.", "Dead"), described
        (described,) = groups.call("DescribeGroups", 5, groups=[group])["groups"]
        assert (described["error_code"], described["group_state"], described["members"]) == \
            (NONE, "Dead", []), described

        # ConsumerGroupHeartbeat on the id.
        answer = groups.call("ConsumerGroupHeartbeat", 1, group_id=group, member_id="c-1",
                             member_epoch=0, rebalance_timeout_ms=30000,
                             subscribed_topic_names=[source], topic_partitions=[])
        assert (answer["error_code"], answer["error_message"]) == \
            (GROUP_ID_NOT_FOUND, f"Group {group} is not a consumer group."), answer

        # ... and the streams APIs on a consumer group's id.
        answer = groups.call("ConsumerGroupHeartbeat", 1, group_id=consumer_group,
                             member_id="c-1", member_epoch=0, rebalance_timeout_ms=30000,
                             subscribed_topic_names=[source], topic_partitions=[])
        assert answer["error_code"] == NONE, answer
        refused(wire.heartbeat(**join(consumer_group, "m-1", topo)), GROUP_ID_NOT_FOUND,
                f"Group {consumer_group} is not a streams group.")
        described = wire.describe_one(consumer_group)
        assert (described["error_code"], described["error_message"]) == \
            (GROUP_ID_NOT_FOUND, f"Group {consumer_group} is not a streams group."), described

        # DeleteGroups: refused while it has members, then deleted.
        (result,) = groups.call("DeleteGroups", 2, groups_names=[group])["results"]
        assert result == {"group_id": group, "error_code": NON_EMPTY_GROUP}, result
        ok(wire.heartbeat(group_id=group, member_id="m-1", member_epoch=-1))
        assert listed(types_filter=["streams"])[group]["group_state"] == "Empty"
        (result,) = groups.call("DeleteGroups", 2, groups_names=[group])["results"]
        assert result == {"group_id": group, "error_code": NONE}, result
        described = wire.describe_one(group)
        assert (described["error_code"], described["error_message"]) == \
            (GROUP_ID_NOT_FOUND, f"Group {group} not found."), described
        assert group not in listed()
    finally:
        wire.close()
        groups.close()


def test_join_group_on_a_streams_group_with_members_is_refused(streams_broker, names):
    """A classic JoinGroup on a streams group with members: Kafka answers
    INCONSISTENT_GROUP_PROTOCOL with the unknown member id ("")."""
    bootstrap = streams_broker.bootstrap
    group, source = names("g"), names("in")
    create_topics(bootstrap, (source, 1))
    host, port = bootstrap.rsplit(":", 1)
    with StreamsWire(host, port) as wire:
        ok(wire.heartbeat(**join(group, "m-1", stateless(source))))
        groups = GroupWire(host, int(port))
        try:
            for member_id in ("", "classic-1"):
                answer = groups.call("JoinGroup", 5, group_id=group, session_timeout_ms=30000,
                                     rebalance_timeout_ms=30000, member_id=member_id,
                                     protocol_type="consumer",
                                     protocols=[{"name": "range", "metadata": b""}])
                assert (answer["error_code"], answer["generation_id"], answer["member_id"]) == \
                    (INCONSISTENT_GROUP_PROTOCOL, -1, ""), answer
        finally:
            groups.close()
        # The streams group is untouched.
        assert wire.describe_one(group)["group_state"] == "Stable"


@pytest.mark.parametrize("stop", ["restart", "kill -9"])
def test_a_restarted_coordinator_knows_the_group(broker_factory, names, stop):
    """Streams groups live in __consumer_offsets (Kafka's records 17, 19-23):
    after the broker restarts (cleanly, or after SIGKILL) the members go on
    at their epochs with their tasks, and a member that left stays gone."""
    broker = broker_factory(**IMMEDIATE)
    group, source = names("g"), names("in")
    create_topics(broker.bootstrap, (source, 3))
    with StreamsWire.to(broker.bootstrap) as wire:
        a = ok(wire.heartbeat(**join(group, "member-a", stateless(source), process="p1")))
        b = ok(wire.heartbeat(**join(group, "member-b", stateless(source), process="p2")))
        # Reconcile until stable: a gives up what b gets.
        for _ in range(6):
            a_tasks = wire.describe_one(group)
            members = by_member(a_tasks)
            owned_a = members["member-a"]["assignment"]["active"]
            a = ok(wire.heartbeat(group_id=group, member_id="member-a",
                                  member_epoch=a["member_epoch"], active_tasks=owned_a,
                                  standby_tasks={}, warmup_tasks={}))
            b = ok(wire.heartbeat(group_id=group, member_id="member-b",
                                  member_epoch=b["member_epoch"]))
        before = wire.describe_one(group)
        assert before["group_state"] == "Stable", before
        owned = {m: by_member(before)[m]["assignment"]["active"]
                 for m in ("member-a", "member-b")}
        assert count(owned["member-a"]) + count(owned["member-b"]) == 3
    if stop == "restart":
        broker.restart()
    else:
        broker.kill()
        broker.start()
    with StreamsWire.to(broker.bootstrap) as wire:
        after = wire.describe_one(group)
        assert after["error_code"] == 0, after
        assert (after["group_epoch"], after["assignment_epoch"]) == \
            (before["group_epoch"], before["assignment_epoch"])
        assert {m: by_member(after)[m]["assignment"]["active"]
                for m in ("member-a", "member-b")} == owned
        assert after["topology"] == before["topology"]
        # The members heartbeat on at their epochs; nothing moves.
        for member in ("member-a", "member-b"):
            epoch = by_member(before)[member]["member_epoch"]
            answer = ok(wire.heartbeat(group_id=group, member_id=member, member_epoch=epoch))
            assert answer["member_epoch"] == epoch, answer
            assert answer["active_tasks"] is None, answer
        # b leaves; after another restart a owns everything and b is unknown.
        ok(wire.heartbeat(group_id=group, member_id="member-b", member_epoch=-1))
    broker.restart()
    with StreamsWire.to(broker.bootstrap) as wire:
        described = wire.describe_one(group)
        assert set(by_member(described)) == {"member-a"}, described
        refused(wire.heartbeat(group_id=group, member_id="member-b", member_epoch=1),
                UNKNOWN_MEMBER_ID, f"Member member-b is not a member of group {group}.")
