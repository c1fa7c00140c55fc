"""A fake Twilio: the Messages REST API's wire format, offline, with controls for tests.

Tests and the demo point the `twilio` code sender at it
(`LAVA_TWILIO_BASE_URL=http://127.0.0.1:9200`) instead of api.twilio.com. Run it with
`lava fake-twilio --port 9200 --account-sid AC... --auth-token ...`, or in process with
`create_fake_twilio_app` and `lava_server.testing.serve_in_thread`.

===============================================================  ==================================
``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``         send a message: 201 and Twilio's
                                                                 message JSON (``sid`` ``SM...``,
                                                                 ``status`` ``queued``)
``GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json``   one message
``GET  /_fake/health``                                           ``{"ok": true}``
``GET  /_fake/messages``                                         the messages sent, oldest first
``POST /_fake/reset``                                            forget messages and controls
``POST /_fake/fail-next``                                        ``{"count": N, "status": 500}``:
                                                                 the next N sends fail with that
                                                                 status (500, 503 or 429)
===============================================================  ==================================

Checks, as Twilio makes them, each refused with Twilio's error JSON (``code``, ``message``,
``more_info``, ``status``): HTTP basic auth with the account SID and auth token (401, 20003); the
account in the path is the caller's (404, 20404); ``To`` present (21604) and E.164 (21211);
``From`` one of the account's numbers (21606) or ``MessagingServiceSid`` an ``MG`` SID (21701),
one of the two (21603); ``Body`` present (21602) and at most 1600 characters (21617).

Destinations that fail like Twilio's magic test numbers:

================  =======================================================
``+15005550001``  400, 21211: the ``To`` number is not a valid phone number
``+15005550002``  400, 21612: Twilio cannot route to this number
``+15005550003``  400, 21408: no permission to send to this region
``+15005550004``  400, 21610: the number has replied STOP (blocked)
``+15005550009``  400, 21614: not a mobile number
================  =======================================================
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["DEFAULT_FROM", "MAGIC_NUMBERS", "FakeTwilio", "create_fake_twilio_app", "run"]

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "fake-twilio-token"
DEFAULT_FROM = "+15005550006"  # Twilio's magic "valid" From number

E164 = re.compile(r"\+[1-9][0-9]{7,14}")

MAGIC_NUMBERS: dict[str, tuple[int, str]] = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number is not currently reachable via SMS."),
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' "
        "number: +15005550003.",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}


def error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


@dataclass
class FakeTwilio:
    """The fake's account, the messages it accepted and its failure control."""

    account_sid: str = DEFAULT_ACCOUNT_SID
    auth_token: str = DEFAULT_AUTH_TOKEN
    from_numbers: frozenset[str] = frozenset({DEFAULT_FROM})
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0  # every send asked for, failed ones included
    fail_next: int = 0
    fail_status: int = 500

    def reset(self) -> None:
        self.messages.clear()
        self.requests = 0
        self.fail_next = 0
        self.fail_status = 500

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(
            password, self.auth_token
        )

    async def create_message(self, request: Request) -> Response:
        self.requests += 1
        if not self._authorised(request):
            return error(401, 20003, "Authenticate")
        if request.path_params["account"] != self.account_sid:
            return error(404, 20404, "The requested resource was not found")
        if self.fail_next > 0:
            self.fail_next -= 1
            status = self.fail_status
            if status == 429:
                return error(429, 20429, "Too Many Requests")
            return error(status, 20500, "An internal server error has occurred")
        try:
            pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            pairs = []
        form = dict(pairs)
        to = form.get("To", "").strip()
        sender = form.get("From", "").strip()
        service = form.get("MessagingServiceSid", "").strip()
        body = form.get("Body", "")
        if not to:
            return error(400, 21604, "A 'To' phone number is required.")
        if not E164.fullmatch(to):
            return error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not sender and not service:
            return error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        if service and not re.fullmatch(r"MG[0-9a-f]{32}", service):
            return error(400, 21701, f"The Messaging Service Sid {service} is invalid.")
        if sender and sender not in self.from_numbers:
            return error(
                400,
                21606,
                f"The From phone number {sender} is not a valid, SMS-capable inbound phone "
                "number or short code for your account.",
            )
        if not body:
            return error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return error(400, 21617, "The concatenated message body exceeds the 1600 character")
        if to in MAGIC_NUMBERS:
            code, message = MAGIC_NUMBERS[to]
            return error(400, code, message)
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        message_json: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender or None,
            "messaging_service_sid": service or None,
            "num_media": "0",
            "num_segments": str(max(1, -(-len(body) // 153))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if sender else "accepted",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        self.messages.append(message_json)
        return JSONResponse(message_json, status_code=201)

    async def get_message(self, request: Request) -> Response:
        if not self._authorised(request):
            return error(401, 20003, "Authenticate")
        sid = request.path_params["sid"]
        for message in self.messages:
            if message["sid"] == sid and request.path_params["account"] == self.account_sid:
                return JSONResponse(message)
        return error(404, 20404, "The requested resource was not found")

    async def get_account(self, request: Request) -> Response:
        if not self._authorised(request):
            return error(401, 20003, "Authenticate")
        if request.path_params["account"] != self.account_sid:
            return error(404, 20404, "The requested resource was not found")
        return JSONResponse(
            {
                "sid": self.account_sid,
                "friendly_name": "Fake Twilio account",
                "status": "active",
                "type": "Full",
                "uri": f"/2010-04-01/Accounts/{self.account_sid}.json",
            }
        )

    async def health(self, _request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def list_messages(self, _request: Request) -> Response:
        return JSONResponse({"messages": self.messages, "requests": self.requests})

    async def reset_route(self, _request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    async def fail_next_route(self, request: Request) -> Response:
        try:
            body = await request.json()
            count = int(body.get("count", 1))
            status = int(body.get("status", 500))
        except (ValueError, TypeError, AttributeError):
            return JSONResponse({"error": 'send {"count": N, "status": 500}'}, 400)
        if count < 0 or status not in (429, 500, 502, 503, 504):
            return JSONResponse({"error": "count >= 0; status 429, 500, 502, 503 or 504"}, 400)
        self.fail_next, self.fail_status = count, status
        return JSONResponse({"ok": True, "count": count, "status": status})


def create_fake_twilio_app(
    account_sid: str = DEFAULT_ACCOUNT_SID,
    auth_token: str = DEFAULT_AUTH_TOKEN,
    from_numbers: frozenset[str] | set[str] = frozenset({DEFAULT_FROM}),
) -> Starlette:
    """The fake's app; its state is `app.state.fake_twilio` (a `FakeTwilio`)."""
    fake = FakeTwilio(account_sid, auth_token, frozenset(from_numbers))
    base = "/2010-04-01/Accounts/{account}"
    app = Starlette(
        routes=[
            Route(f"{base}.json", fake.get_account, methods=["GET"]),
            Route(f"{base}/Messages.json", fake.create_message, methods=["POST"]),
            Route(f"{base}/Messages/{{sid}}.json", fake.get_message, methods=["GET"]),
            Route("/_fake/health", fake.health, methods=["GET"]),
            Route("/_fake/messages", fake.list_messages, methods=["GET"]),
            Route("/_fake/reset", fake.reset_route, methods=["POST"]),
            Route("/_fake/fail-next", fake.fail_next_route, methods=["POST"]),
        ]
    )
    app.state.fake_twilio = fake
    return app


def run(
    host: str = "127.0.0.1",
    port: int = 9200,
    *,
    account_sid: str = DEFAULT_ACCOUNT_SID,
    auth_token: str = DEFAULT_AUTH_TOKEN,
    from_numbers: frozenset[str] | set[str] = frozenset({DEFAULT_FROM}),
    log_level: str = "warning",
) -> None:
    """Serve the fake Twilio with uvicorn until interrupted."""
    import uvicorn

    app = create_fake_twilio_app(account_sid, auth_token, from_numbers)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
