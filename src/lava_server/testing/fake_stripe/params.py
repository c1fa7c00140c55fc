"""Reading request parameters the way Stripe checks them (names, integers, booleans, metadata)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lava_server.testing.fake_stripe.errors import StripeError, invalid, missing, unknown

JSON = dict[str, Any]

ALWAYS_ALLOWED = frozenset({"expand"})


def check(params: JSON, allowed: Iterable[str]) -> None:
    """Refuse a parameter the endpoint does not take, as Stripe does (``parameter_unknown``)."""
    names = set(allowed) | ALWAYS_ALLOWED
    for name in params:
        if name not in names:
            raise unknown(name)


def text(params: JSON, name: str, *, required: bool = False, path: str = "") -> str | None:
    full = path or name
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(full)
        return None
    if not isinstance(value, str):
        raise invalid(full, f"Invalid string: {value!r}")
    return value


def integer(params: JSON, name: str, *, required: bool = False, path: str = "") -> int | None:
    full = path or name
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(full)
        return None
    if not isinstance(value, str) or not value.lstrip("-").isdigit():
        raise invalid(full, f"Invalid integer: {value}", "parameter_invalid_integer")
    return int(value)


def boolean(params: JSON, name: str) -> bool | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if value in ("true", "false"):
        return bool(value == "true")
    raise invalid(name, f"Invalid boolean: {value}")


def choice(params: JSON, name: str, options: Iterable[str]) -> str | None:
    value = text(params, name)
    options = tuple(options)
    if value is not None and value not in options:
        raise invalid(
            name,
            f"Invalid {name}: must be one of {', '.join(options)}",
            "parameter_invalid_string",
        )
    return value


def metadata(current: JSON, params: JSON) -> JSON:
    """Merge ``metadata[...]`` into ``current``: an empty value removes a key, ``metadata=``
    clears them all."""
    if "metadata" not in params:
        return current
    value = params["metadata"]
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid("metadata", "Invalid hash", "parameter_invalid_string")
    merged = dict(current)
    for key, item in value.items():
        if not isinstance(item, str):
            raise invalid(f"metadata[{key}]", "Invalid string")
        if item == "":
            merged.pop(key, None)
        else:
            merged[key] = item
    if len(merged) > 50:
        raise StripeError(
            400, "Invalid metadata: metadata can have up to 50 keys.", param="metadata"
        )
    return merged


def sub(params: JSON, name: str) -> JSON:
    value = params.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid(name, "Invalid hash", "parameter_invalid_string")
    return value
