"""Time: the one clock of the server (replaceable in tests) and ISO 8601 in UTC with a `Z`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated

from pydantic import Field


def _system_clock() -> datetime:
    return datetime.now(timezone.utc)


# Every reading of the time goes through here, so that tests can move through days and months.
clock: Callable[[], datetime] = _system_clock


def utcnow() -> datetime:
    """The current time (UTC, timezone-aware), from `clock`."""
    return clock()


def iso(value: datetime) -> str:
    """`2026-11-27T00:37:23.123Z`."""
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$",
        json_schema_extra={"format": "date-time"},
        examples=["2026-11-27T00:37:23.123Z"],
    ),
]
"""A moment in an answer (the schema of `iso`'s strings)."""


def iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else iso(value)
