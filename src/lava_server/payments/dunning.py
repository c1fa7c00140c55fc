"""The dunning schedule (`docs/checkout-and-wallets.md#dunning`): a declined off-session charge
(a renewal, an autopay top-up) is tried again 1, 3 and 5 days after its first decline, each time
as a new charge with its own idempotency key and on the card saved last; after the third retry
is declined too, the subscription is cancelled / autopay stays off. A decline that no retry can
mend (a live charge on a server without live payments) ends at once."""

from __future__ import annotations

from datetime import datetime, timedelta

from lava_server.errors import LiveModeNotConfigured

RETRY_AFTER = (timedelta(days=1), timedelta(days=3), timedelta(days=5))
FINAL_FAILURES = frozenset({LiveModeNotConfigured.code})


def next_retry_at(
    first_declined_at: datetime, retries_made: int, failure_code: str | None
) -> datetime | None:
    """When to try again after a decline, `retries_made` retries after the first one; `None`
    when the schedule is over (or the decline is final)."""
    if failure_code in FINAL_FAILURES or retries_made >= len(RETRY_AFTER):
        return None
    return first_declined_at + RETRY_AFTER[retries_made]
