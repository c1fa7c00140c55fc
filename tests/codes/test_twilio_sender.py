"""The `twilio` code sender against the fake Twilio over real HTTP: a message as Twilio's API
takes it, each error the customer can act on, and one retry of a 429 or 5xx."""

from __future__ import annotations

import socket

import httpx
import pytest

from lava_server.payments.code_senders import TRY_AGAIN, CodeNotSent, Email, Phone
from lava_server.payments.interface import WrongMode
from lava_server.payments.twilio import BUSY, CANNOT_TEXT, INVALID_NUMBER, TwilioSender
from lava_server.testing.fake_twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, DEFAULT_FROM

TEXT = "123456 is your Shop verification code. It expires in 10 minutes."


def sender(url: str, *, token: str = DEFAULT_AUTH_TOKEN, origin: str = DEFAULT_FROM):
    return TwilioSender(DEFAULT_ACCOUNT_SID, token, origin, live=True, base_url=url, retry_delay=0)


async def test_a_code_is_a_twilio_message(twilio):
    await sender(twilio.url).send(Phone("+14155550100"), TEXT, livemode=True)
    [message] = twilio.messages()
    assert message["to"] == "+14155550100" and message["from"] == DEFAULT_FROM
    assert message["body"] == TEXT and message["status"] == "queued"
    assert message["sid"].startswith("SM") and len(message["sid"]) == 34
    # The message as Twilio's API reads it back, with the same credentials.
    fetched = httpx.get(
        f"{twilio.url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages/{message['sid']}.json",
        auth=(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN),
    )
    assert fetched.status_code == 200 and fetched.json()["body"] == TEXT


async def test_a_messaging_service_sends_instead_of_a_number(twilio):
    service = "MG" + "1" * 32
    await sender(twilio.url, origin=service).send(Phone("+14155550100"), TEXT, livemode=True)
    [message] = twilio.messages()
    assert message["messaging_service_sid"] == service and message["from"] is None


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("+15005550001", INVALID_NUMBER),  # 21211
        ("+15005550009", CANNOT_TEXT),  # 21614: not a mobile
        ("+15005550002", CANNOT_TEXT),  # 21612: unreachable
        ("+15005550003", CANNOT_TEXT),  # 21408: region not enabled
        ("+15005550004", CANNOT_TEXT),  # 21610: blocked (STOP)
    ],
)
async def test_a_number_twilio_refuses_names_the_phone_field(twilio, number, message, caplog):
    with pytest.raises(CodeNotSent) as refused:
        await sender(twilio.url).send(Phone(number), TEXT, livemode=True)
    assert refused.value.message == message and refused.value.field == "phone"
    assert "https://www.twilio.com/docs/errors/" in refused.value.detail  # for the operator
    assert twilio.messages() == [] and twilio.requests() == 1  # not retried
    assert number not in caplog.text  # the log masks the number


async def test_wrong_credentials_or_from_are_the_operators_problem(twilio):
    with pytest.raises(CodeNotSent) as refused:
        await sender(twilio.url, token="wrong").send(Phone("+14155550100"), TEXT, livemode=True)
    assert refused.value.message == TRY_AGAIN and refused.value.field is None
    assert "401" in refused.value.detail and "20003" in refused.value.detail
    with pytest.raises(CodeNotSent) as refused:
        await sender(twilio.url, origin="+14155550199").send(
            Phone("+14155550100"), TEXT, livemode=True
        )
    assert refused.value.message == TRY_AGAIN and "21606" in refused.value.detail
    assert twilio.requests() == 2


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_one_failure_is_retried_once(twilio, status):
    twilio.fail_next(1, status)
    await sender(twilio.url).send(Phone("+14155550100"), TEXT, livemode=True)
    assert len(twilio.messages()) == 1 and twilio.requests() == 2


@pytest.mark.parametrize(("status", "message"), [(500, TRY_AGAIN), (429, BUSY)])
async def test_two_failures_give_up(twilio, status, message):
    twilio.fail_next(2, status)
    with pytest.raises(CodeNotSent) as refused:
        await sender(twilio.url).send(Phone("+14155550100"), TEXT, livemode=True)
    assert refused.value.message == message
    assert twilio.messages() == [] and twilio.requests() == 2
    # The next send goes through.
    await sender(twilio.url).send(Phone("+14155550100"), TEXT, livemode=True)
    assert len(twilio.messages()) == 1


async def test_an_unreachable_twilio_is_retried_then_try_again():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(CodeNotSent) as refused:
        await sender(f"http://127.0.0.1:{port}").send(Phone("+14155550100"), TEXT, livemode=True)
    assert refused.value.message == TRY_AGAIN and "unreachable" in refused.value.detail


async def test_modes_and_channels(twilio):
    live = sender(twilio.url)
    with pytest.raises(WrongMode):
        await live.send(Phone("+14155550100"), TEXT, livemode=False)
    with pytest.raises(CodeNotSent):
        await live.send(Email("ada@example.com"), TEXT, livemode=True)
    assert twilio.requests() == 0


def test_the_fake_checks_what_twilio_checks(twilio):
    url = f"{twilio.url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    auth = (DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)
    form = {"To": "+14155550100", "From": DEFAULT_FROM, "Body": "hi"}

    def code(answer: httpx.Response) -> int:
        return int(answer.json()["code"])

    assert code(httpx.post(url, data=form)) == 20003  # no auth
    other = url.replace(DEFAULT_ACCOUNT_SID, "AC" + "9" * 32)
    assert httpx.post(other, data=form, auth=auth).status_code == 404
    assert code(httpx.post(url, data={**form, "To": ""}, auth=auth)) == 21604
    assert code(httpx.post(url, data={**form, "To": "4155550100"}, auth=auth)) == 21211
    assert code(httpx.post(url, data={"To": "+14155550100", "Body": "x"}, auth=auth)) == 21603
    assert code(httpx.post(url, data={**form, "Body": ""}, auth=auth)) == 21602
    assert code(httpx.post(url, data={**form, "Body": "x" * 1601}, auth=auth)) == 21617
    bad = httpx.post(f"{twilio.url}/_fake/fail-next", json={"count": 1, "status": 404})
    assert bad.status_code == 400
    assert httpx.get(f"{twilio.url}/_fake/health").json() == {"ok": True}
    assert twilio.messages() == []
