"""`gregor topics`, `gregor groups`, `gregor produce`/`consume` and `gregor
configs`: the console tools, driven as a user would, checked against what real
clients see (confluent-kafka's admin API and consumer, Kafka's own
kafka-configs.sh)."""

import subprocess
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

import java_client
from conftest import GREGOR_BIN, GROUP_BROKER_OVERRIDES


def gregor(*args: str, bootstrap: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [GREGOR_BIN, args[0], "--bootstrap-server", bootstrap, *args[1:]]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, f"{command}: {result.stderr}"
    return result


def test_topics_create_alter_describe_delete(broker, topic):
    bootstrap = broker.bootstrap
    created = gregor("topics", "--create", "--topic", topic, "--partitions", "2",
                     "--config", "retention.ms=123456", bootstrap=bootstrap)
    assert created.stdout == f"Created topic {topic}.\n"
    assert topic in gregor("topics", "--list", bootstrap=bootstrap).stdout.splitlines()

    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(topic, timeout=10)
    assert sorted(metadata.topics[topic].partitions) == [0, 1]

    gregor("topics", "--alter", "--topic", topic, "--partitions", "3",
           "--add-config", "max.message.bytes=5000,segment.ms=600000",
           "--delete-config", "retention.ms", bootstrap=bootstrap)
    resource = ConfigResource(ResourceType.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result()
    assert configs["max.message.bytes"].value == "5000"
    assert configs["segment.ms"].value == "600000"
    assert configs["retention.ms"].value == "604800000"  # back to the default
    assert sorted(admin.list_topics(topic, timeout=10).topics[topic].partitions) == [0, 1, 2]

    described = gregor("topics", "--describe", "--topic", topic, bootstrap=bootstrap).stdout
    lines = described.splitlines()
    assert lines[0].startswith(f"Topic: {topic}\tTopicId: ")
    assert "\tPartitionCount: 3\tReplicationFactor: 1\t" in lines[0]
    assert lines[0].endswith("Configs: max.message.bytes=5000,segment.ms=600000")
    assert lines[1:] == [f"\tTopic: {topic}\tPartition: {p}\tLeader: 1\tReplicas: 1\tIsr: 1" for p in range(3)]

    duplicate = gregor("topics", "--create", "--topic", topic, bootstrap=bootstrap, check=False)
    assert duplicate.returncode == 1
    assert "TopicAlreadyExists" in duplicate.stderr
    bad = gregor("topics", "--alter", "--topic", topic, "--add-config", "retention.ms=soon",
                 bootstrap=bootstrap, check=False)
    assert bad.returncode == 1 and "InvalidConfig" in bad.stderr

    assert gregor("topics", "--delete", "--topic", topic, bootstrap=bootstrap).stdout == f"Deleted topic {topic}.\n"
    gone = gregor("topics", "--describe", "--topic", topic, bootstrap=bootstrap, check=False)
    assert gone.returncode == 1 and "UnknownTopicOrPartition" in gone.stderr
    assert topic not in gregor("topics", "--list", bootstrap=bootstrap).stdout.splitlines()


def test_groups_describe_shows_offsets_lag_and_members(broker_factory, topic):
    broker = broker_factory(**GROUP_BROKER_OVERRIDES)
    bootstrap = broker.bootstrap
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for i in range(10):
        producer.produce(topic, value=b"v%d" % i, partition=0)
    assert producer.flush(15) == 0

    group = f"console-{topic}"
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": "console-client",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "session.timeout.ms": 6000})
    consumer.subscribe([topic])
    deadline = time.time() + 30
    while not consumer.assignment() and time.time() < deadline:
        consumer.poll(0.2)
    assert [tp.partition for tp in consumer.assignment()] == [0]
    consumer.commit(offsets=[TopicPartition(topic, 0, 4)], asynchronous=False)

    assert group in gregor("groups", "--list", bootstrap=bootstrap).stdout.splitlines()
    rows = gregor("groups", "--describe", "--group", group, bootstrap=bootstrap).stdout.splitlines()
    assert rows[0].split() == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                               "CONSUMER-ID", "HOST", "CLIENT-ID"]
    fields = rows[1].split()
    assert fields[:6] == [group, topic, "0", "4", "10", "6"]
    assert fields[6].startswith("console-client-")
    assert fields[7:] == ["/127.0.0.1", "console-client"]

    members = gregor("groups", "--describe", "--group", group, "--members", bootstrap=bootstrap).stdout.splitlines()
    assert members[1].split()[2:] == ["/127.0.0.1", "console-client", "1"]
    state = gregor("groups", "--describe", "--group", group, "--state", bootstrap=bootstrap).stdout.splitlines()
    assert state[1].split()[0] == group
    assert state[1].split()[-3:] == ["range", "Stable", "1"]

    refused = gregor("groups", "--delete", "--group", group, bootstrap=bootstrap).stdout
    assert "NonEmptyGroup" in refused
    consumer.close()
    deleted = gregor("groups", "--delete", "--group", group, bootstrap=bootstrap).stdout
    assert deleted == f"Deletion of requested consumer groups ('{group}') was successful.\n"
    missing = gregor("groups", "--describe", "--group", group, bootstrap=bootstrap).stdout
    assert missing == f"Error: Consumer group '{group}' does not exist.\n\n"


def test_console_producer_and_consumer(broker, topic):
    bootstrap = broker.bootstrap
    admin = AdminClient({"bootstrap.servers": bootstrap})
    from confluent_kafka.admin import NewTopic
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(15)
    lines = "".join(f"key{i}:value {i}\n" for i in range(30))
    produced = subprocess.run([GREGOR_BIN, "produce", "--bootstrap-server", bootstrap, "--topic", topic,
                               "--property", "parse.key=true", "--property", "key.separator=:"],
                              input=lines, capture_output=True, text=True, timeout=60)
    assert produced.returncode == 0, produced.stderr

    # Keys land where Kafka's Java partitioner (murmur2) puts them: librdkafka's
    # murmur2_random partitioner must agree for every key.
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "console-check",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    seen, eofs, deadline = {}, 0, time.time() + 20
    while eofs < 3 and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            eofs += 1
            continue
        seen[message.key().decode()] = (message.partition(), message.value().decode())
    consumer.close()
    assert {k: v for k, (_, v) in seen.items()} == {f"key{i}": f"value {i}" for i in range(30)}
    expected = {}
    check_topic = f"{topic}-check"
    admin.create_topics([NewTopic(check_topic, 3, 1)])[check_topic].result(15)
    producer = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
    for key in seen:
        producer.produce(check_topic, key=key.encode(), value=b"x",
                         on_delivery=lambda err, msg: expected.__setitem__(msg.key().decode(), msg.partition()))
    assert producer.flush(15) == 0
    assert {k: p for k, (p, _) in seen.items()} == expected

    consumed = subprocess.run([GREGOR_BIN, "consume", "--bootstrap-server", bootstrap, "--topic", topic,
                               "--partition", str(expected["key7"]), "--offset", "earliest",
                               "--max-messages", "100", "--timeout-ms", "1500",
                               "--property", "print.key=true", "--property", "key.separator=="],
                              capture_output=True, text=True, timeout=60)
    assert consumed.returncode == 0, consumed.stderr
    printed = consumed.stdout.splitlines()
    assert "key7=value 7" in printed
    assert sorted(printed) == sorted(f"{k}={v}" for k, (p, v) in seen.items() if p == expected["key7"])
    assert consumed.stderr.strip().endswith(f"Processed a total of {len(printed)} messages")


def test_console_consumers_in_a_group_share_partitions_and_commit(broker_factory, topic):
    broker = broker_factory(**GROUP_BROKER_OVERRIDES)
    bootstrap = broker.bootstrap
    from confluent_kafka.admin import NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept: a collected client fails its futures
    admin.create_topics([NewTopic(topic, 4, 1)])[topic].result(15)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(40):
        producer.produce(topic, value=b"m%d" % i, partition=i % 4)
    assert producer.flush(15) == 0

    group = f"console-group-{topic}"
    command = [GREGOR_BIN, "consume", "--bootstrap-server", bootstrap, "--topic", topic, "--group", group,
               "--from-beginning", "--timeout-ms", "8000"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # While both run, the group holds two members with two partitions each.
    shared, deadline = False, time.time() + 20
    while not shared and time.time() < deadline:
        members = gregor("groups", "--describe", "--group", group, "--members", bootstrap=bootstrap,
                         check=False).stdout.splitlines()[1:]
        shared = sorted(line.split()[-1] for line in members if line.strip()) == ["2", "2"]
        time.sleep(0.3)
    assert shared, "two console consumers never shared the topic's partitions"
    outputs = [p.communicate(timeout=90) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], [o[1] for o in outputs]
    printed = [line for out, _ in outputs for line in out.splitlines()]
    # Every record at least once; after the rebalance settles each partition
    # has one owner, so nothing beyond what a rebalance may repeat.
    assert sorted(set(printed)) == sorted(f"m{i}" for i in range(40))

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    committed = consumer.committed([TopicPartition(topic, p) for p in range(4)], timeout=10)
    assert [tp.offset for tp in committed] == [10, 10, 10, 10]
    consumer.close()
    again = subprocess.run(command[:-1] + ["1500"], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stdout == ""
    assert again.stderr.strip().endswith("Processed a total of 0 messages")


def quota_lines(text: str) -> dict[str, dict[str, str]]:
    """kafka-configs.sh's describe output: {entity: {key: value}} (the keys'
    order is a Java HashMap's in Kafka's tool, the broker's in gregor's)."""
    found = {}
    for line in text.splitlines():
        entity, _, values = line.removeprefix("Quota configs for ").partition(" are ")
        found[entity] = dict(pair.split("=", 1) for pair in values.split(", "))
    return found


def test_configs_sets_describes_and_deletes_client_quotas(broker):
    """`gregor configs` sets a client's and a user's client's quotas (the
    entity types paired in order with their names), describes them as
    kafka-configs.sh prints them (Java's Double.toString), agrees with Kafka's
    own ConfigCommand, and deletes them."""
    bootstrap = broker.bootstrap
    suffix = uuid.uuid4().hex[:8]
    client, user = f"console-client-{suffix}", f"console-user-{suffix}"
    the_client = ["--entity-type", "clients", "--entity-name", client]
    the_pair = ["--entity-type", "users", "--entity-name", user, *the_client]

    def configs(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return gregor("configs", *args, bootstrap=bootstrap, check=check)

    def kafka_configs(*entity: str) -> str:
        return java_client.run_tool("org.apache.kafka.tools.ConfigCommand", "--bootstrap-server",
                                    bootstrap, "--describe", *entity)

    set_client = configs("--alter", *the_client, "--add-config",
                         "producer_byte_rate=1024,consumer_byte_rate=20000000")
    assert set_client.stdout == f"Completed updating config for client {client}.\n"
    set_pair = configs("--alter", *the_pair, "--add-config", "request_percentage=12.5")
    assert set_pair.stdout == f"Completed updating config for user {user}.\n"

    client_quotas = {f"client-id '{client}'": {"producer_byte_rate": "1024.0",
                                               "consumer_byte_rate": "2.0E7"}}
    pair_line = (f"Quota configs for user-principal '{user}', client-id '{client}' are "
                 "request_percentage=12.5\n")
    assert quota_lines(configs("--describe", *the_client).stdout) == client_quotas
    assert configs("--describe", *the_pair).stdout == pair_line
    # The other order names the same entity; a type without a name matches
    # any (names pair with the types in order: the client's users here).
    assert configs("--describe", *the_client, "--entity-type", "users", "--entity-name",
                   user).stdout == pair_line
    assert configs("--describe", *the_client, "--entity-type", "users").stdout == pair_line
    # Kafka's own tool reads the same quotas.
    assert quota_lines(kafka_configs(*the_client)) == client_quotas
    assert kafka_configs(*the_pair) == pair_line

    # Refused before anything is sent, or by the broker for the entity.
    bad = configs("--alter", *the_client, "--add-config", "producer_byte_rate=fast", check=False)
    assert bad.returncode == 1
    assert "Cannot parse quota configuration value for producer_byte_rate: fast" in bad.stderr
    fractional = configs("--alter", *the_client, "--add-config", "producer_byte_rate=1.5",
                         check=False)
    assert fractional.returncode == 1
    assert "InvalidRequest: producer_byte_rate cannot be a fractional value." in fractional.stderr
    assert quota_lines(kafka_configs(*the_client)) == client_quotas

    deleted = configs("--alter", *the_client, "--delete-config",
                      "producer_byte_rate,consumer_byte_rate")
    assert deleted.stdout == f"Completed updating config for client {client}.\n"
    configs("--alter", *the_pair, "--delete-config", "request_percentage")
    for entity in (the_client, the_pair):
        assert configs("--describe", *entity).stdout == ""
        assert kafka_configs(*entity) == ""
    # A key that is not set is not deleted, as kafka-configs.sh refuses it.
    again = configs("--alter", *the_pair, "--delete-config", "request_percentage", check=False)
    assert again.returncode == 1 and "Invalid config(s): request_percentage" in again.stderr
