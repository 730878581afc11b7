"""DescribeTopicPartitions v0 (KIP-966), which newer admin clients use to
describe topics: raw requests (the Python clients still use Metadata), with
paging by response_partition_limit and the cursor."""

import uuid

from confluent_kafka.admin import AdminClient, NewTopic

from kafka_wire import Reader, compact_string, frame, i8, i32, recv_frame, request_header, uvarint, WireClient

TAGS = b"\x00"


def request(correlation_id, topics, limit, cursor=None):
    body = uvarint(len(topics) + 1) + b"".join(compact_string(t) + TAGS for t in topics)
    body += i32(limit)
    body += i8(-1) if cursor is None else i8(1) + compact_string(cursor[0]) + i32(cursor[1]) + TAGS
    body += TAGS
    return frame(request_header(75, 0, correlation_id, flexible=True) + body)


def parse(body):
    r = Reader(body)
    correlation_id = r.i32()
    r.skip_tags()
    r.i32()  # throttle
    topics = []
    for _ in range(r.uvarint() - 1):
        error, name = r.i16(), r.compact_string()
        topic_id = uuid.UUID(bytes=r.take(16))
        internal = r.take(1) != b"\x00"
        partitions = []
        for _ in range(r.uvarint() - 1):
            p_error, index, leader, epoch = r.i16(), r.i32(), r.i32(), r.i32()
            replicas = [r.i32() for _ in range(r.uvarint() - 1)]
            isr = [r.i32() for _ in range(r.uvarint() - 1)]
            for _ in range(2):  # eligible leader replicas, last known ELR (nullable)
                n = r.uvarint()
                [r.i32() for _ in range(max(n - 1, 0))]
            [r.i32() for _ in range(r.uvarint() - 1)]  # offline
            r.skip_tags()
            partitions.append((p_error, index, leader, epoch, replicas, isr))
        r.i32()  # authorized operations
        r.skip_tags()
        topics.append((error, name, topic_id, internal, partitions))
    cursor = None
    if r.i8() == 1:
        cursor = (r.compact_string(), r.i32())
        r.skip_tags()
    r.skip_tags()
    assert r.remaining == 0
    return correlation_id, topics, cursor


def test_topics_are_described_in_name_order_and_paged_by_cursor(broker, topic):
    first, second = f"a-{topic}", f"b-{topic}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for name, partitions in [(first, 3), (second, 2)]:
        admin.create_topics([NewTopic(name, partitions, 1)])[name].result(15)


    host, port = broker.bootstrap.split(":")
    with WireClient(host, int(port)) as client:
        assert client.api_keys()[75] == (0, 0)
        missing = f"missing-{topic}"
        client.sock.sendall(request(7, [second, first, missing], limit=4))
        correlation_id, topics, cursor = parse(recv_frame(client.sock))
        assert correlation_id == 7
        assert [(t[0], t[1]) for t in topics] == [(0, first), (0, second)]
        assert [p[1] for p in topics[0][4]] == [0, 1, 2]
        assert [p[1] for p in topics[1][4]] == [0]
        assert all(p[:4] == (0, p[1], 1, 0) and p[4] == [1] and p[5] == [1] for t in topics for p in t[4])
        assert topics[0][3] is False and topics[0][2] != uuid.UUID(int=0)
        assert cursor == (second, 1)

        client.sock.sendall(request(8, [second, first, missing], limit=4, cursor=cursor))
        _, topics, cursor = parse(recv_frame(client.sock))
        assert [(t[0], t[1], [p[1] for p in t[4]]) for t in topics] == [(0, second, [1]), (3, missing, [])]
        assert cursor is None

