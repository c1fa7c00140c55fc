"""The two eras' names of one thing on the shared routes (`docs/current-api.md#shared-routes`):
`customer_id` or `connection_id`, `meter_id` or `product_id`. Either may be given, or both with
the same value."""

from __future__ import annotations

from lava_server.errors import InvalidRequest


def either(
    current: str, current_value: str | None, seed: str, seed_value: str | None
) -> str | None:
    """The value given under the current name or the seed-era one; a 400 naming both when they
    are given with different values."""
    if current_value is not None and seed_value is not None and current_value != seed_value:
        raise InvalidRequest(
            f"{current} and {seed} name the same thing in two eras; "
            f"they were given different values ({current_value!r}, {seed_value!r}).",
            param=current,
        )
    return current_value if current_value is not None else seed_value
