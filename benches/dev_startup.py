#!/usr/bin/env python3
"""Dev-mode cold start and idle memory of a gregor binary.

Starts `gregor broker --dev --port 0` N times and measures, from exec: the
first stdout line (the address), and the first Metadata response on a raw
socket. Then reads the idle resident set size after a second. Also times
`gregor --version`, which is what starting any process costs from here, so
the broker's own share can be told apart. Prints median and worst figures.

    benches/dev_startup.py [--bin target/release/gregor] [--runs 20] [--brokers 3]

With --brokers N it starts `--dev --brokers N` (a cluster in one process)
and times the bootstrap line and the first broker's first Metadata answer.

The Rust harness measures the same for one broker, and gregor in normal
mode too (`gregor-bench --cold-start BIN`, in `benches/run.sh --goals`);
this script stays for the one-process dev cluster and the figures already
published with it.
"""

import argparse
import os
import socket
import statistics
import struct
import subprocess
import time


def metadata_request() -> bytes:
    # Metadata v1, correlation id 1, client id "bench", all topics (null array).
    body = struct.pack(">hhih", 3, 1, 1, 5) + b"bench" + struct.pack(">i", -1)
    return struct.pack(">i", len(body)) + body


def first_metadata(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(metadata_request())
        size = struct.unpack(">i", sock.recv(4, socket.MSG_WAITALL))[0]
        sock.recv(size, socket.MSG_WAITALL)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "gregor"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--brokers", type=int, default=1)
    args = parser.parse_args()
    cluster = ["--brokers", str(args.brokers)] if args.brokers > 1 else []
    address_ms, metadata_ms, rss, baseline_ms = [], [], [], []
    for _ in range(args.runs):
        # What exec itself costs from here: the binary printing its version.
        start = time.perf_counter()
        subprocess.run([args.bin, "--version"], stdout=subprocess.DEVNULL, check=True)
        baseline_ms.append((time.perf_counter() - start) * 1000)
    for _ in range(args.runs):
        start = time.perf_counter()
        process = subprocess.Popen([args.bin, "broker", "--dev", "--port", "0", *cluster],
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env={**os.environ, "RUST_LOG": "warn"})
        line = process.stdout.readline().decode().strip()
        if ":" not in line:
            process.kill()
            raise SystemExit(f"no address printed; the broker said:\n{process.stderr.read().decode()}")
        address_ms.append((time.perf_counter() - start) * 1000)
        first_metadata(int(line.split(",")[0].rsplit(":", 1)[1]))
        metadata_ms.append((time.perf_counter() - start) * 1000)
        time.sleep(1.0)
        rss.append(rss_kib(process.pid))
        process.terminate()
        process.wait(10)
    print(f"binary: {os.path.realpath(args.bin)}, {args.runs} runs, {args.brokers} broker(s)")
    for name, values, unit in [("exec of `--version` alone", baseline_ms, "ms"),
                               ("address printed", address_ms, "ms"), ("first Metadata answered", metadata_ms, "ms"),
                               ("idle RSS after 1 s", [v / 1024 for v in rss], "MiB")]:
        print(f"{name:>26}: median {statistics.median(values):7.2f} {unit}, max {max(values):7.2f} {unit}")


if __name__ == "__main__":
    main()
