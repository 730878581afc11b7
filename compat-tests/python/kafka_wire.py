"""Minimal hand-written Kafka wire-protocol helpers for the raw-socket tests.

What the raw-socket tests need: request framing (header v1 / v2), an
ApiVersions v0 exchange, Produce v3..v12 encode/decode, a RecordBatch v2
(magic 2) builder with CRC-32C, and a few more requests (Metadata v4,
InitProducerId, ListOffsets v1, Fetch v4, CreateTopics v4, CreatePartitions
v1).
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

try:  # the crc32c package is in requirements.txt; keep a fallback anyway
    from crc32c import crc32c as _crc32c_impl
except ImportError:  # pragma: no cover
    _crc32c_impl = None

# --------------------------------------------------------------------------
# CRC-32C (Castagnoli), table driven
# --------------------------------------------------------------------------
_CRC32C_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC32C_TABLE.append(_c)


def crc32c_py(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c(data: bytes) -> int:
    if _crc32c_impl is not None:
        return _crc32c_impl(data)
    return crc32c_py(data)


# --------------------------------------------------------------------------
# Primitive encoders
# --------------------------------------------------------------------------

def uvarint(n: int) -> bytes:
    assert n >= 0
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(n: int) -> bytes:
    """Zigzag varint (as used inside records); also valid for varlong."""
    return uvarint((n << 1) ^ (n >> 63))


def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def u32(v): return struct.pack(">I", v)
def i64(v): return struct.pack(">q", v)


def string(s: str | None) -> bytes:
    if s is None:
        return i16(-1)
    b = s.encode()
    return i16(len(b)) + b


def compact_string(s: str | None) -> bytes:
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def nbytes(b: bytes | None) -> bytes:
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def compact_bytes(b: bytes | None) -> bytes:
    if b is None:
        return uvarint(0)
    return uvarint(len(b) + 1) + b


TAGS_NONE = uvarint(0)


# --------------------------------------------------------------------------
# Decoder
# --------------------------------------------------------------------------

class Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"short read: need {n} at {self.pos}, have {len(self.data)}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def uvarint(self) -> int:
        shift = 0
        result = 0
        while True:
            b = self.take(1)[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def varint(self) -> int:
        n = self.uvarint()
        return (n >> 1) ^ -(n & 1)

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def compact_string(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode()

    def array_len(self, flexible: bool) -> int:
        if flexible:
            return self.uvarint() - 1
        return self.i32()

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            self.take(self.uvarint())

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos


# --------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------

def request_header(api_key: int, api_version: int, correlation_id: int,
                   client_id: str | None = "gregor-compat", flexible: bool = False) -> bytes:
    h = i16(api_key) + i16(api_version) + i32(correlation_id) + string(client_id)
    if flexible:
        h += TAGS_NONE
    return h


def frame(payload: bytes) -> bytes:
    return i32(len(payload)) + payload


def connect(host: str, port: int, timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def recv_frame(sock: socket.socket) -> bytes:
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    if size < 0 or size > 64 * 1024 * 1024:
        raise ValueError(f"implausible response size {size}")
    return recv_exact(sock, size)


def wait_closed(sock: socket.socket, timeout: float) -> tuple[bool, bytes]:
    """Wait until the peer closes the connection. Returns (closed, bytes_received)."""
    deadline = time.monotonic() + timeout
    got = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, bytes(got)
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False, bytes(got)
        except (ConnectionResetError, BrokenPipeError):
            return True, bytes(got)
        if not chunk:
            return True, bytes(got)
        got += chunk


# --------------------------------------------------------------------------
# ApiVersions
# --------------------------------------------------------------------------

@dataclass
class ApiVersionsResult:
    correlation_id: int
    error_code: int
    api_keys: dict[int, tuple[int, int]]
    trailing: int


def parse_api_versions_v0(frame_body: bytes) -> ApiVersionsResult:
    """Response header v0 (correlation id only) + ApiVersionsResponse v0 body."""
    r = Reader(frame_body)
    corr = r.i32()
    err = r.i16()
    n = r.i32()
    keys = {}
    for _ in range(max(n, 0)):
        k, lo, hi = r.i16(), r.i16(), r.i16()
        keys[k] = (lo, hi)
    return ApiVersionsResult(corr, err, keys, r.remaining)


def api_versions_v0(sock: socket.socket, correlation_id: int = 1) -> ApiVersionsResult:
    sock.sendall(frame(request_header(18, 0, correlation_id)))
    res = parse_api_versions_v0(recv_frame(sock))
    return res


# --------------------------------------------------------------------------
# RecordBatch v2
# --------------------------------------------------------------------------

@dataclass
class Rec:
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)


def encode_record(offset_delta: int, ts_delta: int, rec: Rec) -> bytes:
    body = bytearray()
    body += i8(0)                       # attributes
    body += varint(ts_delta)
    body += varint(offset_delta)
    if rec.key is None:
        body += varint(-1)
    else:
        body += varint(len(rec.key)) + rec.key
    if rec.value is None:
        body += varint(-1)
    else:
        body += varint(len(rec.value)) + rec.value
    body += varint(len(rec.headers))
    for hk, hv in rec.headers:
        kb = hk.encode()
        body += varint(len(kb)) + kb
        if hv is None:
            body += varint(-1)
        else:
            body += varint(len(hv)) + hv
    return varint(len(body)) + bytes(body)


def record_batch(records: list[Rec], base_offset: int = 0, attributes: int = 0,
                 producer_id: int = -1, producer_epoch: int = -1,
                 base_sequence: int = -1, partition_leader_epoch: int = -1) -> bytes:
    """An uncompressed RecordBatch (magic 2) with a correct CRC-32C."""
    assert records
    base_ts = records[0].timestamp
    max_ts = max(r.timestamp for r in records)
    recs = b"".join(encode_record(i, r.timestamp - base_ts, r) for i, r in enumerate(records))
    after_crc = (
        i16(attributes)
        + i32(len(records) - 1)          # lastOffsetDelta
        + i64(base_ts)
        + i64(max_ts)
        + i64(producer_id)
        + i16(producer_epoch)
        + i32(base_sequence)
        + i32(len(records))
        + recs
    )
    crc = crc32c(after_crc)
    after_length = i32(partition_leader_epoch) + i8(2) + u32(crc) + after_crc
    return i64(base_offset) + i32(len(after_length)) + after_length


# byte offset of the CRC field inside a batch: baseOffset(8)+batchLength(4)+leaderEpoch(4)+magic(1)
BATCH_CRC_OFFSET = 17


def corrupt_crc(batch: bytes) -> bytes:
    b = bytearray(batch)
    b[BATCH_CRC_OFFSET] ^= 0xFF
    return bytes(b)


# --------------------------------------------------------------------------
# Produce
# --------------------------------------------------------------------------

def produce_request(version: int, correlation_id: int, topic: str, partition: int,
                    records: bytes | None, acks: int = -1, timeout_ms: int = 10000,
                    transactional_id: str | None = None) -> bytes:
    """A framed Produce request (v3..v12, one topic, one partition)."""
    assert 3 <= version <= 12, version
    flexible = version >= 9
    hdr = request_header(0, version, correlation_id, flexible=flexible)
    if flexible:
        body = (compact_string(transactional_id) + i16(acks) + i32(timeout_ms)
                + uvarint(1 + 1) + compact_string(topic)
                + uvarint(1 + 1) + i32(partition) + compact_bytes(records) + TAGS_NONE
                + TAGS_NONE
                + TAGS_NONE)
    else:
        body = (string(transactional_id) + i16(acks) + i32(timeout_ms)
                + i32(1) + string(topic)
                + i32(1) + i32(partition) + nbytes(records))
    return frame(hdr + body)


@dataclass
class ProducePartitionResult:
    partition: int
    error_code: int
    base_offset: int
    log_append_time: int
    log_start_offset: int | None
    error_message: str | None = None
    # KIP-467: (batch_index, message) of each refused record (v8+).
    record_errors: list = field(default_factory=list)


def parse_produce_response(version: int, frame_body: bytes) -> tuple[int, dict]:
    """Returns (correlation_id, {(topic, partition): ProducePartitionResult})."""
    flexible = version >= 9
    r = Reader(frame_body)
    corr = r.i32()
    if flexible:
        r.skip_tags()
    out = {}
    for _ in range(r.array_len(flexible)):
        name = r.compact_string() if flexible else r.string()
        for _ in range(r.array_len(flexible)):
            idx = r.i32()
            err = r.i16()
            base = r.i64()
            lat = r.i64() if version >= 2 else -1
            lso = r.i64() if version >= 5 else None
            msg = None
            record_errors = []
            if version >= 8:
                for _ in range(r.array_len(flexible)):
                    index = r.i32()
                    why = r.compact_string() if flexible else r.string()
                    record_errors.append((index, why))
                    if flexible:
                        r.skip_tags()
                msg = r.compact_string() if flexible else r.string()
            if flexible:
                r.skip_tags()
            out[(name, idx)] = ProducePartitionResult(idx, err, base, lat, lso, msg,
                                                      record_errors)
        if flexible:
            r.skip_tags()
    r.i32()  # throttle_time_ms
    if flexible:
        r.skip_tags()
    return corr, out


def pick_produce_version(api_keys: dict[int, tuple[int, int]]) -> int:
    lo, hi = api_keys[0]
    for v in (7, 8, 9, 10, 11, 12, 6, 5, 4, 3):
        if lo <= v <= hi:
            return v
    raise AssertionError(f"broker advertises no Produce version in 3..12: {lo}..{hi}")


# --------------------------------------------------------------------------
# Metadata v4 (non-flexible)
# --------------------------------------------------------------------------

def metadata_v4_request(correlation_id: int, topics: list[str] | None,
                        allow_auto_create: bool) -> bytes:
    body = (w_array([string(t) for t in topics]) if topics is not None else i32(-1))
    body += i8(1 if allow_auto_create else 0)
    return frame(request_header(3, 4, correlation_id) + body)


def w_array(items: list[bytes]) -> bytes:
    return i32(len(items)) + b"".join(items)


def parse_metadata_v4(frame_body: bytes) -> tuple[int, dict]:
    """Returns (correlation_id, {topic: (error_code, partition_count)})."""
    corr, topics = parse_metadata_v4_partitions(frame_body)
    return corr, {name: (err, n) for name, (err, n, _) in topics.items()}


def parse_metadata_v4_partitions(frame_body: bytes) -> tuple[int, dict]:
    """Returns (correlation_id, {topic: (error_code, partition_count,
    {partition: (error_code, leader, replicas, isr)})})."""
    r = Reader(frame_body)
    corr = r.i32()
    r.i32()                                  # throttle_time_ms
    for _ in range(r.i32()):                 # brokers
        r.i32(); r.string(); r.i32(); r.string()
    r.string()                               # cluster_id
    r.i32()                                  # controller_id
    topics = {}
    for _ in range(r.i32()):
        err = r.i16()
        name = r.string()
        r.i8()                               # is_internal
        n = r.i32()
        partitions = {}
        for _ in range(max(n, 0)):
            p_err, index, leader = r.i16(), r.i32(), r.i32()
            replicas = [r.i32() for _ in range(r.i32())]
            isr = [r.i32() for _ in range(r.i32())]
            partitions[index] = (p_err, leader, replicas, isr)
        topics[name] = (err, n, partitions)
    return corr, topics


# --------------------------------------------------------------------------
# InitProducerId (api key 22), v0..v4
# --------------------------------------------------------------------------

def init_producer_id_request(version: int, correlation_id: int,
                             transactional_id: str | None = None,
                             transaction_timeout_ms: int = 60000,
                             producer_id: int = -1, producer_epoch: int = -1) -> bytes:
    """A framed InitProducerId request (v0..v4; v2+ flexible, v3+ carry the
    current producer id/epoch)."""
    assert 0 <= version <= 4, version
    flexible = version >= 2
    hdr = request_header(22, version, correlation_id, flexible=flexible)
    body = (compact_string(transactional_id) if flexible else string(transactional_id))
    body += i32(transaction_timeout_ms)
    if version >= 3:
        body += i64(producer_id) + i16(producer_epoch)
    if flexible:
        body += TAGS_NONE
    return frame(hdr + body)


@dataclass
class InitProducerIdResult:
    correlation_id: int
    throttle_time_ms: int
    error_code: int
    producer_id: int
    producer_epoch: int


def parse_init_producer_id_response(version: int, frame_body: bytes) -> InitProducerIdResult:
    flexible = version >= 2
    r = Reader(frame_body)
    corr = r.i32()
    if flexible:
        r.skip_tags()
    throttle = r.i32()
    err = r.i16()
    pid = r.i64()
    epoch = r.i16()
    if flexible:
        r.skip_tags()
    return InitProducerIdResult(corr, throttle, err, pid, epoch)


# --------------------------------------------------------------------------
# ListOffsets v1 (non-flexible, no isolation level)
# --------------------------------------------------------------------------

LATEST_TIMESTAMP = -1
EARLIEST_TIMESTAMP = -2


def list_offsets_v1_request(correlation_id: int, topic: str,
                            partitions: list[tuple[int, int]]) -> bytes:
    """partitions: [(partition, timestamp)] (timestamp -1 latest, -2 earliest)."""
    body = i32(-1)                                  # replica_id
    body += i32(1) + string(topic)
    body += w_array([i32(p) + i64(ts) for p, ts in partitions])
    return frame(request_header(2, 1, correlation_id) + body)


def parse_list_offsets_v1(frame_body: bytes) -> tuple[int, dict]:
    """Returns (correlation_id, {(topic, partition): (error_code, timestamp, offset)})."""
    r = Reader(frame_body)
    corr = r.i32()
    out = {}
    for _ in range(r.i32()):
        name = r.string()
        for _ in range(r.i32()):
            p = r.i32()
            err = r.i16()
            ts = r.i64()
            off = r.i64()
            out[(name, p)] = (err, ts, off)
    return corr, out


# --------------------------------------------------------------------------
# Fetch v4 (non-flexible, with isolation level)
# --------------------------------------------------------------------------

def fetch_v4_request(correlation_id: int, partitions: list[tuple[str, int, int, int]],
                     max_bytes: int, min_bytes: int = 1, max_wait_ms: int = 0,
                     replica_id: int = -1, isolation_level: int = 0) -> bytes:
    """partitions: [(topic, partition, fetch_offset, partition_max_bytes)],
    grouped by topic in the order given."""
    topics: dict[str, list[bytes]] = {}
    for topic, partition, offset, partition_max in partitions:
        topics.setdefault(topic, []).append(i32(partition) + i64(offset) + i32(partition_max))
    body = (i32(replica_id) + i32(max_wait_ms) + i32(min_bytes) + i32(max_bytes)
            + i8(isolation_level)
            + w_array([string(t) + w_array(ps) for t, ps in topics.items()]))
    return frame(request_header(1, 4, correlation_id) + body)


@dataclass
class FetchPartitionResult:
    error_code: int
    high_watermark: int
    records: bytes


def parse_fetch_v4(frame_body: bytes) -> tuple[int, dict]:
    """Returns (correlation_id, {(topic, partition): FetchPartitionResult})."""
    r = Reader(frame_body)
    corr = r.i32()
    r.i32()                                  # throttle_time_ms
    out = {}
    for _ in range(r.i32()):
        name = r.string()
        for _ in range(r.i32()):
            index, err, hw = r.i32(), r.i16(), r.i64()
            r.i64()                          # last_stable_offset
            for _ in range(max(r.i32(), 0)):     # aborted transactions (nullable)
                r.i64(); r.i64()
            n = r.i32()
            records = r.take(n) if n > 0 else b""
            out[(name, index)] = FetchPartitionResult(err, hw, records)
    return corr, out


def batch_offsets(records: bytes) -> list[tuple[int, int]]:
    """(base offset, last offset) of every whole batch in a records blob;
    raises if the blob ends in a partial batch."""
    out = []
    pos = 0
    while pos < len(records):
        base, length = struct.unpack_from(">qi", records, pos)
        if pos + 12 + length > len(records):
            raise AssertionError(f"partial batch at byte {pos} of {len(records)}")
        last_delta = struct.unpack_from(">i", records, pos + 23)[0]
        out.append((base, base + last_delta))
        pos += 12 + length
    return out


# --------------------------------------------------------------------------
# CreateTopics v4 and CreatePartitions v1 (non-flexible)
# --------------------------------------------------------------------------

def create_topics_v4_request(correlation_id: int, topics: list[tuple[str, int, int]],
                             validate_only: bool = False, timeout_ms: int = 10000) -> bytes:
    """topics: [(name, num_partitions, replication_factor)], no assignments or configs."""
    body = w_array([string(name) + i32(n) + i16(rf) + i32(0) + i32(0)
                    for name, n, rf in topics])
    body += i32(timeout_ms) + i8(1 if validate_only else 0)
    return frame(request_header(19, 4, correlation_id) + body)


def parse_topic_errors(frame_body: bytes) -> tuple[int, dict]:
    """CreateTopics v2-v4 and CreatePartitions v0-v1 answer alike: returns
    (correlation_id, {topic: (error_code, error_message)})."""
    r = Reader(frame_body)
    corr = r.i32()
    r.i32()                                  # throttle_time_ms
    return corr, {r.string(): (r.i16(), r.string()) for _ in range(r.i32())}


def create_partitions_v1_request(correlation_id: int, topics: list[tuple[str, int]],
                                 validate_only: bool = False, timeout_ms: int = 10000) -> bytes:
    """topics: [(name, new total count)], no assignments."""
    body = w_array([string(name) + i32(count) + i32(-1) for name, count in topics])
    body += i32(timeout_ms) + i8(1 if validate_only else 0)
    return frame(request_header(37, 1, correlation_id) + body)


# --------------------------------------------------------------------------
# A small synchronous connection wrapper
# --------------------------------------------------------------------------

class WireClient:
    """One connection; numbers correlation ids and checks them in responses."""

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.sock = connect(host, port, timeout)
        self._corr = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def next_corr(self) -> int:
        self._corr += 1
        return self._corr

    def _roundtrip(self, build, parse):
        corr = self.next_corr()
        self.sock.sendall(build(corr))
        res = parse(recv_frame(self.sock))
        got = res[0] if isinstance(res, tuple) else res.correlation_id
        if got != corr:
            raise AssertionError(f"correlation id {got} in response, expected {corr}")
        return res

    def api_keys(self) -> dict[int, tuple[int, int]]:
        res = self._roundtrip(lambda c: frame(request_header(18, 0, c)), parse_api_versions_v0)
        if res.error_code != 0:
            raise AssertionError(f"ApiVersions error {res.error_code}")
        return res.api_keys

    def init_producer_id(self, version: int = 4, **kw) -> InitProducerIdResult:
        return self._roundtrip(lambda c: init_producer_id_request(version, c, **kw),
                               lambda b: parse_init_producer_id_response(version, b))

    def produce(self, version: int, topic: str, partition: int, records: bytes,
                acks: int = -1, timeout_ms: int = 10000) -> ProducePartitionResult:
        _, res = self._roundtrip(
            lambda c: produce_request(version, c, topic, partition, records, acks, timeout_ms),
            lambda b: parse_produce_response(version, b))
        return res[(topic, partition)]

    def list_offset(self, topic: str, partition: int, timestamp: int = LATEST_TIMESTAMP) -> int:
        """The offset ListOffsets v1 answers (asserting no error)."""
        _, res = self._roundtrip(
            lambda c: list_offsets_v1_request(c, topic, [(partition, timestamp)]),
            parse_list_offsets_v1)
        err, _, off = res[(topic, partition)]
        if err != 0:
            raise AssertionError(f"ListOffsets {topic}-{partition} ts={timestamp}: error {err}")
        return off

    def metadata_v4(self, topics: list[str] | None, allow_auto_create: bool = True) -> dict:
        _, res = self._roundtrip(
            lambda c: metadata_v4_request(c, topics, allow_auto_create), parse_metadata_v4)
        return res

    def fetch_v4(self, partitions: list[tuple[str, int, int, int]], max_bytes: int,
                 **kw) -> dict:
        """{(topic, partition): FetchPartitionResult} of one Fetch v4."""
        _, res = self._roundtrip(lambda c: fetch_v4_request(c, partitions, max_bytes, **kw),
                                 parse_fetch_v4)
        return res

    def create_topics_v4(self, topics: list[tuple[str, int, int]], **kw) -> dict:
        _, res = self._roundtrip(lambda c: create_topics_v4_request(c, topics, **kw),
                                 parse_topic_errors)
        return res

    def create_partitions_v1(self, topics: list[tuple[str, int]], **kw) -> dict:
        _, res = self._roundtrip(lambda c: create_partitions_v1_request(c, topics, **kw),
                                 parse_topic_errors)
        return res
