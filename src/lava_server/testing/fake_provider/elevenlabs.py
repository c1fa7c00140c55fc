"""ElevenLabs: text to speech, with the character count in the ``x-character-count`` header."""

from __future__ import annotations

from starlette.responses import Response

from lava_server.testing.fake_provider.plans import fake_audio
from lava_server.testing.fake_provider.wire import JSON, json_response, new_id


def error_body(status: int, message: str | None = None) -> JSON:
    kind = "invalid_api_key" if status == 401 else "error"
    return {"detail": {"status": kind, "message": message or "Error."}}


def error(status: int, message: str | None = None) -> Response:
    return json_response(status, error_body(status, message), {})


def text_to_speech(body: JSON) -> Response:
    text = body.get("text")
    if not isinstance(text, str) or not text:
        return error(400, "Missing text.")
    headers = {
        "request-id": new_id(""),
        "history-item-id": new_id(""),
        "x-character-count": str(len(text)),
    }
    return Response(fake_audio(len(text)), 200, headers, "audio/mpeg")
