"""Object ids (`con_test_01J...`) and secrets (`cons_test_...`), as `docs/api.md` describes."""

from __future__ import annotations

import re
import secrets

from ulid import ULID

_ULID_RE = "[0-9A-HJKMNP-TV-Z]{26}"


def new_id(prefix: str, livemode: bool) -> str:
    """A new time-ordered id: `prefix_` (live) or `prefix_test_` (sandbox) and a ULID."""
    return f"{prefix}_{'' if livemode else 'test_'}{ULID()}"


def new_secret(prefix: str, livemode: bool) -> str:
    """A new unguessable secret (256 bits): `prefix_live_...` or `prefix_test_...`."""
    return f"{prefix}_{'live' if livemode else 'test'}_{secrets.token_urlsafe(32)}"


def id_pattern(prefix: str, livemode: bool) -> re.Pattern[str]:
    """The exact shape of ids made by `new_id(prefix, livemode)`."""
    return re.compile(rf"{prefix}_{'' if livemode else 'test_'}{_ULID_RE}")
