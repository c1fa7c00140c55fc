"""The code senders each mode gets from its settings, and settings that cannot work."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lava_server.payments import code_senders, live
from lava_server.payments.code_senders import LogSender, Senders
from lava_server.payments.smtp import SmtpSender
from lava_server.payments.twilio import TwilioSender
from lava_server.settings import Settings

TWILIO = {
    "twilio_account_sid": "AC" + "0" * 32,
    "twilio_auth_token": "token",
    "twilio_from": "+15005550006",
}
SMTP = {"smtp_url": "smtp://mail.example:2525", "smtp_from": "codes@shop.example"}


def test_by_default_sandbox_logs_and_live_has_none():
    settings = Settings()
    sandbox = code_senders.build(settings, live=False)
    assert isinstance(sandbox, Senders) and sandbox.channels == {"phone"} and not sandbox.live
    assert isinstance(sandbox.by_channel["phone"], LogSender)
    assert code_senders.build(settings, live=True) is None
    assert [m.what for m in live.missing(*live.configured(settings))][-1] == "a code sender"


def test_twilio_and_smtp_for_live():
    settings = Settings(code_sender_live="twilio,smtp", **TWILIO, **SMTP)
    senders = code_senders.build(settings, live=True)
    assert senders is not None and senders.live and senders.channels == {"phone", "email"}
    assert isinstance(senders.by_channel["phone"], TwilioSender)
    assert isinstance(senders.by_channel["email"], SmtpSender)
    assert senders.by_channel["phone"].live and senders.by_channel["email"].live
    missing = live.missing(*live.configured(settings))
    assert [m.what for m in missing] == ["a payment provider able to collect cards"]
    sandbox = code_senders.build(settings, live=False)
    assert sandbox is not None and isinstance(sandbox.by_channel["phone"], LogSender)


def test_a_sandbox_smtp_sender_is_not_live():
    senders = code_senders.build(Settings(code_sender_sandbox="smtp", **SMTP), live=False)
    assert senders is not None and senders.channels == {"email"}
    assert not senders.by_channel["email"].live


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"code_sender_live": "twilio"}, "LAVA_TWILIO_ACCOUNT_SID"),
        ({"code_sender_live": "smtp"}, "LAVA_SMTP_URL"),
        ({"code_sender_live": "log"}, "code_sender_live"),
        ({"code_sender_sandbox": ""}, "code_sender_sandbox"),
        ({"code_sender_live": "sms"}, "code_sender_live"),
        ({"smtp_url": "smtp://"}, "smtp_url"),
        ({"smtp_url": "mail.example"}, "smtp_url"),
        ({"twilio_from": "Shop"}, "twilio_from"),
        ({"twilio_base_url": "api.twilio.com"}, "twilio_base_url"),
        ({"code_sends_per_hour": 0}, "code_sends_per_hour"),
    ],
)
def test_settings_that_cannot_work_are_refused(values, named):
    with pytest.raises(ValidationError) as refused:
        Settings(**values)
    assert named in str(refused.value)
