#!/usr/bin/env python3
"""Soak: N rounds (default 100) of SIGKILL to a partition leader of a
three-broker cluster under acks=all load; prints each round and a summary,
and exits non-zero on any acknowledged loss, duplicate or replica
divergence. Run from compat-tests/python with GREGOR_BIN pointing at a
built gregor:  python soak_kill_leaders.py --rounds 100
"""

from __future__ import annotations

import argparse
import sys

from conftest import start_cluster, wait_for_brokers
from leader_kills import run_rounds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    cluster = start_cluster(3, {"broker.session.timeout.ms": "3000",
                                "broker.heartbeat.interval.ms": "500",
                                "replica.lag.time.max.ms": "10000"})
    try:
        wait_for_brokers(cluster)
        outcome = run_rounds(cluster, args.rounds, log=lambda line: print(line, flush=True))
    finally:
        for broker in cluster:
            broker.cleanup()
    print(outcome)
    ok = (outcome["failed"] == outcome["unflushed"] == outcome["lost"]
          == outcome["duplicates"] == outcome["misplaced"] == 0 and outcome["identical_replicas"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
