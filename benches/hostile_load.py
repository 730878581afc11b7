#!/usr/bin/env python3
"""The hostile load of compat-tests/python/hostile_load.py, at any scale and
for any time, against a broker it starts: prints what was opened, what the
broker closed, the probe's rounds and worst round trip, and the broker's
VmRSS before and at its peak.

    benches/hostile_load.py [--bin target/release/gregor] [--scale 10] [--seconds 120]
                            [--idle-ms 30000] [--topic-mb 2]

Needs the compat-tests Python environment (confluent-kafka for the topic):
target/compat-venv/bin/python benches/hostile_load.py ...
"""

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "compat-tests", "python"))

import hostile_load  # noqa: E402
from conftest import free_port  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "gregor"))
    parser.add_argument("--scale", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--idle-ms", type=int, default=30_000)
    parser.add_argument("--topic-mb", type=float, default=2)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    port = free_port()
    data = tempfile.mkdtemp(prefix="gregor-hostile-")
    broker = subprocess.Popen(
        [args.bin, "broker", "--override", f"listeners=PLAINTEXT://127.0.0.1:{port}",
         "--override", f"log.dirs={data}",
         "--override", f"connections.max.idle.ms={args.idle_ms}"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(data, "broker.log"), "wb"),
        env=dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn")))
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
        admin.create_topics([NewTopic("hostile", num_partitions=2, replication_factor=1)])[
            "hostile"].result(15)
        batches = max(1, int(args.topic_mb * 10))
        hostile_load.fill_topic("127.0.0.1", port, "hostile", batches, 100_000)
        started = time.monotonic()
        report, baseline, peak = hostile_load.run("127.0.0.1", port, broker.pid, "hostile",
                                                  args.scale, args.seconds, args.idle_ms)
        print(f"ran {time.monotonic() - started:.1f} s at scale {args.scale}")
        print(f"opened:           {report.opened}")
        print(f"closed by broker: {report.closed_by_broker}")
        print(f"churned:          {report.churned} connections")
        print(f"probe:            {report.probe_rounds} rounds, worst {report.probe_worst_s * 1000:.1f} ms")
        print(f"VmRSS:            {baseline} KiB before, peak {peak} KiB (+{peak - baseline} KiB)")
        print(f"broker alive:     {broker.poll() is None}")
    finally:
        broker.kill()
        broker.wait()


if __name__ == "__main__":
    main()
