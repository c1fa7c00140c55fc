"""One-time codes by SMS through Twilio's Messages REST API.

`POST {LAVA_TWILIO_BASE_URL}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded `To`,
`From` (a Twilio number) or `MessagingServiceSid` (`MG...`) and `Body`, with HTTP basic auth
`AccountSid:AuthToken`. Twilio answers 201 with the message (`sid` `SM...`, `status` `queued`), or
an error JSON (`code`, `message`, `more_info`, `status`).

A 429, a 5xx or a connection failure is retried once after `retry_delay` seconds; every other
error is final. The customer sees what they can act on (a number that is not valid, or that
cannot receive texts: the `phone` field; else "try again"); the operator's log has Twilio's code,
message and `more_info`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from lava_server.payments.code_senders import (
    TRY_AGAIN,
    Channel,
    CodeNotSent,
    Destination,
    Phone,
    check_mode,
)
from lava_server.settings import Settings

log = logging.getLogger("lava_server.codes")

INVALID_NUMBER = "This phone number is not valid. Check it and enter it again."
CANNOT_TEXT = (
    "We cannot send text messages to this number. Use a mobile number that can receive texts"
    " or, where offered, get the code by email."
)
BUSY = "Too many text messages are being sent right now. Please try again in a minute."

# Twilio error codes about the destination: what the customer can fix.
_NOT_VALID = {21211, 21217, 21401, 21421}
_CANNOT_TEXT = {21408, 21608, 21610, 21612, 21614, 21635, 30003, 30004, 30005, 30006}
_RETRIED = {429, 500, 502, 503, 504}


class TwilioSender:
    name = "twilio"
    channels: frozenset[Channel] = frozenset({"phone"})

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        *,
        live: bool,
        base_url: str = "https://api.twilio.com",
        timeout: float = 10.0,
        retry_delay: float = 0.5,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sender = sender
        self.live = live
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry_delay = retry_delay

    @classmethod
    def from_settings(cls, settings: Settings, *, live: bool) -> TwilioSender:
        return cls(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_from,
            live=live,
            base_url=settings.twilio_base_url,
        )

    @property
    def url(self) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def _form(self, to: str, text: str) -> dict[str, str]:
        origin = "MessagingServiceSid" if self.sender.startswith("MG") else "From"
        return {"To": to, origin: self.sender, "Body": text}

    async def send(self, to: Destination, text: str, *, livemode: bool) -> None:
        check_mode(self, livemode)
        if not isinstance(to, Phone):
            raise CodeNotSent("Codes by email cannot be sent here.", field="email")
        form = self._form(to.number, text)
        async with httpx.AsyncClient(
            auth=(self.account_sid, self.auth_token), timeout=self.timeout
        ) as http:
            for attempt in range(2):
                try:
                    response = await http.post(self.url, data=form)
                except httpx.HTTPError as exc:
                    problem = f"Twilio unreachable: {type(exc).__name__}: {exc}"
                    if attempt == 0:
                        log.warning("%s; retrying once", problem)
                        await asyncio.sleep(self.retry_delay)
                        continue
                    log.error("code to %s not sent: %s", _masked(to.number), problem)
                    raise CodeNotSent(TRY_AGAIN, detail=problem) from None
                if response.status_code in (200, 201):
                    sid = _json(response).get("sid", "")
                    log.info("code sent by SMS to %s (Twilio %s)", _masked(to.number), sid)
                    return
                if response.status_code in _RETRIED and attempt == 0:
                    log.warning("Twilio answered %s; retrying once", response.status_code)
                    await asyncio.sleep(self.retry_delay)
                    continue
                raise _failure(response, to.number)
        raise AssertionError("unreachable")  # pragma: no cover

    async def reachable(self) -> tuple[bool, str]:
        """Reads the account (`GET /2010-04-01/Accounts/{sid}.json`): it must be `active`."""
        url = f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}.json"
        try:
            async with httpx.AsyncClient(
                auth=(self.account_sid, self.auth_token), timeout=self.timeout
            ) as http:
                response = await http.get(url)
        except httpx.HTTPError as exc:
            return False, f"Twilio cannot be reached at {self.base_url}: {type(exc).__name__}"
        if response.status_code == 401:
            return False, f"refused by Twilio at {self.base_url} (account SID or auth token)"
        if response.status_code != 200:
            return False, f"Twilio at {self.base_url} answered {response.status_code}"
        status = _json(response).get("status")
        if status != "active":
            return False, f"the Twilio account is {status}"
        return True, f"Twilio account active at {self.base_url}; SMS from {self.sender}"


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _masked(number: str) -> str:
    return f"…{number[-4:]}"


def _failure(response: httpx.Response, number: str) -> CodeNotSent:
    body = _json(response)
    code = body.get("code")
    detail = (
        f"Twilio answered {response.status_code}: code {code}, {body.get('message', '')!s} "
        f"({body.get('more_info', '')!s})"
    ).replace(number, _masked(number))
    log.error("code to %s not sent: %s", _masked(number), detail)
    if code in _NOT_VALID:
        return CodeNotSent(INVALID_NUMBER, detail=detail, field="phone")
    if code in _CANNOT_TEXT:
        return CodeNotSent(CANNOT_TEXT, detail=detail, field="phone")
    if response.status_code == 429:
        return CodeNotSent(BUSY, detail=detail)
    return CodeNotSent(TRY_AGAIN, detail=detail)
