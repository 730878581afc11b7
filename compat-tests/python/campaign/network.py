"""The campaign's network: each broker in its own network namespace, joined
to the others and to the clients (which stay in the root namespace) by one
bridge, so that a link between any two of them can be cut and healed.

A cut poisons the neighbour (ARP) entry each side holds for the other with
an address no interface owns: frames between the two leave, reach no one
and are dropped without an error, as in a real partition. Established
connections stall and new ones time out, while every other pair keeps
talking. Healing deletes the entries and ARP finds the real ones again.
This needs root (CAP_NET_ADMIN) and iproute2, nothing else: no iptables,
no traffic-control modules, no proxies in the data path, and the brokers
keep their ordinary single listener, which every client and every other
broker uses, as in a real deployment.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess

CLIENTS = "clients"
"""The root namespace, where every client (and the campaign) runs."""

# Locally administered unicast address, owned by no interface.
NOWHERE_MAC = "02:00:5e:00:de:ad"


def unavailable_reason() -> str | None:
    """Why network namespaces cannot be used here, or None if they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "network namespaces need iproute2 (the ip command)"
    probe = f"gregor-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _run(*argv: str) -> None:
    done = subprocess.run(list(argv), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")


class Network:
    """Namespaces `<prefix>-<node>` on bridge `<prefix>br`, addresses
    10.213.<subnet>.<node>/24, the root namespace at .254."""

    def __init__(self, nodes: list[int]):
        self.nodes = list(nodes)
        token = f"{os.getpid() % 100000:05d}"
        self.prefix = f"gc{token}"          # interface names stay within 15 bytes
        self.subnet = self._free_subnet()
        self.bridge = f"{self.prefix}br"
        self.cuts: set[frozenset] = set()
        self._made_namespaces: list[str] = []
        self._made_links: list[str] = []

    @staticmethod
    def _free_subnet() -> str:
        routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
        free = [n for n in range(256) if f"10.213.{n}." not in routes]
        if not free:
            raise RuntimeError("no free 10.213.x.0/24 subnet")
        return f"10.213.{random.choice(free)}"

    # -- addressing -------------------------------------------------------
    def namespace(self, node: int) -> str:
        return f"{self.prefix}-{node}"

    def host(self, node: int | str) -> str:
        return f"{self.subnet}.254" if node == CLIENTS else f"{self.subnet}.{node}"

    def launcher(self, node: int) -> list[str]:
        """The argv prefix that runs a command inside the node's namespace
        (`ip netns exec` execs it, so the pid is the command's own)."""
        return ["ip", "netns", "exec", self.namespace(node)]

    def _device(self, node: int | str) -> str:
        return self.bridge if node == CLIENTS else "eth0"

    def _in(self, node: int | str, *argv: str) -> None:
        if node == CLIENTS:
            _run(*argv)
        else:
            _run(*self.launcher(node), *argv)

    # -- lifecycle ----------------------------------------------------------
    def create(self) -> "Network":
        try:
            _run("ip", "link", "add", self.bridge, "type", "bridge")
            self._made_links.append(self.bridge)
            _run("ip", "addr", "add", f"{self.host(CLIENTS)}/24", "dev", self.bridge)
            _run("ip", "link", "set", self.bridge, "up")
            for node in self.nodes:
                namespace = self.namespace(node)
                outside = f"{self.prefix}v{node}"
                _run("ip", "netns", "add", namespace)
                self._made_namespaces.append(namespace)
                _run("ip", "link", "add", outside, "type", "veth", "peer", "name", "eth0",
                     "netns", namespace)
                self._made_links.append(outside)
                _run("ip", "link", "set", outside, "master", self.bridge)
                _run("ip", "link", "set", outside, "up")
                self._in(node, "ip", "addr", "add", f"{self.host(node)}/24", "dev", "eth0")
                self._in(node, "ip", "link", "set", "eth0", "up")
                self._in(node, "ip", "link", "set", "lo", "up")
        except BaseException:
            self.destroy()
            raise
        return self

    def destroy(self) -> None:
        """Removes what create() made (its processes must have exited)."""
        for link in reversed(self._made_links):
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        for namespace in self._made_namespaces:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        self._made_links.clear()
        self._made_namespaces.clear()
        self.cuts.clear()

    def __enter__(self) -> "Network":
        return self.create()

    def __exit__(self, *exc) -> None:
        self.destroy()

    # -- faults -------------------------------------------------------------
    def cut(self, a: int | str, b: int | str) -> None:
        """Drops every frame between a and b (node ids or CLIENTS), both ways."""
        for here, there in ((a, b), (b, a)):
            self._in(here, "ip", "neigh", "replace", self.host(there), "lladdr", NOWHERE_MAC,
                     "nud", "permanent", "dev", self._device(here))
        self.cuts.add(frozenset((a, b)))

    def heal(self) -> None:
        """Restores every cut link."""
        for link in list(self.cuts):
            a, b = tuple(link)
            for here, there in ((a, b), (b, a)):
                self._in(here, "ip", "neigh", "del", self.host(there), "dev", self._device(here))
            self.cuts.discard(link)
