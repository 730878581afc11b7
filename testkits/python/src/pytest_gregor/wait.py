"""Polling until a condition holds: a cluster elects leaders, fences brokers
and shrinks ISRs on its own time."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from .errors import GregorTimeout

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, what: str = "the condition",
             interval: float = 0.1) -> T:
    """Calls `predicate` every `interval` seconds until it returns something
    truthy, and returns that; raises GregorTimeout naming `what` (and the
    last value seen) after `timeout` seconds. An exception the predicate
    raises is not retried: it propagates at once.

        leader = wait_for(lambda: cluster.leader_of("orders", 0), 30, "a leader of orders-0")
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise GregorTimeout(f"gave up after {timeout:g} s waiting for {what} "
                                f"(last value: {value!r})")
        time.sleep(interval)
