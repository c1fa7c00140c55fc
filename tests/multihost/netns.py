"""Linux network namespaces as separate hosts: a bridge in the root namespace and, per host, a
namespace joined to it by a veth pair, with its own address on a /24 of its own."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=20)


def why_not() -> str | None:
    """None when network namespaces can be made here, else why not."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"lavaprobe{uuid.uuid4().hex[:6]}"
    made = ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return None


def _free_subnet() -> str:
    used = ip("-4", "addr").stdout
    while True:
        prefix = f"10.{random.randint(200, 250)}.{random.randint(0, 255)}"
        if f" {prefix}." not in used:
            return prefix


@dataclass
class Network:
    """`hosts` namespaces; the root namespace is `gateway` on the bridge. Names carry a tag of
    this run, so runs side by side never meet; `destroy` removes everything, and is safe to
    call after a partial `create`."""

    hosts: int
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    prefix: str = field(default_factory=_free_subnet)
    made: list[str] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"lvb{self.tag}"

    @property
    def gateway(self) -> str:
        return f"{self.prefix}.1"

    def namespace(self, index: int) -> str:
        return f"lavahost{self.tag}-{index}"

    def address(self, index: int) -> str:
        return f"{self.prefix}.{11 + index}"

    def create(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        self.made.append("bridge")
        ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for index in range(self.hosts):
            namespace, outside, inside = (
                self.namespace(index),
                f"lv{self.tag}h{index}",
                f"lv{self.tag}n{index}",
            )
            ip("netns", "add", namespace)
            self.made.append(namespace)
            ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            ip("link", "set", inside, "netns", namespace)
            ip("link", "set", outside, "master", self.bridge)
            ip("link", "set", outside, "up")
            inner = ("netns", "exec", namespace, "ip")
            ip(*inner, "addr", "add", f"{self.address(index)}/24", "dev", inside)
            ip(*inner, "link", "set", inside, "up")
            ip(*inner, "link", "set", "lo", "up")

    def run(self, index: int, command: list[str]) -> list[str]:
        """`command` as run on host `index`."""
        return ["ip", "netns", "exec", self.namespace(index), *command]

    def destroy(self) -> None:
        for name in reversed(self.made):
            if name == "bridge":
                ip("link", "del", self.bridge, check=False)
            else:  # deleting a namespace deletes its end of the veth pair, and so the pair
                ip("netns", "del", name, check=False)
        self.made.clear()
