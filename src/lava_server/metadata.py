"""Request metadata and `metadata_filters` (`docs/api.md`): what metadata may hold, how a
filter is read, and the SQL condition that applies it (shared by the requests list and usage)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator
from sqlalchemy import ColumnElement, func, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server.db.models import Request
from lava_server.errors import InvalidRequest
from lava_server.untrusted import NUL, UntrustedJSONError, parse_json

MAX_PAIRS = 100
_KEY = re.compile(r"[A-Za-z0-9_]{1,255}")


def check_metadata(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_PAIRS:
        raise ValueError(f"at most {MAX_PAIRS} pairs")
    for key, item in value.items():
        if not _KEY.fullmatch(key):
            raise ValueError(f"key {key[:40]!r} must be 1 to 255 of A-Z, a-z, 0-9 and _")
        if not (1 <= len(item) <= 255):
            raise ValueError(f"value of {key!r} must be 1 to 255 characters")
        if NUL in item:
            raise ValueError(f"value of {key!r} must not contain NUL characters (\\u0000)")
    return value


Metadata = Annotated[dict[str, str], AfterValidator(check_metadata)]


def parse_metadata_filters(raw: str | None) -> dict[str, str]:
    """`[["k","v"], ...]` or `{"k": "v"}` (URL-decoded already) → pairs; anything else is 400."""
    if raw is None:
        return {}
    problem = InvalidRequest(
        "metadata_filters must be a JSON array of [key, value] string pairs, e.g. "
        '[["user_id","123"]], or a JSON object of strings.',
        param="metadata_filters",
    )
    try:
        parsed = parse_json(raw)
    except UntrustedJSONError as error:
        raise InvalidRequest(f"metadata_filters: {error}.", param="metadata_filters") from None
    except ValueError:
        raise problem from None
    pairs: list[tuple[str, str]] = []
    if isinstance(parsed, dict):
        pairs = list(parsed.items())
    elif isinstance(parsed, list):
        for item in parsed:
            if not isinstance(item, list) or len(item) != 2:
                raise problem
            pairs.append((item[0], item[1]))
    else:
        raise problem
    filters: dict[str, str] = {}
    for key, value in pairs:
        if not isinstance(key, str) or not isinstance(value, str) or not _KEY.fullmatch(key):
            raise problem
        if filters.get(key, value) != value:
            raise problem  # one key asked to equal two values: say so rather than match nothing
        filters[key] = value
    if len(filters) > MAX_PAIRS:
        raise problem
    return filters


def metadata_conditions(
    session: AsyncSession, filters: dict[str, str]
) -> list[ColumnElement[bool]]:
    """Requests whose metadata holds every pair exactly."""
    if not filters:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return [type_coerce(Request.request_metadata, JSONB).contains(filters)]  # JSONB @>
    return [
        func.json_extract(Request.request_metadata, f'$."{key}"') == value
        for key, value in filters.items()
    ]
