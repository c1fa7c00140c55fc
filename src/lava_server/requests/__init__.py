"""Requests: metered calls, priced and debited exactly once (`api.md` 4)."""
