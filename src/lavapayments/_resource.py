"""Base classes of the resources and the argument encoding they share."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote

from ._base_client import AsyncAPIClient, SyncAPIClient
from .types.params import MetadataFilters

__all__ = [
    "AsyncAPIResource",
    "SyncAPIResource",
    "encode_metadata_filters",
    "encode_timestamp",
    "path_segment",
]


class SyncAPIResource:
    """A group of endpoints of a :class:`~lavapayments.Lava` client."""

    def __init__(self, client: SyncAPIClient) -> None:
        self._client = client


class AsyncAPIResource:
    """A group of endpoints of an :class:`~lavapayments.AsyncLava` client."""

    def __init__(self, client: AsyncAPIClient) -> None:
        self._client = client


def path_segment(value: str, name: str) -> str:
    """``value`` escaped for use as one URL path segment; an empty id is a caller bug."""
    if not value:
        raise ValueError(f"Expected a non-empty value for `{name}` but received {value!r}")
    return quote(value, safe="")


def encode_metadata_filters(filters: MetadataFilters | None) -> str | None:
    """The Node SDK's form: ``JSON.stringify(Object.entries(filters))``, a JSON array of pairs."""
    if filters is None:
        return None
    pairs = filters.items() if isinstance(filters, Mapping) else filters
    return json.dumps(
        [[key, value] for key, value in pairs], separators=(",", ":"), ensure_ascii=False
    )


def encode_timestamp(value: str | datetime | None) -> str | None:
    """ISO 8601 text for a ``datetime`` (its UTC offset kept); text is sent as given."""
    if isinstance(value, datetime):
        return value.isoformat()
    return value
