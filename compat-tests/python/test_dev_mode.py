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
