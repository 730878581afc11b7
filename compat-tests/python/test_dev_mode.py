"""`gregor broker --dev`: the address on the first stdout line, a working
broker with auto-created topics, and its temporary data removed on exit.
This is the example from docs/testing.md."""

import glob
import os
import subprocess
import tempfile

from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import GREGOR_BIN


def dev_dirs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "gregor-dev-*")))


def test_dev_mode_serves_and_cleans_up():
    before = dev_dirs()
    broker = subprocess.Popen([GREGOR_BIN, "broker", "--dev", "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    try:
        bootstrap = broker.stdout.readline().decode().strip()
        assert bootstrap.startswith("localhost:") and int(bootstrap.split(":")[1]) > 0
        [data_dir] = dev_dirs() - before
        producer = Producer({"bootstrap.servers": bootstrap})
        producer.produce("orders", key=b"k", value=b"hello")
        assert producer.flush(10) == 0
        assert os.path.isdir(os.path.join(data_dir, "orders-0"))
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "dev", "enable.auto.commit": False})
        assert consumer.get_watermark_offsets(TopicPartition("orders", 0), timeout=10) == (0, 1)
        consumer.close()
    finally:
        broker.terminate()
        assert broker.wait(20) == 0
    assert not os.path.exists(data_dir)


def cluster_dirs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "gregor-cluster-*")))


def test_dev_cluster_in_one_process_replicates_and_cleans_up():
    """`--dev --brokers 3`: three brokers (each a voter) in one process, on
    one bootstrap line; a topic replicated three times takes acks=all
    writes from confluent-kafka, kafka-python reads them back at their
    offsets, every broker holds a copy, and SIGTERM removes it all."""
    from confluent_kafka.admin import AdminClient, NewTopic
    from kafka import KafkaConsumer, TopicPartition as KTopicPartition

    before = cluster_dirs()
    cluster = subprocess.Popen([GREGOR_BIN, "broker", "--dev", "--brokers", "3", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        bootstrap = cluster.stdout.readline().decode().strip()
        addresses = bootstrap.split(",")
        assert len(addresses) == 3 and all(a.startswith("localhost:") for a in addresses), bootstrap
        [data_dir] = cluster_dirs() - before
        admin = AdminClient({"bootstrap.servers": bootstrap})
        assert sorted(n.id for n in admin.describe_cluster().result(timeout=10).nodes) == [1, 2, 3]
        admin.create_topics([NewTopic("replicated", 2, 3)])["replicated"].result(timeout=30)
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
        acked = []
        for i in range(100):
            producer.produce("replicated", value=f"r{i}".encode(), partition=i % 2,
                             on_delivery=lambda err, msg: acked.append(
                                 (err, msg.partition(), msg.offset(), msg.value())))
        assert producer.flush(30) == 0
        assert all(err is None for err, *_ in acked)
        assert sorted((p, o) for _, p, o, _ in acked) == [(p, o) for p in (0, 1) for o in range(50)]
        for partition, meta in admin.list_topics("replicated", timeout=10).topics["replicated"].partitions.items():
            assert sorted(meta.replicas) == [1, 2, 3], (partition, meta.replicas)

        consumer = KafkaConsumer(bootstrap_servers=addresses, auto_offset_reset="earliest",
                                 enable_auto_commit=False, consumer_timeout_ms=10000)
        consumer.assign([KTopicPartition("replicated", p) for p in (0, 1)])
        seen = {}
        for record in consumer:
            seen[(record.partition, record.offset)] = record.value
            if len(seen) == 100:
                break
        consumer.close()
        assert seen == {(p, o): v for _, p, o, v in acked}
        for node in (1, 2, 3):
            for partition in (0, 1):
                assert os.path.isdir(os.path.join(data_dir, f"node-{node}", f"replicated-{partition}"))
    finally:
        cluster.terminate()
        assert cluster.wait(20) == 0
    assert not os.path.exists(data_dir)
