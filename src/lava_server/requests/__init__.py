"""Requests: metered calls, priced and debited exactly once (`docs/pricing.md`)."""
