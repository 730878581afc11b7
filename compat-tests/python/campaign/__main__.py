"""`python -m campaign --rounds 100`: the long campaign, run on demand
(from compat-tests/python, as root, with GREGOR_BIN pointing at a built
gregor). Prints each round and the checker's report; exits non-zero on
any anomaly."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile

from .checker import anomaly_count
from .nemesis import FAULTS
from .network import unavailable_reason
from .runner import run
from .workload import Load


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m campaign")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="output folder (default: a new temporary one)")
    parser.add_argument("--faults", default=",".join(FAULTS),
                        help=f"comma-separated subset of {','.join(FAULTS)}")
    parser.add_argument("--hold", type=float, nargs=2, default=(1.0, 6.0),
                        metavar=("MIN_S", "MAX_S"), help="how long each fault lasts")
    parser.add_argument("--rate", type=float, default=Load.records_per_second,
                        help="records/s per idempotent producer")
    parser.add_argument("--txn-rate", type=float, default=Load.transactions_per_second,
                        help="transactions/s per transactional producer")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    faults = tuple(f for f in args.faults.split(",") if f)
    unknown = set(faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults {sorted(unknown)}")
    out = args.out or tempfile.mkdtemp(prefix="gregor-campaign-")
    print(f"output in {out}", flush=True)
    report = run(args.rounds, out, seed=args.seed, faults=faults, hold_s=tuple(args.hold),
                 load=Load(records_per_second=args.rate,
                           transactions_per_second=args.txn_rate),
                 log=lambda line: print(line, flush=True))
    print(json.dumps(report, indent=2))
    return 1 if anomaly_count(report) else 0


if __name__ == "__main__":
    sys.exit(main())
