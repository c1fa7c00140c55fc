"""`lava demo` as a new user runs it: a real process, its own fakes, a week of history."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from lava_server.demo import HISTORY, FastClock
from tests.dashboard.conftest import csrf_of
from tests.e2e.servers import LAVA, clean_env, free_port, lava_cli

pytestmark = pytest.mark.slow


def _read(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)


def test_demo_fills_a_week_serves_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {**clean_env(), "COLUMNS": "200"}
    started = time.monotonic()
    process = subprocess.Popen(
        [LAVA, "demo", "--minutes", "0.2", "--port", str(port), "--dir", str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=_read, args=(process, lines), daemon=True)
    reader.start()
    try:
        while "Serving until Ctrl-C." not in "".join(lines):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() - started < 120, "".join(lines)
            time.sleep(0.2)
        text = "".join(lines)
        assert "Traceback" not in text, text
        link = re.search(r"Dashboard sign-in link.*: (http://\S+/dashboard/sign-in/link/\S+)", text)
        base = re.search(r"API base URL: (http://\S+/v1/)", text)
        key = re.search(r"Secret key \(sandbox\): (aks_test_\S+)", text)
        assert link and base and key, text
        assert base.group(1) == f"http://127.0.0.1:{port}/v1/"
        assert re.search(r"Secret key \(live, .*\): aks_live_\S+", text), text
        assert "/embed/checkout/css_live_" in text or "/embed/checkout/" in text

        # The printed curl snippet works as printed.
        curl = next(line for line in text.splitlines() if line.startswith("curl -s "))
        answer = subprocess.run(curl, shell=True, capture_output=True, text=True, timeout=30)
        assert answer.returncode == 0 and '"con_test_' in answer.stdout, answer
        # And so does the Python one.
        python = text.split("Python:\n", 1)[1].split("\nEOF", 1)[0].split("\n", 1)[1]
        ran = subprocess.run(
            [sys.executable, "-c", python], capture_output=True, text=True, timeout=30
        )
        assert ran.returncode == 0 and len(ran.stdout.splitlines()) >= 8, ran

        secret = {"Authorization": f"Bearer {key.group(1)}"}
        with httpx.Client(base_url=base.group(1), headers=secret, timeout=30) as api:
            customers = api.get("customers", params={"limit": 100}).json()
            assert len(customers["data"]) == 20
            start = (datetime.now(timezone.utc) - timedelta(days=8)).date().isoformat()
            usage = api.get("usage", params={"start": f"{start}T00:00:00Z"}).json()
            busy_days = [day for day in usage["items"] if day["total_requests"] > 0]
            assert len(busy_days) >= 7, usage["items"]
            assert usage["totals"]["total_requests"] >= 100
            # Both modes work: a live key creates a live checkout (live mode is configured).
            live = re.search(r"aks_live_\S+", text)
            assert live is not None
            live_customers = api.get(
                "customers", headers={"Authorization": f"Bearer {live.group(0)}"}
            )
            assert live_customers.status_code == 200
            assert len(live_customers.json()["data"]) == 1

        # The dashboard sign-in link signs in.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as browser:
            path = link.group(1).removeprefix(f"http://127.0.0.1:{port}")
            page = browser.get(path)
            assert page.status_code == 200
            used = browser.post(path, data={"csrf_token": csrf_of(page.text)})
            assert used.status_code == 303, used.text
            overview = browser.get("/dashboard/test/")
            assert overview.status_code == 200
            assert "sign-in" not in str(overview.url)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        status = process.wait(timeout=30)
        reader.join(10)
    output = "".join(lines)
    assert status == 0, output
    assert "Traceback" not in output, output
    assert "Stopping the demo." in output
    # Nothing of it is left: the API and the three fakes no longer listen.
    fakes = re.findall(r"(?:AI provider|Stripe|Twilio) (http://127\.0\.0\.1:\d+)", output)
    assert len(fakes) == 3, output
    for url in [f"http://127.0.0.1:{port}/v1/", *fakes]:
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2)

    checked = lava_cli("ledger", "check", "--database-url", f"sqlite:///{tmp_path}/lava-demo.db")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "clean" in checked.stdout


def test_demo_exit_ends_by_itself(tmp_path: Path) -> None:
    port = free_port()
    done = subprocess.run(
        [LAVA, "demo", "--exit", "--minutes", "0.1", "--port", str(port), "--dir", str(tmp_path)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Serving until Ctrl-C." not in done.stdout
    assert "Lava demo ready" in done.stdout
    assert os.path.exists(tmp_path / "lava-demo.db")


def test_ctrl_c_during_the_traffic_stops_cleanly_and_leaves_a_clean_ledger(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [LAVA, "demo", "--minutes", "1", "--port", str(port), "--dir", str(tmp_path)],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the traffic flows
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/", timeout=1).status_code:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    assert "Stopping the demo." in output
    checked = lava_cli("ledger", "check", "--database-url", f"sqlite:///{tmp_path}/lava-demo.db")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_busy_port_is_refused_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [LAVA, "demo", "--exit", "--port", str(port), "--dir", str(tmp_path)],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert f"Port {port} is already in use" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_the_demo_clock_waits_for_the_setup_then_covers_the_whole_week() -> None:
    """A slow setup (a loaded machine) does not eat the history's first day: the clock stands
    at seven days ago until the traffic starts, then runs to the real time in `span` seconds."""
    clock = FastClock(span=0.5)
    clock.begin()
    week_ago = datetime.now(timezone.utc) - HISTORY
    time.sleep(0.3)  # the setup: at this speed, 0.3 s would be four days
    assert abs(clock() - week_ago) < timedelta(seconds=1)
    clock.run()
    assert abs(clock() - (datetime.now(timezone.utc) - HISTORY)) < timedelta(hours=2)
    seen = [clock()]
    while clock.elapsed() < 0.6:
        seen.append(clock())
        time.sleep(0.01)
    assert seen == sorted(seen)  # never backwards
    assert datetime.now(timezone.utc) - seen[-1] < timedelta(seconds=1)  # caught up
    days = {moment.date() for moment in seen}
    assert len(days) >= 7
