#!/usr/bin/env python3
"""Writes the link order of gregor's functions: what a start runs first.

A release build links the functions named in `build/symbol-order.txt` first,
in that order (lld's `--symbol-ordering-file`, passed by `build.rs`), and
every other function after them. Without it, the code a start and an idle
broker run is spread over the whole 14 MB of text, and each page fault maps
64 KiB around it (the kernel's fault-around), so the broker's resident set
and its start-up page faults count mostly code it never runs.

This script records which functions run, with `valgrind --tool=callgrind`
on a release build (symbols kept, `debug = 1`):

1. `BIN broker --dev --port 0` and BIN in normal mode (a fresh `log.dirs`),
   each until its first Metadata is answered and one idle second more;
2. then, on the normal-mode broker, a short produce and consume with
   `gregor-bench` (librdkafka), so that the data path comes next.

    benches/symbol_order.py --bin target/release/gregor \
        --bench target/rdkafka/debug/gregor-bench [--out build/symbol-order.txt]
    benches/symbol_order.py --check target/release/gregor

`--check` says how many of the listed functions a build has (`benches/run.sh`
prints it after its release build).

The start's functions come first, then the data path's. lld skips names a
build no longer has. gregor's own mangled names carry a hash of the crate's
Cargo metadata, so they all change when a dependency does; and code changes
rename a few (closures, and functions LTO made local, which get a numbered
suffix). A function the list misses lands elsewhere and brings its 64 KiB
in: 25 missed names cost 0.8 MiB of idle RSS. Regenerate the list from a
release build before measuring (`--check` counts what a build still has).
"""

import argparse
import os
import re
import socket
import struct
import subprocess
import tempfile
import time

HEADER = """\
# The functions a gregor start runs, then those its data path runs: the
# release build links them first, and together (build.rs).
# Written by benches/symbol_order.py; regenerate it with that script.
"""


def metadata(port: int) -> None:
    # Metadata v1, all topics.
    body = struct.pack(">hhih", 3, 1, 1, 5) + b"order" + struct.pack(">i", -1)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", sock.recv(4, socket.MSG_WAITALL))[0]
        sock.recv(size, socket.MSG_WAITALL)


def wait_for_metadata(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the broker exited ({process.returncode}) before answering")
        try:
            metadata(port)
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the broker never answered Metadata")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def callgrind(out: str, command: list) -> subprocess.Popen:
    return subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--quiet", "--dump-instr=no", "--compress-strings=no",
         "--compress-pos=no", "--demangle=no", f"--callgrind-out-file={out}"] + command,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=dict(os.environ, RUST_LOG="warn"))


def dump(process: subprocess.Popen) -> None:
    """Writes what ran so far to a numbered file, and counts afresh."""
    subprocess.run(["callgrind_control", "--dump", str(process.pid)], check=True,
                   stdout=subprocess.DEVNULL)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def functions(path: str, binary: str) -> list:
    """The binary's functions that ran, in the order the dump lists them."""
    names, current_object = [], ""
    with open(path) as dump_file:
        for line in dump_file:
            if line.startswith("ob="):
                current_object = line[3:].strip()
            elif line.startswith("fn=") and os.path.realpath(current_object) == binary:
                # callgrind marks a recursion's deeper levels with 'N, and
                # names code outside any symbol by its address.
                name = re.sub(r"'\d+$", "", line[3:].strip())
                if not name.startswith("0x"):
                    names.append(name)
    return names


def check(binary: str, order: str) -> None:
    listed = [line.strip() for line in open(order) if line.strip() and not line.startswith("#")]
    symbols = subprocess.run(["nm", "--defined-only", binary], check=True, capture_output=True,
                             text=True).stdout
    defined = {line.split()[-1] for line in symbols.splitlines() if line.strip()}
    found = sum(name in defined for name in listed)
    print(f"symbol order: {found} of the {len(listed)} functions {order} lists are in {binary}")
    if found < 0.8 * len(listed):
        print("  fewer than 80%: regenerate it (benches/symbol_order.py) for a compact start")


def main() -> None:
    order = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "build",
                                          "symbol-order.txt"))
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin")
    parser.add_argument("--bench", help="gregor-bench, for the data path")
    parser.add_argument("--out", default=order)
    parser.add_argument("--check", metavar="BIN", help="count the listed functions BIN has")
    args = parser.parse_args()
    if args.check:
        check(args.check, args.out)
        return
    if not args.bin or not args.bench:
        parser.error("--bin and --bench are needed to write the list")
    binary = os.path.realpath(args.bin)
    with tempfile.TemporaryDirectory(prefix="gregor-order-") as work:
        # Dev mode: start, first Metadata, an idle second.
        dev_out = os.path.join(work, "dev.out")
        dev = callgrind(dev_out, [binary, "broker", "--dev", "--port", "0"])
        port = int(dev.stdout.readline().decode().strip().rsplit(":", 1)[1])
        wait_for_metadata(port, dev)
        time.sleep(1)
        stop(dev)

        # Normal mode: the same, then a dump, then the data path.
        port = free_port()
        listener = f"PLAINTEXT://127.0.0.1:{port}"
        normal_out = os.path.join(work, "normal.out")
        normal = callgrind(normal_out, [
            binary, "broker", "--override", f"listeners={listener}",
            "--override", f"advertised.listeners={listener}",
            "--override", f"log.dirs={os.path.join(work, 'data')}", "--override", "node.id=1"])
        wait_for_metadata(port, normal)
        time.sleep(1)
        dump(normal)
        subprocess.run([args.bench, "--bootstrap", f"127.0.0.1:{port}", "--messages", "5000",
                        "--size", "1024", "--latency-count", "200"],
                       check=True, stdout=subprocess.DEVNULL)
        stop(normal)

        dumps = sorted(name for name in os.listdir(work) if name.startswith("normal.out"))
        start = functions(dev_out, binary)
        data_path = []
        for name in dumps:
            # The first numbered dump is the start; the rest (the data path
            # and the shutdown) come after it.
            (start if name.endswith(".1") else data_path).extend(
                functions(os.path.join(work, name), binary))
    seen, ordered = set(), []
    for name in start + data_path:
        if name not in seen:
            seen.add(name)
            ordered.append(name)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as out:
        out.write(HEADER)
        out.writelines(name + "\n" for name in ordered)
    print(f"{len(ordered)} functions ({len(set(start))} at start) -> {args.out}")


if __name__ == "__main__":
    main()
