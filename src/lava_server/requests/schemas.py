from __future__ import annotations

import hashlib
import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from lava_server.metadata import Metadata

Count = Annotated[StrictInt, Field(ge=0, le=10**15)]
Secret = Annotated[str, Field(min_length=1, max_length=255)]


class RequestCreate(BaseModel):
    """`CreateRequestParams` of the seed, plus our `provider`/`model` extension."""

    model_config = ConfigDict(extra="forbid")

    request_id: Annotated[str, Field(min_length=1, max_length=255)]
    connection_secret: Secret
    product_secret: Secret
    metadata: Metadata | None = None
    input_tokens: Count = 0
    output_tokens: Count = 0
    input_characters: Count = 0
    output_characters: Count = 0
    input_seconds: Count = 0
    output_seconds: Count = 0
    provider: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    model: Annotated[str, Field(min_length=1, max_length=255)] | None = None

    @field_validator("request_id")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("must be printable characters")
        return value

    def fingerprint(self) -> str:
        """What makes two reports of one `request_id` the same report."""
        canonical = self.model_dump(exclude={"request_id"})
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
