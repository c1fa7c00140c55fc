"""The base class of every response model."""

from __future__ import annotations

import pydantic


class BaseModel(pydantic.BaseModel):
    """A response object.

    Fields the SDK does not know yet (added by a newer API or by a self-hosted server) are kept
    rather than rejected: read them as attributes or through ``model_extra``. Money fields are
    ``Decimal`` (exact, never float) and timestamps timezone-aware ``datetime``; use
    ``model_dump(mode="json")`` to get the wire form back.
    """

    model_config = pydantic.ConfigDict(extra="allow", protected_namespaces=())
