"""One campaign: a three-broker cluster in network namespaces, the
workload running throughout, the nemesis for a number of rounds, then
quiet, a read-back of everything, and the checker's report.

Everything lands in one output folder: `history.jsonl` (every event),
`report.json` (the checker's findings), and the brokers' logs.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from cluster_harness import bootstrap, create_topic, replicas_identical
from conftest import BrokerError, start_cluster, wait_for_brokers, wait_until
from txn_harness import read_confluent

from . import checker
from .history import History, load as load_history
from .nemesis import FAULTS, Nemesis
from .network import Network
from .workload import (ConfluentGroupConsumer, ConfluentIdempotentProducer,
                       ConfluentTransactionalProducer, GroupConsumer, KafkaPythonGroupConsumer,
                       KafkaPythonIdempotentProducer, KafkaPythonTransactionalProducer, Load)

IDEMPOTENT_TOPIC = "campaign-idempotent"
TRANSACTIONAL_TOPIC = "campaign-transactional"
PARTITIONS = 3
INTERNAL_PARTITIONS = 3
GROUP = "campaign-readers"

BROKER_OVERRIDES = {
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "5000",
    "offsets.topic.num.partitions": str(INTERNAL_PARTITIONS),
    "transaction.state.log.num.partitions": str(INTERNAL_PARTITIONS),
    "group.initial.rebalance.delay.ms": "0",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000",
}


def run(rounds: int, out_dir: str | Path, seed: int = 1, load: Load | None = None,
        hold_s: tuple[float, float] = (1.0, 6.0), faults: tuple[str, ...] = FAULTS,
        log=print) -> dict:
    """Runs the campaign and returns the checker's report (also written to
    `out_dir`/report.json)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    load = load or Load()
    client_log = _client_log(out / "clients.log")
    history = History(out / "history.jsonl")
    started = time.monotonic()
    with Network([1, 2, 3]) as network:
        cluster = start_cluster(3, BROKER_OVERRIDES, network=network)
        workers = []
        try:
            wait_for_brokers(cluster)
            address = bootstrap(cluster)
            for topic in (IDEMPOTENT_TOPIC, TRANSACTIONAL_TOPIC):
                create_topic(cluster, topic, PARTITIONS, 3, **{"min.insync.replicas": "2"})
            workers = _workers(history, address, load, seed)
            for worker in workers:
                worker.start()
            watched = {IDEMPOTENT_TOPIC: PARTITIONS, TRANSACTIONAL_TOPIC: PARTITIONS,
                       "__consumer_offsets": INTERNAL_PARTITIONS,
                       "__transaction_state": INTERNAL_PARTITIONS}
            nemesis = Nemesis(cluster, network, history, seed, watched, workers, hold_s, faults)
            wait_until(nemesis.healthy, timeout=90, interval=0.5,
                       what="topics, internal topics and ISRs ready")
            nemesis.await_progress()
            log(f"cluster and workload up after {time.monotonic() - started:.1f}s "
                f"(network {network.subnet}.0/24)")
            for number in range(1, rounds + 1):
                log(nemesis.round(number))
            _quiesce(history, workers, log)
            _read_back(history, cluster, address)
        finally:
            for worker in workers:
                worker.stop()
            for broker in cluster:
                _stop(history, broker)
                if broker.log_path.exists():
                    shutil.copy(broker.log_path, out / broker.log_path.name)
                broker.cleanup()
            history.close()
            _close_client_log(client_log)
    report = checker.check(load_history(out / "history.jsonl"))
    report["seconds"] = round(time.monotonic() - started, 1)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report


CLIENT_LOGGERS = ("campaign.librdkafka", "kafka")


def _client_log(path: Path) -> logging.Handler:
    """The clients' own logs (librdkafka's and kafka-python's) go to a
    file, not the terminal."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(name)s "
                                           "%(levelname)s %(message)s"))
    for name in CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger.handlers = [handler]
    # what kafka-python's transactions do, request by request
    logging.getLogger("kafka.producer.transaction_manager").setLevel(logging.DEBUG)
    return handler


def _close_client_log(handler: logging.Handler) -> None:
    for name in CLIENT_LOGGERS:
        logging.getLogger(name).removeHandler(handler)
    handler.close()


def _workers(history: History, address: str, load: Load, seed: int) -> list:
    topics = [IDEMPOTENT_TOPIC, TRANSACTIONAL_TOPIC]
    return [
        ConfluentIdempotentProducer("idem-confluent", history, address, IDEMPOTENT_TOPIC,
                                    PARTITIONS, load),
        KafkaPythonIdempotentProducer("idem-kafka-python", history, address, IDEMPOTENT_TOPIC,
                                      PARTITIONS, load),
        ConfluentTransactionalProducer("txn-confluent", history, address, TRANSACTIONAL_TOPIC,
                                       PARTITIONS, load, seed),
        KafkaPythonTransactionalProducer("txn-kafka-python", history, address,
                                         TRANSACTIONAL_TOPIC, PARTITIONS, load, seed + 1),
        ConfluentGroupConsumer("reader-confluent", history, address, GROUP, topics, load,
                               seed + 2),
        KafkaPythonGroupConsumer("reader-kafka-python", history, address, GROUP, topics, load,
                                 seed + 3),
    ]


def _quiesce(history: History, workers: list, log) -> None:
    """Stops the producers (each flushes), lets the consumers catch up
    until they have been given nothing new for 5 s, then stops them."""
    consumers = [w for w in workers if isinstance(w, GroupConsumer)]
    producers = [w for w in workers if not isinstance(w, GroupConsumer)]
    for worker in producers:
        worker.stop()
    for worker in producers:
        _join(history, worker, 200)
    deadline = time.monotonic() + 90
    seen = -1
    while time.monotonic() < deadline:
        now = sum(c.progress for c in consumers)
        if now == seen:
            break
        seen = now
        time.sleep(5)
    for worker in consumers:
        worker.stop()
    for worker in consumers:
        _join(history, worker, 60)
    log(f"workload stopped: {sum(c.progress for c in consumers)} records consumed")


def _stop(history: History, broker) -> None:
    """A clean stop; a broker that does not exit on SIGTERM is a finding."""
    try:
        broker.thaw()
        broker.stop()
    except BrokerError as error:
        history.record("unfinished", what=f"{broker.name}: clean shutdown", error=str(error))


def _join(history: History, worker, timeout: float) -> None:
    worker.join(timeout)
    if worker.is_alive():
        history.record("client_stuck", client=worker.name, waited=timeout)


def _read_back(history: History, cluster, address: str) -> None:
    """Everything the log holds (read_committed), the group's committed
    offsets, and whether the replicas are byte-identical, into the history."""
    partitions = [(t, p) for t in (IDEMPOTENT_TOPIC, TRANSACTIONAL_TOPIC)
                  for p in range(PARTITIONS)]
    try:
        for m in read_confluent(address, partitions, "read_committed", timeout=180,
                                group="campaign-final-read"):
            history.record("final", topic=m.topic, partition=m.partition, offset=m.offset,
                           value=None if m.value is None else m.value.decode("utf-8", "replace"))
    except AssertionError as error:
        history.record("unfinished", what="final read", error=str(error))
    consumer = Consumer({"bootstrap.servers": address, "group.id": GROUP})
    try:
        for tp in consumer.committed([TopicPartition(t, p) for t, p in partitions], timeout=30):
            history.record("final_committed", topic=tp.topic, partition=tp.partition,
                           offset=tp.offset if tp.offset >= 0 else None)
    except Exception as error:
        history.record("unfinished", what="committed offsets", error=repr(error))
    finally:
        consumer.close()
    for topic in (IDEMPOTENT_TOPIC, TRANSACTIONAL_TOPIC):
        try:
            wait_until(lambda: replicas_identical(cluster, topic, PARTITIONS), timeout=60,
                       interval=1, what=f"{topic}: byte-identical replicas")
            history.record("replicas", topic=topic, identical=True)
        except AssertionError:
            history.record("replicas", topic=topic, identical=False)
