"""The benchmarks still run: each one, tiny, on SQLite (they start real `lava serve` processes
and check the ledger at the end). Their figures are not checked here, only that they complete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.servers import clean_env

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        (
            "ingest.py",
            [
                "--databases",
                "sqlite",
                "--workers",
                "1",
                "--requests",
                "300",
                "--usage-requests",
                "500",
                "--usage-calls",
                "5",
            ],
            "Ledger: ",
        ),
        ("proxy.py", ["--databases", "sqlite", "--calls", "10", "--sustained", "100"], "clean"),
        (
            "spend_keys.py",
            ["--databases", "sqlite", "--calls", "10", "--sustained", "128"],
            "spend key adds",
        ),
        ("sdk.py", ["--calls", "20", "--rounds", "1"], "AsyncLava"),
        ("dashboard.py", ["--requests", "2000", "--calls", "3"], "Customer "),
        ("charge.py", ["--databases", "sqlite", "--calls", "20"], "CPU per settlement"),
        (
            "lookups.py",
            ["--databases", "sqlite", "--stored", "2000", "--connections", "20", "--rounds", "3"],
            "before/now",
        ),
        (
            "webhooks.py",
            ["--databases", "sqlite", "--requests", "300", "--events", "20", "--endpoints", "2"],
            "deliveries",
        ),
    ],
)
def test_the_benchmark_runs(script: str, args: list[str], expected: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        cwd=BENCH,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert expected in done.stdout, done.stdout[-3000:]
