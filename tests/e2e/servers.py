"""Running `lava` as real processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

LAVA = str(Path(sys.executable).with_name("lava"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LAVA_")}


def start_server(
    database_url: str, port: int, cwd: Path, extra_args: tuple[str, ...] = ()
) -> tuple[subprocess.Popen[str], list[str]]:
    """`lava serve` on `port`; returns once it accepts connections, with what it printed."""
    process = subprocess.Popen(
        [LAVA, "serve", "--port", str(port), "--database-url", database_url, *extra_args],
        cwd=cwd,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 30
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Uvicorn running on" in line:  # listening (startup complete comes just before)
            return process, lines
    process.kill()
    raise AssertionError("server did not start:\n" + "".join(lines))


def stop_server(process: subprocess.Popen[str]) -> str:
    """SIGTERM, and the clean exit (status 0) it must lead to."""
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    return output


def lava_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAVA, *args], env=clean_env(), capture_output=True, text=True, timeout=60, check=False
    )
