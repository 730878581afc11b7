"""Raw KIP-1071 streams-group requests for the compatibility tests:
StreamsGroupHeartbeat (api key 88) and StreamsGroupDescribe (89), v0 and v1,
encoded and decoded by hand from Kafka 4.4's JSON schemas with the
primitives of kafka_wire.py.

Both APIs are flexible from v0 (request header v2, response header v1).
Requests take plain Python values: task lists are {subtopology: [partitions]}
(None is a null list), a topology is `topology(subtopology(...), ...)`.
Responses are dicts with the schema's field names in snake_case; task lists
come back as {subtopology: [partitions]} (None when null), so tests compare
them directly."""

from __future__ import annotations

from kafka_wire import (Reader, TAGS_NONE, compact_string, connect, frame, i8, i16, i32, i64,
                        recv_frame, request_header, uvarint)

STREAMS_GROUP_HEARTBEAT = 88
STREAMS_GROUP_DESCRIBE = 89

# StreamsGroupHeartbeatResponse.Status codes
STALE_TOPOLOGY = 0
MISSING_SOURCE_TOPICS = 1
INCORRECTLY_PARTITIONED_TOPICS = 2
MISSING_INTERNAL_TOPICS = 3
SHUTDOWN_APPLICATION = 4
ASSIGNMENT_DELAYED = 5
MISSING_CLIENT_TAGS = 6

# StreamsGroupDescribeResponse.TopologyDescriptionStatus (v1)
DESCRIPTION_NOT_REQUESTED = 0
DESCRIPTION_NOT_STORED = 1


# --------------------------------------------------------------------------
# Topologies
# --------------------------------------------------------------------------

def topic_info(name: str, partitions: int = 0, replication_factor: int = 0,
               configs: dict[str, str] | None = None) -> dict:
    """A TopicInfo: a changelog or repartition topic the topology needs."""
    return {"name": name, "partitions": partitions, "replication_factor": replication_factor,
            "configs": dict(configs or {})}


def subtopology(subtopology_id: str, source_topics=(), repartition_sink_topics=(),
                repartition_source_topics=(), state_changelog_topics=(),
                source_topic_regex=(), copartition_groups=()) -> dict:
    """A Subtopology. copartition_groups: [(source topic indexes,
    repartition source topic indexes)]."""
    return {"id": subtopology_id, "source_topics": list(source_topics),
            "source_topic_regex": list(source_topic_regex),
            "state_changelog_topics": list(state_changelog_topics),
            "repartition_sink_topics": list(repartition_sink_topics),
            "repartition_source_topics": list(repartition_source_topics),
            "copartition_groups": [(list(s), list(r)) for s, r in copartition_groups]}


def topology(*subtopologies: dict, epoch: int = 0) -> dict:
    return {"epoch": epoch, "subtopologies": list(subtopologies)}


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------

def u16(v: int) -> bytes:
    return v.to_bytes(2, "big")


def _array(items, encode) -> bytes:
    items = list(items)
    return uvarint(len(items) + 1) + b"".join(encode(item) for item in items)


def _nullable_array(items, encode) -> bytes:
    return uvarint(0) if items is None else _array(items, encode)


def _strings(items) -> bytes:
    return _array(items, compact_string)


def _key_values(pairs: dict[str, str]) -> bytes:
    return _array(pairs.items(),
                  lambda kv: compact_string(kv[0]) + compact_string(kv[1]) + TAGS_NONE)


def _topic_info(t: dict) -> bytes:
    return (compact_string(t["name"]) + i32(t["partitions"]) + i16(t["replication_factor"])
            + _key_values(t["configs"]) + TAGS_NONE)


def _subtopology(s: dict) -> bytes:
    return (compact_string(s["id"]) + _strings(s["source_topics"])
            + _strings(s["source_topic_regex"])
            + _array(s["state_changelog_topics"], _topic_info)
            + _strings(s["repartition_sink_topics"])
            + _array(s["repartition_source_topics"], _topic_info)
            + _array(s["copartition_groups"],
                     lambda g: (_array(g[0], i16) + _array([], i16) + _array(g[1], i16)
                                + TAGS_NONE))
            + TAGS_NONE)


def _topology(t: dict | None) -> bytes:
    if t is None:
        return i8(-1)
    return i8(1) + i32(t["epoch"]) + _array(t["subtopologies"], _subtopology) + TAGS_NONE


def _task_ids(tasks: dict[str, list[int]] | None) -> bytes:
    if tasks is None:
        return uvarint(0)
    return _array(sorted(tasks.items()),
                  lambda e: compact_string(e[0]) + _array(sorted(e[1]), i32) + TAGS_NONE)


def _task_offsets(offsets) -> bytes:
    """offsets: [(subtopology, partition, offset)] or None."""
    return _nullable_array(offsets, lambda o: compact_string(o[0]) + i32(o[1]) + i64(o[2])
                           + TAGS_NONE)


def heartbeat_request(version: int, correlation_id: int, client_id: str, *, group_id: str,
                      member_id: str, member_epoch: int, endpoint_information_epoch: int = -1,
                      instance_id: str | None = None, rack_id: str | None = None,
                      rebalance_timeout_ms: int = -1, topology: dict | None = None,
                      active_tasks=None, standby_tasks=None, warmup_tasks=None,
                      process_id: str | None = None,
                      user_endpoint: tuple[str, int] | None = None,
                      client_tags: dict[str, str] | None = None, task_offsets=None,
                      task_end_offsets=None, shutdown_application: bool = False) -> bytes:
    """A framed StreamsGroupHeartbeat request (v0 and v1 carry the same fields)."""
    assert version in (0, 1), version
    body = (compact_string(group_id) + compact_string(member_id) + i32(member_epoch)
            + i32(endpoint_information_epoch) + compact_string(instance_id)
            + compact_string(rack_id) + i32(rebalance_timeout_ms) + _topology(topology)
            + _task_ids(active_tasks) + _task_ids(standby_tasks) + _task_ids(warmup_tasks)
            + compact_string(process_id)
            + (i8(-1) if user_endpoint is None else
               i8(1) + compact_string(user_endpoint[0]) + u16(user_endpoint[1]) + TAGS_NONE)
            + (uvarint(0) if client_tags is None else _key_values(client_tags))
            + _task_offsets(task_offsets) + _task_offsets(task_end_offsets)
            + i8(1 if shutdown_application else 0) + TAGS_NONE)
    return frame(request_header(STREAMS_GROUP_HEARTBEAT, version, correlation_id,
                                client_id=client_id, flexible=True) + body)


def describe_request(version: int, correlation_id: int, client_id: str, group_ids: list[str],
                     include_authorized_operations: bool = False,
                     include_topology_description: bool = False) -> bytes:
    assert version in (0, 1), version
    body = _strings(group_ids) + i8(1 if include_authorized_operations else 0)
    if version >= 1:
        body += i8(1 if include_topology_description else 0)
    body += TAGS_NONE
    return frame(request_header(STREAMS_GROUP_DESCRIBE, version, correlation_id,
                                client_id=client_id, flexible=True) + body)


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------

def _read_array(r: Reader, read):
    n = r.uvarint() - 1
    if n < 0:
        return None
    return [read(r) for _ in range(n)]


def _read_struct(r: Reader, read):
    value = read(r)
    r.skip_tags()
    return value


def _read_strings(r: Reader):
    return _read_array(r, lambda r: r.compact_string())


def _read_int32s(r: Reader):
    return _read_array(r, lambda r: r.i32())


def _read_u16(r: Reader) -> int:
    return int.from_bytes(r.take(2), "big")


def _read_endpoint(r: Reader) -> tuple[str, int]:
    return _read_struct(r, lambda r: (r.compact_string(), _read_u16(r)))


def _read_task_ids(r: Reader):
    """A nullable []TaskIds as {subtopology: [partitions]} (None if null)."""
    entries = _read_array(r, lambda r: _read_struct(r, lambda r: (r.compact_string(),
                                                                 _read_int32s(r))))
    if entries is None:
        return None
    out: dict[str, list[int]] = {}
    for subtopology_id, partitions in entries:
        assert subtopology_id not in out, f"subtopology {subtopology_id} listed twice"
        out[subtopology_id] = partitions
    return out


def _read_key_values(r: Reader):
    pairs = _read_array(r, lambda r: _read_struct(r, lambda r: (r.compact_string(),
                                                                r.compact_string())))
    return None if pairs is None else dict(pairs)


def _read_topic_partitions(r: Reader):
    return _read_array(r, lambda r: _read_struct(r, lambda r: (r.compact_string(),
                                                               _read_int32s(r))))


def parse_heartbeat_response(version: int, body: bytes) -> tuple[int, dict]:
    r = Reader(body)
    corr = r.i32()
    r.skip_tags()
    out = {"throttle_time_ms": r.i32(), "error_code": r.i16(),
           "error_message": r.compact_string(), "member_id": r.compact_string(),
           "member_epoch": r.i32(), "heartbeat_interval_ms": r.i32()}
    if version == 0:
        out["acceptable_recovery_lag_legacy"] = r.i32()
    out["task_offset_interval_ms"] = r.i32()
    if version >= 1:
        out["acceptable_recovery_lag"] = r.i64()
    out["status"] = _read_array(r, lambda r: _read_struct(r, lambda r: (r.i8(),
                                                                        r.compact_string())))
    out["active_tasks"] = _read_task_ids(r)
    out["standby_tasks"] = _read_task_ids(r)
    out["warmup_tasks"] = _read_task_ids(r)
    if version >= 1:
        out["topology_description_required"] = bool(r.i8())
    out["endpoint_information_epoch"] = r.i32()
    out["partitions_by_user_endpoint"] = _read_array(r, lambda r: _read_struct(r, lambda r: {
        "user_endpoint": _read_endpoint(r),
        "active_partitions": _read_topic_partitions(r),
        "standby_partitions": _read_topic_partitions(r)}))
    r.skip_tags()
    assert r.remaining == 0, f"StreamsGroupHeartbeat v{version}: {r.remaining} trailing bytes"
    return corr, out


def _read_described_topic_info(r: Reader) -> dict:
    return _read_struct(r, lambda r: {"name": r.compact_string(), "partitions": r.i32(),
                                      "replication_factor": r.i16(),
                                      "configs": _read_key_values(r)})


def _read_described_topology(r: Reader):
    if r.i8() < 0:
        return None
    return _read_struct(r, lambda r: {
        "epoch": r.i32(),
        "subtopologies": _read_array(r, lambda r: _read_struct(r, lambda r: {
            "id": r.compact_string(),
            "source_topics": _read_strings(r),
            "repartition_sink_topics": _read_strings(r),
            "state_changelog_topics": _read_array(r, _read_described_topic_info),
            "repartition_source_topics": _read_array(r, _read_described_topic_info)}))})


def _read_assignment(r: Reader) -> dict:
    return _read_struct(r, lambda r: {"active": _read_task_ids(r), "standby": _read_task_ids(r),
                                      "warmup": _read_task_ids(r)})


def _read_task_offset_list(r: Reader):
    return _read_array(r, lambda r: _read_struct(r, lambda r: (r.compact_string(), r.i32(),
                                                               r.i64())))


def _read_member(r: Reader) -> dict:
    def member(r):
        m = {"member_id": r.compact_string(), "member_epoch": r.i32(),
             "instance_id": r.compact_string(), "rack_id": r.compact_string(),
             "client_id": r.compact_string(), "client_host": r.compact_string(),
             "topology_epoch": r.i32(), "process_id": r.compact_string()}
        m["user_endpoint"] = _read_endpoint(r) if r.i8() >= 0 else None
        m["client_tags"] = _read_key_values(r)
        m["task_offsets"] = _read_task_offset_list(r)
        m["task_end_offsets"] = _read_task_offset_list(r)
        m["assignment"] = _read_assignment(r)
        m["target_assignment"] = _read_assignment(r)
        m["is_classic"] = bool(r.i8())
        return m
    return _read_struct(r, member)


def _read_node(r: Reader) -> dict:
    return _read_struct(r, lambda r: {"name": r.compact_string(), "node_type": r.i8(),
                                      "source_topics": _read_strings(r),
                                      "sink_topic": r.compact_string(),
                                      "stores": _read_strings(r),
                                      "successors": _read_strings(r)})


def _read_topology_description(r: Reader):
    if r.i8() < 0:
        return None
    return _read_struct(r, lambda r: {
        "subtopologies": _read_array(r, lambda r: _read_struct(r, lambda r: {
            "id": r.compact_string(), "nodes": _read_array(r, _read_node)})),
        "global_stores": _read_array(r, lambda r: _read_struct(r, lambda r: {
            "source": _read_node(r), "processor": _read_node(r)}))})


def parse_describe_response(version: int, body: bytes) -> tuple[int, dict]:
    r = Reader(body)
    corr = r.i32()
    r.skip_tags()
    throttle = r.i32()

    def group(r):
        g = {"error_code": r.i16(), "error_message": r.compact_string(),
             "group_id": r.compact_string(), "group_state": r.compact_string(),
             "group_epoch": r.i32(), "assignment_epoch": r.i32(),
             "topology": _read_described_topology(r),
             "members": _read_array(r, _read_member),
             "authorized_operations": r.i32()}
        if version >= 1:
            g["topology_description"] = _read_topology_description(r)
            g["topology_description_status"] = r.i8()
            g["assignor_name"] = r.compact_string()
        return g

    groups = _read_array(r, lambda r: _read_struct(r, group))
    r.skip_tags()
    assert r.remaining == 0, f"StreamsGroupDescribe v{version}: {r.remaining} trailing bytes"
    return corr, {"throttle_time_ms": throttle, "groups": groups}


# --------------------------------------------------------------------------
# A connection
# --------------------------------------------------------------------------

class StreamsWire:
    """One connection to a broker (the group coordinator: single-broker
    tests) speaking StreamsGroupHeartbeat and StreamsGroupDescribe."""

    def __init__(self, host: str, port: int, client_id: str = "gregor-compat-streams"):
        self.sock = connect(host, int(port))
        self.client_id = client_id
        self.corr = 0

    @classmethod
    def to(cls, bootstrap: str, **kw) -> "StreamsWire":
        host, port = bootstrap.rsplit(":", 1)
        return cls(host, int(port), **kw)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _roundtrip(self, request: bytes, parse):
        self.sock.sendall(request)
        corr, out = parse(recv_frame(self.sock))
        assert corr == self.corr, f"correlation id {corr} != {self.corr}"
        return out

    def heartbeat(self, version: int = 1, **fields) -> dict:
        self.corr += 1
        return self._roundtrip(heartbeat_request(version, self.corr, self.client_id, **fields),
                               lambda body: parse_heartbeat_response(version, body))

    def describe(self, group_ids: list[str], version: int = 1, **flags) -> list[dict]:
        self.corr += 1
        out = self._roundtrip(describe_request(version, self.corr, self.client_id, group_ids,
                                               **flags),
                              lambda body: parse_describe_response(version, body))
        return out["groups"]

    def describe_one(self, group_id: str, version: int = 1, **flags) -> dict:
        (group,) = self.describe([group_id], version, **flags)
        assert group["group_id"] == group_id, group
        return group
