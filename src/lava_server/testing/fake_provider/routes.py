"""Routes and credentials: which provider family and endpoint a request is for, and its key."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request


@dataclass(frozen=True, slots=True)
class Endpoint:
    family: str  # openai | anthropic | gemini | elevenlabs
    kind: str
    model: str | None = None  # from the path (Gemini)


def resolve(method: str, path: str, headers: dict[str, str]) -> Endpoint | None:
    """What a request is for, from its method, path and headers; None for an unknown route."""
    if method == "POST":
        last = path.rpartition("/")[2]
        if ":" in last and "/models/" in path:
            model, _, action = last.partition(":")
            if action in ("generateContent", "streamGenerateContent"):
                return Endpoint("gemini", action, model)
            return None
        if path.endswith("/chat/completions"):
            return Endpoint("openai", "chat")
        if path.endswith("/responses"):
            return Endpoint("openai", "responses")
        if path.endswith("/embeddings"):
            return Endpoint("openai", "embeddings")
        if path.endswith("/audio/speech"):
            return Endpoint("openai", "speech")
        if path.endswith("/messages"):
            return Endpoint("anthropic", "messages")
        if "/text-to-speech/" in path:
            return Endpoint("elevenlabs", "tts")
    elif method == "GET" and path.endswith("/models"):
        if "anthropic-version" in headers:
            return Endpoint("anthropic", "models")
        if "/v1beta/" in path and "/openai/" not in path:
            return Endpoint("gemini", "models")
        return Endpoint("openai", "models")
    return None


MISSING_KEY_MESSAGES = {
    "openai": (
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
    ),
    "anthropic": "x-api-key header is required",
    "gemini": "Method doesn't allow unregistered callers. Please use an API key.",
    "elevenlabs": "Missing xi-api-key header.",
}


def find_key(family: str, headers: dict[str, str], request: Request) -> tuple[str, str] | None:
    """The provider key of a request and where it was found."""

    def bearer() -> str | None:
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip() or None
        return None

    if family == "openai":
        key = bearer()
        return (key, "authorization") if key else None
    if family == "anthropic":
        key = headers.get("x-api-key", "").strip()
        if key:
            return key, "x-api-key"
        key = bearer() or ""
        return (key, "authorization") if key else None
    if family == "gemini":
        key = headers.get("x-goog-api-key", "").strip()
        if key:
            return key, "x-goog-api-key"
        key = request.query_params.get("key", "").strip()
        return (key, "query:key") if key else None
    key = headers.get("xi-api-key", "").strip()
    return (key, "xi-api-key") if key else None
