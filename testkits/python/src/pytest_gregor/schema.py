"""The shapes of the admin listeners' JSON answers, as TypedDicts: plain
dicts at run time, checked by a type checker and shown by an IDE."""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, TypedDict, Union

ClientCutMode = Literal["refuse", "black_hole"]
"""How a broker is cut off from its clients: `refuse` closes their
connections at their next request, `black_hole` leaves their requests
unanswered until healed."""

FaultAction = Union[Literal["disconnect"], Dict[str, int]]
"""What a fault does: `{"error": code}`, `{"latency_ms": n}`,
`{"throttle_ms": n}` or `"disconnect"` (handle, then cut mid-response)."""


class After(TypedDict):
    """A fault's schedule: it applies once `records` more records have been
    appended to `topic`, counted from when it was armed."""

    topic: str
    records: int


class _FaultFields(TypedDict):
    id: int
    api: str
    topic: Optional[str]
    partition: Optional[int]
    client_id: Optional[str]
    action: FaultAction
    count: int


class Fault(_FaultFields, total=False):
    """An armed fault; `count` is how many more requests it will match.
    Exhausted faults are no longer listed."""

    after: After


class JournalEntry(TypedDict):
    """One request the broker answered. `fault` is what the fault plane did
    to it, in the shape it was armed with (`{"error": 6}`, `"disconnect"`,
    `{"latency_ms": 500}`, `{"throttle_ms": 700}`), or None."""

    api: str
    version: int
    client_id: str
    correlation_id: int
    latency_us: int
    error_code: int
    fault: Optional[Union[str, Dict[str, int]]]


class LintFinding(TypedDict):
    """What the client-behaviour linter found about one client id: the rule,
    a message, the evidence (counts and examples) and the setting that fixes
    it."""

    client_id: str
    rule: str
    message: str
    evidence: Dict[str, Any]
    fix: str


class Clock(TypedDict):
    """The broker process's clock: `now_ms` since the epoch, `offset_ms` how
    far time travel has moved it ahead of real time."""

    now_ms: int
    offset_ms: int


class BrokerState(TypedDict):
    """One broker of a dev cluster."""

    node_id: int
    address: str
    running: bool
    isolated: bool
    clients_cut: Optional[ClientCutMode]


class PartitionState(TypedDict):
    """A partition's leader and ISR as the brokers that are not isolated
    agree on them (`leader` None while there is none)."""

    leader: Optional[int]
    isr: List[int]
