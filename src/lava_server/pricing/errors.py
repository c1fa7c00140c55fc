"""Errors raised for bad input to the pricing engine."""

from __future__ import annotations


class PricingError(ValueError):
    """An input to pricing breaks a rule.

    `field` names the input at fault as a path into the request body or product (`input_tokens`,
    `tiers[1].start`), so the API can answer 400 with `param` set to it; `message` states the rule.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class PricingConfigError(PricingError):
    """A product's pricing configuration breaks a rule of `docs/pricing.md` (tiers, enum values)."""
