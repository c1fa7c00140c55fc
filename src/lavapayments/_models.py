"""The base class of every response model, and the money type."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, TypeAlias

import pydantic

__all__ = ["BaseModel", "Money"]

Money: TypeAlias = Annotated[
    Decimal,
    # Fixed-point text on the way out, as on the wire ("0.0000000000", never "0E-10").
    pydantic.PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json"),
]
"""A USD amount: an exact ``Decimal`` parsed from the API's decimal strings."""


class BaseModel(pydantic.BaseModel):
    """A response object.

    Fields the SDK does not know yet (added by a newer API or by a self-hosted server) are kept
    rather than rejected: read them as attributes or through ``model_extra``. Money fields are
    ``Decimal`` (exact, never float) and timestamps timezone-aware ``datetime``; use
    ``model_dump(mode="json")`` to get the wire form back.
    """

    model_config = pydantic.ConfigDict(extra="allow", protected_namespaces=())
