"""`/v1/secret_keys` of the current API (`docs/current-api.md#secret-keys`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from lava_server.api.schemas import closed
from lava_server.timeutil import Timestamp


class SecretKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=255)]


@closed
class RestSecretKey(TypedDict):
    """A secret key as listed: `secret_key_hint` is its last 4 characters."""

    secret_key_id: str
    name: str
    secret_key_hint: str
    created_at: Timestamp


@closed
class RestSecretKeyCreate(TypedDict):
    """A new key, with its `secret_key`: shown this once, only its hash is kept."""

    secret_key_id: str
    name: str
    secret_key_hint: str
    created_at: Timestamp
    secret_key: str
