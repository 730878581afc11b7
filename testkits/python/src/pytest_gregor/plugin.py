"""The pytest plugin (registered through the `pytest11` entry point): the
`--gregor-bin` option, the fixtures, and the broker logs attached to the
report of a failing test.

Every fixture is function-scoped: a dev broker starts in tens of
milliseconds, and a fresh one gives each test its own faults, journal,
linter findings and clock (time travel only moves forward), and a cluster
whose brokers no earlier test killed. Nothing starts unless a test asks
for one of these fixtures."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Iterator, List, Mapping, Optional

import pytest

from .broker import GregorBroker
from .cluster import GregorCluster
from .errors import GregorError
from .process import (STARTUP_TIMEOUT_S, GregorProcess, OverrideValue, find_binary,
                      running_processes)

BrokerFactory = Callable[..., GregorBroker]
ClusterFactory = Callable[..., GregorCluster]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gregor", "gregor broker fixtures (pytest-gregor)")
    group.addoption("--gregor-bin", dest="gregor_bin", default=None, metavar="PATH",
                    help="the gregor binary the fixtures run, if $GREGOR_BIN is not set "
                         "(default: gregor on PATH)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Adds the log tail of every running broker to a failing test's report
    (shown with the failure, like captured output)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call"):
        for process in running_processes():
            report.sections.append(
                (f"Captured gregor stderr: {process.name} (full log: {process.log_path})",
                 process.log_tail()))


@pytest.fixture(scope="session")
def gregor_bin(pytestconfig: pytest.Config) -> str:
    """The gregor executable: $GREGOR_BIN, else --gregor-bin, else gregor on PATH."""
    return find_binary(pytestconfig.getoption("gregor_bin"))


@pytest.fixture
def gregor_broker_factory(gregor_bin: str, request: pytest.FixtureRequest,
                          tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerFactory]:
    """Starts dev brokers with your settings; all are stopped after the test.

        def test_three_partitions(gregor_broker_factory):
            broker = gregor_broker_factory({"num.partitions": 3}, emulate_kafka="3.6")
    """
    started: List[GregorProcess] = []
    log_dir = _log_dir(request, tmp_path_factory)

    def start(overrides: Optional[Mapping[str, OverrideValue]] = None, *,
              emulate_kafka: Optional[str] = None,
              startup_timeout: float = STARTUP_TIMEOUT_S) -> GregorBroker:
        broker = GregorBroker.start(overrides, binary=gregor_bin, emulate_kafka=emulate_kafka,
                                    log_dir=log_dir(), startup_timeout=startup_timeout)
        started.append(broker)
        return broker

    yield start
    _shut_down(started)


@pytest.fixture
def gregor_broker(gregor_broker_factory: BrokerFactory) -> GregorBroker:
    """A dev broker with its fault plane, fresh for each test."""
    return gregor_broker_factory()


@pytest.fixture
def gregor_cluster_factory(gregor_bin: str, request: pytest.FixtureRequest,
                           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterFactory]:
    """Starts dev clusters with your settings; all are stopped after the test.

        cluster = gregor_cluster_factory({"min.insync.replicas": 2}, brokers=3)
    """
    started: List[GregorProcess] = []
    log_dir = _log_dir(request, tmp_path_factory)

    def start(overrides: Optional[Mapping[str, OverrideValue]] = None, *, brokers: int = 3,
              emulate_kafka: Optional[str] = None,
              startup_timeout: float = STARTUP_TIMEOUT_S) -> GregorCluster:
        cluster = GregorCluster.start(overrides, brokers=brokers, binary=gregor_bin,
                                      emulate_kafka=emulate_kafka, log_dir=log_dir(),
                                      startup_timeout=startup_timeout)
        started.append(cluster)
        return cluster

    yield start
    _shut_down(started)


@pytest.fixture
def gregor_cluster(gregor_cluster_factory: ClusterFactory) -> GregorCluster:
    """A dev cluster of three brokers with its fault plane, fresh for each test."""
    return gregor_cluster_factory()


def _log_dir(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    """The directory for a test's broker logs, made when the first broker
    starts: under pytest's base temporary directory, which pytest keeps
    after the run (the last few runs)."""
    made: List[Path] = []

    def get() -> Path:
        if not made:
            name = re.sub(r"[^\w.-]", "_", request.node.name)[:40]
            made.append(tmp_path_factory.mktemp(f"gregor-{name}", numbered=True))
        return made[0]

    return get


def _shut_down(started: List[GregorProcess]) -> None:
    """Stops every process; an error naming those that did not stop cleanly
    (exit code not 0: a crash, or no exit within 20 s of SIGTERM)."""
    unclean = []
    for process in reversed(started):
        if process.shutdown() != 0:
            unclean.append(f"{process.describe_exit()}; log: {process.log_path}\n"
                           f"{process.log_tail()}")
    if unclean:
        raise GregorError("\n\n".join(unclean))
