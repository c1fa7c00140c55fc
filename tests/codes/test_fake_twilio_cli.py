"""`lava fake-twilio`: a process serving the fake Twilio with the account given on the command
line, which the `twilio` code sender talks to."""

from __future__ import annotations

import subprocess
import time

import httpx

from lava_server.payments.code_senders import Phone
from lava_server.payments.twilio import TwilioSender
from tests.e2e.servers import LAVA, clean_env, free_port

SID = "AC" + "ab" * 16


async def test_lava_fake_twilio_serves_the_messages_api() -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            LAVA,
            "fake-twilio",
            "--port",
            str(port),
            "--account-sid",
            SID,
            "--auth-token",
            "tok",
            "--from",
            "+15017122661",
        ],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/_fake/health").json() == {"ok": True}:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "lava fake-twilio did not start"
            time.sleep(0.1)
        sender = TwilioSender(SID, "tok", "+15017122661", live=True, base_url=url)
        await sender.send(Phone("+14155550100"), "123456 is your code", livemode=True)
        [message] = httpx.get(f"{url}/_fake/messages").json()["messages"]
        assert message["account_sid"] == SID and message["from"] == "+15017122661"
        assert message["body"] == "123456 is your code"
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=20)
    assert f"Fake Twilio on {url}" in out and "LAVA_TWILIO_BASE_URL" in out
