"""docker/compose.yaml's three brokers, run as processes: each broker gets
exactly the GREGOR_* environment the compose file gives its container
(container host names and ports mapped to loopback ones), and the result
must be a working replicated cluster — so the published compose file
cannot drift from a configuration that works. (The image itself is not
built here: no container runtime in CI.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import Broker, free_port, wait_for_brokers

pytestmark = pytest.mark.timeout(180)

COMPOSE = Path(__file__).resolve().parents[2] / "docker" / "compose.yaml"


def compose_environments() -> dict[str, dict[str, str]]:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    return {name: {k: str(v) for k, v in service["environment"].items()}
            for name, service in services.items()}


def test_the_compose_cluster_configuration_works():
    environments = compose_environments()
    assert sorted(environments) == ["gregor-1", "gregor-2", "gregor-3"]
    # container endpoints → loopback ports
    ports = {name: (free_port(), free_port()) for name in environments}
    brokers = []
    for name, env in environments.items():
        client, controller = ports[name]
        settings = dict(env)
        for other, (other_client, other_controller) in ports.items():
            for key, value in settings.items():
                value = value.replace(f"{other}:9093", f"127.0.0.1:{other_controller}")
                settings[key] = value
        original_client_port = settings["GREGOR_ADVERTISED_LISTENERS"].rsplit(":", 1)[1]
        settings["GREGOR_LISTENERS"] = (settings["GREGOR_LISTENERS"]
                                        .replace(f"0.0.0.0:{original_client_port}",
                                                 f"127.0.0.1:{client}")
                                        .replace("0.0.0.0:9093", f"127.0.0.1:{controller}"))
        settings["GREGOR_ADVERTISED_LISTENERS"] = f"PLAINTEXT://127.0.0.1:{client}"
        broker = Broker(name=f"compose-{name}", port=client, env=settings,
                        overrides={"listeners": None, "advertised.listeners": None,
                                   "node.id": None})
        brokers.append(broker)
    try:
        for broker in brokers:
            broker.start_async()
        for broker in brokers:
            broker.wait_ready()
        wait_for_brokers(brokers)
        bootstrap = ",".join(b.bootstrap for b in brokers)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        # default.replication.factor=3 and min.insync.replicas=2 from the file
        for future in admin.create_topics([NewTopic("compose", 3)]).values():
            future.result(timeout=30)
        topic = admin.list_topics("compose", timeout=10).topics["compose"]
        assert all(len(p.replicas) == 3 for p in topic.partitions.values())
        acked = []
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        for i in range(30):
            producer.produce("compose", value=str(i).encode(), partition=i % 3,
                             on_delivery=lambda err, msg: acked.append(err))
        assert producer.flush(30) == 0
        assert acked == [None] * 30
    finally:
        for broker in brokers:
            broker.cleanup()
