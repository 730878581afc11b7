"""Every version the broker advertises in ApiVersions must be served.

Clients pick the highest version both sides support (and clients pinned to an
old protocol, e.g. kafka-python with api_version=(0, 10, 1), use old ones), so
an advertised version that the broker then refuses breaks those clients
(the one deliberate exception, as in Kafka 4: Produce v0-v2). For
each advertised (api, version) this sends a minimal valid request (empty
topic lists) and expects a response with the right correlation id on a
connection that stays usable.
"""

from __future__ import annotations

import socket

import pytest

import kafka_wire as w

# first flexible version of each API
FLEXIBLE_FROM = {0: 9, 1: 12, 2: 6, 3: 9, 18: 3, 19: 5, 20: 4}
# highest version minimal_body() encodes correctly
ENCODABLE_UP_TO = {0: 13, 1: 18, 2: 11, 3: 13, 18: 5, 19: 7, 20: 6}
API_NAMES = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 18: "ApiVersions",
             19: "CreateTopics", 20: "DeleteTopics"}


def empty_array(flexible: bool) -> bytes:
    return w.uvarint(1) if flexible else w.i32(0)


def minimal_body(api: int, v: int) -> bytes:
    flex = v >= FLEXIBLE_FROM[api]
    tags = w.TAGS_NONE if flex else b""
    nstr = w.compact_string if flex else w.string
    if api == 0:  # Produce
        b = b""
        if v >= 3:
            b += nstr(None)                      # transactional_id
        return b + w.i16(1) + w.i32(1000) + empty_array(flex) + tags
    if api == 1:  # Fetch
        b = w.i32(-1) if v <= 14 else b""        # replica_id (v15+: a tagged replica state)
        b += w.i32(0) + w.i32(0)                 # max_wait_ms, min_bytes
        if v >= 3:
            b += w.i32(1024 * 1024)              # max_bytes
        if v >= 4:
            b += w.i8(0)                         # isolation_level
        if v >= 7:
            b += w.i32(0) + w.i32(-1)            # session_id, session_epoch (sessionless)
        b += empty_array(flex)                   # topics
        if v >= 7:
            b += empty_array(flex)               # forgotten_topics_data
        if v >= 11:
            b += nstr("")                        # rack_id
        return b + tags
    if api == 2:  # ListOffsets
        b = w.i32(-1)
        if v >= 2:
            b += w.i8(0)
        b += empty_array(flex)
        if v >= 10:
            b += w.i32(1000)                     # timeout_ms
        return b + tags
    if api == 3:  # Metadata
        b = empty_array(flex)                    # v0: all topics; v1+: none
        if v >= 4:
            b += w.i8(0)                         # allow_auto_topic_creation
        if 8 <= v <= 10:
            b += w.i8(0)                         # include_cluster_authorized_operations
        if v >= 8:
            b += w.i8(0)                         # include_topic_authorized_operations
        return b + tags
    if api == 18:  # ApiVersions
        if v >= 5:                               # no cluster or node named (KIP-1242)
            return (w.compact_string("gregor-compat") + w.compact_string("1.0")
                    + w.compact_string(None) + w.i32(-1) + tags)
        if v >= 3:
            return w.compact_string("gregor-compat") + w.compact_string("1.0") + tags
        return b""
    if api == 19:  # CreateTopics
        b = empty_array(flex) + w.i32(5000)
        if v >= 1:
            b += w.i8(0)                         # validate_only
        return b + tags
    if api == 20:  # DeleteTopics
        return empty_array(flex) + w.i32(5000) + tags
    raise AssertionError(api)


def advertised(broker) -> dict[int, tuple[int, int]]:
    with w.connect(broker.host, broker.port) as s:
        res = w.api_versions_v0(s, correlation_id=1)
    assert res.error_code == 0
    return res.api_keys


@pytest.mark.parametrize("api", sorted(API_NAMES), ids=lambda a: API_NAMES[a])
def test_every_advertised_version_is_served(broker, api):
    keys = advertised(broker)
    assert api in keys, f"{API_NAMES[api]} ({api}) not advertised: {keys}"
    lo, hi = keys[api]
    failures = []
    for v in range(lo, hi + 1):
        if api == 0 and v <= 2:
            # Kafka 4 advertises Produce v0-v2 but refuses them (KAFKA-18659:
            # librdkafka disables compression unless Produce v0 is advertised)
            continue
        if v > ENCODABLE_UP_TO[api]:
            failures.append(f"v{v}: advertised, but this test only knows versions up to "
                            f"{ENCODABLE_UP_TO[api]} (extend minimal_body)")
            continue
        flex = v >= FLEXIBLE_FROM[api]
        corr = 1000 + v
        req = w.frame(w.request_header(api, v, corr, flexible=flex) + minimal_body(api, v))
        with w.connect(broker.host, broker.port, timeout=5) as s:
            try:
                s.sendall(req)
                body = w.recv_frame(s)
            except (ConnectionError, socket.timeout, OSError) as e:
                failures.append(f"v{v}: no response ({e.__class__.__name__}: {e})")
                continue
            got = int.from_bytes(body[:4], "big", signed=True)
            if got != corr:
                failures.append(f"v{v}: correlation id {got} != {corr}")
                continue
            # the connection is still usable afterwards
            try:
                again = w.api_versions_v0(s, correlation_id=5)
                if again.correlation_id != 5 or again.error_code != 0:
                    failures.append(f"v{v}: follow-up ApiVersions answered {again}")
            except (ConnectionError, socket.timeout, OSError) as e:
                failures.append(f"v{v}: connection unusable after the response ({e})")
    assert not failures, (f"{API_NAMES[api]}: advertised {lo}..{hi}, but:\n  "
                          + "\n  ".join(failures))
    assert broker.running


REBOOTSTRAP_REQUIRED = 129


def api_versions_v5(broker, cluster_id: str | None, node_id: int) -> tuple[int, int]:
    """ApiVersions v5 naming the cluster and node meant (KIP-1242): (error
    code, number of APIs listed)."""
    body = (w.compact_string("gregor-compat") + w.compact_string("1.0")
            + w.compact_string(cluster_id) + w.i32(node_id) + w.TAGS_NONE)
    with w.connect(broker.host, broker.port, timeout=5) as s:
        s.sendall(w.frame(w.request_header(18, 5, 7, flexible=True) + body))
        r = w.Reader(w.recv_frame(s))
        assert r.i32() == 7
        error = r.i16()
        return error, r.uvarint() - 1


def test_api_versions_v5_checks_the_cluster_and_node_the_client_means(broker):
    """KIP-1242: a client that names another cluster or another node is
    told to rebootstrap (REBOOTSTRAP_REQUIRED, no APIs listed); naming this
    one, or nothing, gets the usual answer. Kafka 4.4's Java client sends
    v5 on every connection (test_java_client.py runs it)."""
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    cluster_id = admin.describe_cluster().result(timeout=10).cluster_id
    node_id = int(broker.overrides.get("node.id", 1))
    error, listed = api_versions_v5(broker, cluster_id, node_id)
    assert error == 0 and listed > 40
    assert api_versions_v5(broker, None, -1)[0] == 0
    assert api_versions_v5(broker, cluster_id, -1)[0] == 0
    assert api_versions_v5(broker, "AAAAAAAAAAAAAAAAAAAAAA", node_id) == (REBOOTSTRAP_REQUIRED, 0)
    assert api_versions_v5(broker, cluster_id, node_id + 7) == (REBOOTSTRAP_REQUIRED, 0)

