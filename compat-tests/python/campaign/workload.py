"""The campaign's clients, each a thread writing what it did and what it
was told into the history:

- idempotent producers (acks=all), confluent-kafka and kafka-python, each
  record a unique value sent to a chosen partition;
- transactional producers, confluent-kafka and kafka-python, each
  transaction a few unique values over several partitions, some meant to
  be aborted;
- consumers of one group (read_committed), confluent-kafka and
  kafka-python, committing what they consumed, and now and then closing
  and coming back so that partitions move and resume from committed
  offsets.

They follow each client library's documented error handling, and log an
outcome only when the client reported one: an acknowledgement, an abort
the coordinator confirmed, a commit the coordinator accepted.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka import TopicPartition as CfPartition
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError as KpError
from kafka.structs import OffsetAndMetadata

from .history import History

LIBRDKAFKA_LOG = logging.getLogger("campaign.librdkafka")
"""Where the confluent-kafka clients log (kafka-python logs under `kafka`)."""


@dataclass
class Load:
    """How hard the clients push (kept moderate: the brokers are debug builds
    sharing two cores with everything else)."""
    records_per_second: float = 20.0        # per idempotent producer
    transactions_per_second: float = 3.0    # per transactional producer
    abort_ratio: float = 0.25               # transactions meant to be aborted
    consumer_restart_s: tuple[float, float] = (20.0, 40.0)
    commit_interval_s: float = 1.0


class Worker(threading.Thread):
    def __init__(self, name: str, history: History):
        super().__init__(daemon=True, name=name)
        self.history = history
        self.stopping = threading.Event()
        # operations finished (acknowledged or failed records, ended
        # transactions, consumed records): the nemesis waits for it to move
        self.progress = 0

    def run(self) -> None:
        try:
            self.work()
        except Exception as error:      # the campaign reports it; the thread must not vanish
            self.history.record("client_crashed", client=self.name, error=repr(error))

    def work(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopping.set()

    def pause(self, seconds: float) -> None:
        self.stopping.wait(seconds)


# ---------------------------------------------------------------------------
# idempotent producers
# ---------------------------------------------------------------------------

class IdempotentProducer(Worker):
    """Sends `<name>-<n>` to partition n % partitions at a steady rate."""

    def __init__(self, name: str, history: History, bootstrap: str, topic: str,
                 partitions: int, load: Load):
        super().__init__(name, history)
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.load = load
        self.sent = 0
        self.outstanding = 0
        self.lock = threading.Lock()

    def work(self) -> None:
        self.open()
        while not self.stopping.is_set():
            value = f"{self.name}-{self.sent}"
            with self.lock:
                self.outstanding += 1
            self.send(value, self.sent % self.partitions)
            self.sent += 1
            self.pause(1 / self.load.records_per_second)
        self.close()
        self.history.record("producer_closed", client=self.name, sent=self.sent,
                            unflushed=self.outstanding)

    def acked(self, value: str, partition: int, offset: int) -> None:
        with self.lock:
            self.outstanding -= 1
            self.progress += 1
        self.history.record("ack", client=self.name, topic=self.topic, partition=partition,
                            offset=offset, value=value)

    def failed(self, value: str, error) -> None:
        with self.lock:
            self.outstanding -= 1
            self.progress += 1
        self.history.record("fail", client=self.name, topic=self.topic, value=value,
                            error=str(error))


class ConfluentIdempotentProducer(IdempotentProducer):
    def open(self) -> None:
        self.producer = Producer({
            "bootstrap.servers": self.bootstrap, "client.id": self.name, "acks": "all",
            "enable.idempotence": True, "linger.ms": 5, "message.timeout.ms": 120000,
            "logger": LIBRDKAFKA_LOG,
            "error_cb": lambda error: self.history.record(
                "client_error", client=self.name, error=str(error), fatal=error.fatal())})

    def send(self, value: str, partition: int) -> None:
        def delivered(error, message):
            if error is None:
                self.acked(value, message.partition(), message.offset())
            else:
                self.failed(value, error)
        while True:
            try:
                self.producer.produce(self.topic, value=value.encode(), partition=partition,
                                      on_delivery=delivered)
                break
            except BufferError:
                self.producer.poll(0.5)
        self.producer.poll(0)

    def close(self) -> None:
        self.producer.flush(150)


class KafkaPythonIdempotentProducer(IdempotentProducer):
    def open(self) -> None:
        self.producer = KafkaProducer(
            bootstrap_servers=self.bootstrap, client_id=self.name, acks="all",
            enable_idempotence=True, linger_ms=5, request_timeout_ms=10000,
            delivery_timeout_ms=120000, max_block_ms=60000)

    def send(self, value: str, partition: int) -> None:
        future = self.producer.send(self.topic, value=value.encode(), partition=partition)
        future.add_callback(lambda metadata: self.acked(value, metadata.partition,
                                                        metadata.offset))
        future.add_errback(lambda error: self.failed(value, error))

    def close(self) -> None:
        try:
            self.producer.flush(150)
        finally:
            self.producer.close(10)


# ---------------------------------------------------------------------------
# transactional producers
# ---------------------------------------------------------------------------

class TransactionalProducer(Worker):
    """Transactions `<name>-t<n>` of 2-6 values `<txn>-<i>` on random
    partitions; a share of them is aborted on purpose."""

    def __init__(self, name: str, history: History, bootstrap: str, topic: str,
                 partitions: int, load: Load, seed: int):
        super().__init__(name, history)
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.load = load
        self.rng = random.Random(seed)
        self.transactions = 0

    def work(self) -> None:
        self.producer = self.reopen()
        while not self.stopping.is_set() and self.producer is not None:
            txn = f"{self.name}-t{self.transactions}"
            self.transactions += 1
            size = self.rng.randint(2, 6)
            values = [f"{txn}-{i}" for i in range(size)]
            partitions = [self.rng.randrange(self.partitions) for _ in values]
            intent = "abort" if self.rng.random() < self.load.abort_ratio else "commit"
            self.history.record("txn_begin", client=self.name, txn=txn, topic=self.topic,
                                values=values, partitions=partitions, intent=intent)
            outcome, error = self.transaction(values, partitions, intent)
            self.history.record("txn_end", client=self.name, txn=txn, intent=intent,
                                outcome=outcome, error=error)
            self.progress += 1
            if outcome == "unknown":
                # Whatever state the client is in, a new instance with the
                # same transactional.id fences it and settles the transaction.
                self.discard()
                self.producer = self.reopen()
            self.pause(1 / self.load.transactions_per_second)
        if self.producer is not None:
            self.discard()
        self.history.record("producer_closed", client=self.name,
                            transactions=self.transactions)

    def reopen(self):
        """A new producer instance, initialised (retried until the campaign stops)."""
        while not self.stopping.is_set():
            try:
                return self.open()
            except Exception as error:
                self.history.record("client_error", client=self.name,
                                    error=f"init_transactions: {error!r}", fatal=False)
                self.pause(1)
        return None


class ConfluentTransactionalProducer(TransactionalProducer):
    TIMEOUT_S = 30

    def open(self):
        producer = Producer({
            "bootstrap.servers": self.bootstrap, "client.id": self.name,
            "transactional.id": self.name, "transaction.timeout.ms": 20000, "linger.ms": 5,
            "message.timeout.ms": 20000,
            "logger": LIBRDKAFKA_LOG,
            "error_cb": lambda error: self.history.record(
                "client_error", client=self.name, error=str(error), fatal=error.fatal())})
        producer.init_transactions(60)
        return producer

    def discard(self) -> None:
        self.producer = None

    def transaction(self, values, partitions, intent) -> tuple[str, str | None]:
        """(outcome, error) as confluent-kafka's transactional API defines them:
        retriable errors are retried, abortable ones end in an abort, fatal
        ones leave the outcome unknown."""
        producer = self.producer
        try:
            producer.begin_transaction()
            for value, partition in zip(values, partitions):
                producer.produce(self.topic, value=value.encode(), partition=partition)
            if intent == "abort":
                # in the log before the abort, for readers to (not) see
                producer.flush(self.TIMEOUT_S)
                return self.abort(None)
            deadline = time.monotonic() + 90
            while True:
                try:
                    producer.commit_transaction(self.TIMEOUT_S)
                    return "committed", None
                except KafkaException as raised:
                    error = raised.args[0]
                    if error.retriable() and time.monotonic() < deadline:
                        continue
                    if error.txn_requires_abort():
                        return self.abort(str(error))
                    return "unknown", str(error)
        except KafkaException as raised:
            error = raised.args[0]
            if error.txn_requires_abort():
                return self.abort(str(error))
            return "unknown", str(error)

    def abort(self, cause: str | None) -> tuple[str, str | None]:
        deadline = time.monotonic() + 90
        while True:
            try:
                self.producer.abort_transaction(self.TIMEOUT_S)
                return "aborted", cause
            except KafkaException as raised:
                error = raised.args[0]
                if error.retriable() and time.monotonic() < deadline:
                    continue
                return "unknown", f"{cause}; abort: {error}"


class KafkaPythonTransactionalProducer(TransactionalProducer):
    def open(self):
        # delivery_timeout_ms: kafka-python 3.0 can stop retrying
        # AddPartitionsToTxn after its coordinator dies until its batches
        # expire (see transaction() for what it then reports); 30 s bounds
        # that stall.
        producer = KafkaProducer(
            bootstrap_servers=self.bootstrap, client_id=self.name, transactional_id=self.name,
            transaction_timeout_ms=20000, linger_ms=5, request_timeout_ms=10000,
            delivery_timeout_ms=30000, max_block_ms=60000)
        try:
            producer.init_transactions()
        except Exception:
            producer.close(1)
            raise
        return producer

    def discard(self) -> None:
        self.producer.close(1)
        self.producer = None

    def transaction(self, values, partitions, intent) -> tuple[str, str | None]:
        """kafka-python raises from commit_transaction on most failures; an
        abort that the coordinator then confirms means nothing committed.
        But kafka-python 3.0 commits a transaction whose batches expired
        unsent (Kafka's own client aborts it): such a commit's outcome is
        unknown for the records that failed."""
        producer = self.producer
        try:
            producer.begin_transaction()
            sends = [producer.send(self.topic, value=value.encode(), partition=partition)
                     for value, partition in zip(values, partitions)]
            if intent == "abort":
                producer.flush(30)
                producer.abort_transaction()
                return "aborted", None
            producer.commit_transaction()
            failed = [repr(send.exception) for send in sends if send.failed()]
            if failed:
                return "unknown", f"commit reported although sends failed: {failed[0]}"
            return "committed", None
        except KpError as error:
            try:
                producer.abort_transaction()
                return "aborted", repr(error)
            except Exception as abort_error:
                return "unknown", f"{error!r}; abort: {abort_error!r}"


# ---------------------------------------------------------------------------
# group consumers
# ---------------------------------------------------------------------------

class GroupConsumer(Worker):
    """One member of the group at a time under this name: consumes both
    topics read_committed, commits the next offset of each partition it
    consumed from (periodically, before closing, and when partitions are
    revoked where the client allows it), and closes and reopens itself at
    random intervals."""

    COMMITS_WHEN_REVOKED = True

    def __init__(self, name: str, history: History, bootstrap: str, group: str,
                 topics: list[str], load: Load, seed: int):
        super().__init__(name, history)
        self.bootstrap = bootstrap
        self.group = group
        self.topics = topics
        self.load = load
        self.rng = random.Random(seed)
        # (topic, partition) -> next offset to commit, for owned partitions
        self.uncommitted: dict[tuple[str, int], int] = {}

    def work(self) -> None:
        instance = 0
        while not self.stopping.is_set():
            instance += 1
            self.open(f"{self.name}-{instance}")
            self.history.record("consumer_opened", client=self.name, instance=instance)
            until = time.monotonic() + self.rng.uniform(*self.load.consumer_restart_s)
            committed_at = time.monotonic()
            while not self.stopping.is_set() and time.monotonic() < until:
                self.poll()
                if time.monotonic() - committed_at >= self.load.commit_interval_s:
                    self.commit(list(self.uncommitted))
                    committed_at = time.monotonic()
            self.commit(list(self.uncommitted))
            self.close()
            self.uncommitted.clear()
            self.history.record("consumer_closed", client=self.name, instance=instance)

    def consumed_one(self, topic: str, partition: int, offset: int, value: bytes | None) -> None:
        self.progress += 1
        self.history.record("consume", client=self.name, topic=topic, partition=partition,
                            offset=offset,
                            value=None if value is None else value.decode("utf-8", "replace"))
        self.uncommitted[(topic, partition)] = offset + 1

    def assigned(self, partitions: list[tuple[str, int]]) -> None:
        self.history.record("assign", client=self.name, partitions=sorted(partitions))

    def revoked(self, partitions: list[tuple[str, int]], lost: bool) -> None:
        if not lost and self.COMMITS_WHEN_REVOKED:
            self.commit(partitions)
        for tp in partitions:
            self.uncommitted.pop(tp, None)
        self.history.record("lost" if lost else "revoke", client=self.name,
                            partitions=sorted(partitions))

    def commit(self, partitions) -> None:
        offsets = {tp: self.uncommitted[tp] for tp in partitions if tp in self.uncommitted}
        if not offsets:
            return
        try:
            accepted, refused = self.commit_offsets(offsets)
        except Exception as error:
            self.history.record("commit_failed", client=self.name,
                                offsets=_listed(offsets), error=repr(error))
            return
        if accepted:
            self.history.record("commit", client=self.name, offsets=_listed(accepted))
            for tp, offset in accepted.items():
                if self.uncommitted.get(tp) == offset:
                    del self.uncommitted[tp]
        if refused:
            self.history.record("commit_failed", client=self.name, offsets=_listed(refused),
                                error="refused per partition")


def _listed(offsets: dict) -> list:
    return sorted([topic, partition, offset] for (topic, partition), offset in offsets.items())


class ConfluentGroupConsumer(GroupConsumer):
    def open(self, client_id: str) -> None:
        self.consumer = Consumer({
            "bootstrap.servers": self.bootstrap, "client.id": client_id, "group.id": self.group,
            "isolation.level": "read_committed", "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 1000,
            "logger": LIBRDKAFKA_LOG,
            "error_cb": lambda error: self.history.record(
                "client_error", client=self.name, error=str(error), fatal=error.fatal())})
        parts = lambda ps: [(p.topic, p.partition) for p in ps]  # noqa: E731
        self.consumer.subscribe(
            self.topics,
            on_assign=lambda _, ps: self.assigned(parts(ps)),
            on_revoke=lambda _, ps: self.revoked(parts(ps), lost=False),
            on_lost=lambda _, ps: self.revoked(parts(ps), lost=True))

    def poll(self) -> None:
        message = self.consumer.poll(0.2)
        if message is None:
            return
        if message.error():
            if message.error().code() != KafkaError._PARTITION_EOF:
                self.history.record("client_error", client=self.name,
                                    error=str(message.error()), fatal=message.error().fatal())
            return
        self.consumed_one(message.topic(), message.partition(), message.offset(),
                          message.value())

    def commit_offsets(self, offsets: dict) -> tuple[dict, dict]:
        result = self.consumer.commit(
            offsets=[CfPartition(t, p, o) for (t, p), o in offsets.items()],
            asynchronous=False)
        accepted = {(r.topic, r.partition): r.offset for r in result if r.error is None}
        refused = {(r.topic, r.partition): r.offset for r in result if r.error is not None}
        return accepted, refused

    def close(self) -> None:
        self.consumer.close()


class KafkaPythonGroupConsumer(GroupConsumer):
    # kafka-python 3 calls rebalance listeners on its I/O thread, where a
    # synchronous commit cannot run ("Cannot block on net.run() from the IO
    # thread itself").
    COMMITS_WHEN_REVOKED = False

    def open(self, client_id: str) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap, client_id=client_id, group_id=self.group,
            isolation_level="read_committed", enable_auto_commit=False,
            auto_offset_reset="earliest", session_timeout_ms=10000,
            heartbeat_interval_ms=1000, request_timeout_ms=15000)
        member = self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_assigned(self, assigned):
                member.assigned([(p.topic, p.partition) for p in assigned])

            def on_partitions_revoked(self, revoked):
                member.revoked([(p.topic, p.partition) for p in revoked], lost=False)

            def on_partitions_lost(self, lost):
                member.revoked([(p.topic, p.partition) for p in lost], lost=True)

        self.consumer.subscribe(self.topics, listener=Listener())

    def poll(self) -> None:
        try:
            batches = self.consumer.poll(timeout_ms=200)
        except KpError as error:
            self.history.record("client_error", client=self.name, error=repr(error),
                                fatal=False)
            return
        for records in batches.values():
            for record in records:
                self.consumed_one(record.topic, record.partition, record.offset, record.value)

    def commit_offsets(self, offsets: dict) -> tuple[dict, dict]:
        self.consumer.commit(
            offsets={KpPartition(t, p): OffsetAndMetadata(o, "", -1)
                     for (t, p), o in offsets.items()},
            timeout_ms=10000)
        return dict(offsets), {}

    def close(self) -> None:
        self.consumer.close()
