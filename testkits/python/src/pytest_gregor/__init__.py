"""pytest-gregor: pytest fixtures that run gregor, a Kafka-wire-compatible
broker, for application tests, and drive its fault plane.

Fixtures (from the plugin, once the package is installed): `gregor_broker`,
`gregor_broker_factory`, `gregor_cluster`, `gregor_cluster_factory`,
`gregor_bin`. Outside pytest, `GregorBroker.start()` and
`GregorCluster.start()` are context managers."""

from .broker import GregorBroker
from .cluster import GregorCluster
from .errors import GregorAdminError, GregorError, GregorStartError, GregorTimeout
from .process import GregorProcess, find_binary
from .schema import (After, BrokerState, ClientCutMode, Clock, Fault, FaultAction, JournalEntry,
                     LintFinding, PartitionState)
from .wait import wait_for

__all__ = [
    "After", "BrokerState", "ClientCutMode", "Clock", "Fault", "FaultAction", "GregorAdminError",
    "GregorBroker", "GregorCluster", "GregorError", "GregorProcess", "GregorStartError",
    "GregorTimeout", "JournalEntry", "LintFinding", "PartitionState", "find_binary", "wait_for",
]
