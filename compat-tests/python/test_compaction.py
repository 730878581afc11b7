"""cleanup.policy=compact with real clients: many versions of a few keys plus
tombstones, a forced roll, then the cleaner; a full read returns exactly the
latest record of every key at its original offset. Produced with
confluent-kafka and kafka-python, read back with the other."""

import time

import kafka
import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

CLEANER = {"log.cleaner.backoff.ms": "300", "log.retention.check.interval.ms": "300"}


def create_compacted(bootstrap: str, topic: str, delete_retention_ms: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    configs = {"cleanup.policy": "compact", "segment.ms": "300", "min.cleanable.dirty.ratio": "0.01",
               "delete.retention.ms": str(delete_retention_ms)}
    admin.create_topics([NewTopic(topic, 1, 1, config=configs)])[topic].result(15)


def writes(n_keys: int = 4, versions: int = 6):
    """(key, value) pairs: several versions per key, then tombstones for key 0 and 1,
    and a last value for key 1 after its tombstone."""
    out = [(f"k{k}", f"k{k}-v{v}") for v in range(versions) for k in range(n_keys)]
    out += [("k0", None), ("k1", None), ("k1", "k1-reborn")]
    return out


def produce_confluent(bootstrap, topic, records):
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for key, value in records:
        producer.produce(topic, key=key.encode(), value=None if value is None else value.encode())
        producer.poll(0)
    assert producer.flush(15) == 0


def produce_kafka_python(bootstrap, topic, records):
    producer = kafka.KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    futures = [producer.send(topic, key=key.encode(), value=None if value is None else value.encode())
               for key, value in records]
    producer.flush(15)
    for future in futures:
        future.get(timeout=15)
    producer.close()


def read_confluent(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "compaction-reader",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got, deadline = [], time.time() + 15
    while time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            assert message.error().code() == KafkaError._PARTITION_EOF
            break
        value = message.value()
        got.append((message.offset(), message.key().decode(), None if value is None else value.decode()))
    consumer.close()
    return got


def read_kafka_python(bootstrap, topic):
    consumer = kafka.KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    partition = kafka.TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    end = consumer.end_offsets([partition])[partition]
    got, deadline = [], time.time() + 15
    while consumer.position(partition) < end and time.time() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            for r in records:
                got.append((r.offset, r.key.decode(), None if r.value is None else r.value.decode()))
    consumer.close()
    return got


def expected_after_compaction(records, keep_tombstones: bool, filler_offset: int):
    last = {}
    for offset, (key, value) in enumerate(records):
        last[key] = (offset, value)
    kept = [(offset, key, value) for key, (offset, value) in last.items()
            if value is not None or keep_tombstones]
    return sorted(kept) + [(filler_offset, "filler", "active")]


@pytest.mark.parametrize("producer, reader", [(produce_confluent, read_kafka_python),
                                              (produce_kafka_python, read_confluent)])
@pytest.mark.parametrize("keep_tombstones", [True, False])
def test_compaction_keeps_the_latest_record_of_every_key(broker_factory, topic, producer, reader,
                                                          keep_tombstones):
    broker = broker_factory(**CLEANER)
    create_compacted(broker.bootstrap, topic, delete_retention_ms=86_400_000 if keep_tombstones else 0)
    records = writes()
    producer(broker.bootstrap, topic, records)
    time.sleep(0.5)  # older than segment.ms: the next append rolls a new segment
    produce_confluent(broker.bootstrap, topic, [("filler", "active")])
    expected = expected_after_compaction(records, keep_tombstones, filler_offset=len(records))

    deadline, got = time.time() + 30, None
    while time.time() < deadline:
        got = reader(broker.bootstrap, topic)
        if got == expected:
            break
        time.sleep(0.5)
    assert got == expected
    # Offsets did not move and nothing is lost across a restart.
    broker.kill()
    broker.start()
    assert reader(broker.bootstrap, topic) == expected


def test_keyless_records_are_refused_on_compacted_topics(broker_factory, topic):
    broker = broker_factory(**CLEANER)
    create_compacted(broker.bootstrap, topic, delete_retention_ms=1000)
    errors = []
    producer = Producer({"bootstrap.servers": broker.bootstrap, "retries": 0})
    producer.produce(topic, value=b"no key", on_delivery=lambda err, msg: errors.append(err))
    producer.flush(15)
    assert [e.code() for e in errors] == [KafkaError.INVALID_RECORD]

    kp = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, retries=0)
    with pytest.raises(kafka.errors.InvalidRecordError):
        kp.send(topic, value=b"no key").get(timeout=15)
    kp.close()
    assert Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "x"}).get_watermark_offsets(
        TopicPartition(topic, 0), timeout=10) == (0, 0)
