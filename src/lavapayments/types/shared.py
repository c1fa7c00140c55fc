from __future__ import annotations

from .._models import BaseModel

__all__ = ["SuccessResponse"]


class SuccessResponse(BaseModel):
    """The answer of delete and cancel calls: ``{"success": true}``."""

    success: bool
