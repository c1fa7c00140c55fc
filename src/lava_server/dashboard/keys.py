"""The Keys page: the mode's secret keys (their hint only) and spend keys (limits, current
spend), with the admin's actions through the services of `/v1/secret_keys` and
`/v1/spend_keys` (the same ones `lava keys` and `lava spend-keys` call): create a secret key,
revoke one; create, revoke, rotate, pause and resume a spend key.

A new secret (a secret key, a spend key made or rotated) is in the body of the answer to the
form that made it, once: never in a URL, never logged, never stored but as its hash; the page
says so, and reloading it shows the hint only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, get_args

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from lava_server.dashboard.web import (
    PREFIX,
    Action,
    Page,
    admin_action,
    list_cursor,
    parsed,
    signed_in,
    utc_field,
)
from lava_server.errors import ApiError
from lava_server.ids import id_pattern
from lava_server.merchants import service as merchants
from lava_server.merchants.schemas import SecretKeyCreate
from lava_server.periods import LimitCycle
from lava_server.spend_keys import service as spend_keys
from lava_server.spend_keys.schemas import SpendKeyCreate, SpendKeyUpdate

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LIST_LIMIT = 20


async def _view(
    page: Page,
    cursors: Mapping[str, str] | None = None,
    *,
    problems: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
    shown_once: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    cursors = cursors or {}
    secret_after = list_cursor(cursors.get("keys"), id_pattern("key", page.livemode))
    spend_after = list_cursor(cursors.get("spend_keys"), id_pattern("spk", page.livemode))
    secret_rows = await merchants.page_keys(page.db, page.caller, secret_after, LIST_LIMIT)
    spend_rows = await spend_keys.list_page(page.db, page.caller, spend_after, LIST_LIMIT)
    now = page.billing.now()
    here = page.url("keys")
    return page.render(
        "keys.html",
        status,
        secret_keys=secret_rows[:LIST_LIMIT],
        secret_next=f"{here}?keys={secret_rows[LIST_LIMIT - 1].id}"
        if len(secret_rows) > LIST_LIMIT
        else None,
        spend_keys=[spend_keys.render(row, now) for row in spend_rows[:LIST_LIMIT]],
        spend_next=f"{here}?spend_keys={spend_rows[LIST_LIMIT - 1][0].id}"
        if len(spend_rows) > LIST_LIMIT
        else None,
        first_url=here if secret_after or spend_after else None,
        problems=problems or {},
        form=form or {},
        shown_once=shown_once,
        cycles=get_args(LimitCycle),
        here=here,
    )


@router.get("/{mode}/keys")
async def keys_page(
    page: Page = Depends(signed_in), keys: str = "", spend_keys: str = ""
) -> Response:
    return await _view(page, {"keys": keys[:100], "spend_keys": spend_keys[:100]})


Work = Callable[[], Awaitable[Mapping[str, str] | None]]


async def _act(act: Action, form_name: str, work: Work, notice: str) -> Response:
    """Run `work()`. A new secret it returns is rendered in this answer (200, never a URL); a
    plain success goes back to the page (303) with a notice; a refusal shows the page again
    with the API's message by the form, and the API's status."""
    page = act.page
    try:
        secret = await work()
    except ApiError as error:
        return await _view(
            page, problems={form_name: error.message}, form=act.form, status=error.status
        )
    if secret is not None:
        return await _view(page, shown_once=secret)
    return page.redirect("keys", notice)


@router.post("/{mode}/keys/secret")
async def create_secret_key(act: Action = Depends(admin_action)) -> Response:
    page = act.page

    async def work() -> Mapping[str, str]:
        params = parsed(SecretKeyCreate, {"name": act.form.get("name", "").strip()})
        new = await merchants.create_named_key(page.db, page.caller, params.name)
        return {
            "kind": "secret key",
            "name": params.name,
            "id": new.key_id,
            "secret": new.secret_key,
        }

    return await _act(act, "secret", work, "")


@router.post("/{mode}/keys/secret/{key_id}/revoke")
async def revoke_secret_key(key_id: str, act: Action = Depends(admin_action)) -> Response:
    page = act.page

    async def work() -> None:
        await merchants.revoke_own_key(page.db, page.caller, key_id[:64])

    return await _act(act, f"revoke-{key_id[:64]}", work, f"Secret key {key_id[:64]} revoked.")


def _spend_key_body(form: Mapping[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"name": form.get("name", "").strip()}
    for field in ("customer_id", "meter_slug"):
        value = form.get(field, "").strip()
        if value:
            body[field] = value
    amount = form.get("spend_limit_amount", "").strip()
    if amount:
        body["spend_limit"] = {"amount": amount, "cycle": form.get("spend_limit_cycle", "")}
    expires = utc_field(form.get("expires_at", ""))
    if expires:
        body["expires_at"] = expires
    return body


@router.post("/{mode}/keys/spend")
async def create_spend_key(act: Action = Depends(admin_action)) -> Response:
    page = act.page

    async def work() -> Mapping[str, str]:
        params = parsed(SpendKeyCreate, _spend_key_body(act.form))
        created = await spend_keys.create(page.db, page.caller, params)
        return {
            "kind": "spend key",
            "name": created["name"],
            "id": created["spend_key_id"],
            "secret": created["key"],
        }

    return await _act(act, "spend", work, "")


@router.post("/{mode}/keys/spend/{key_id}/rotate")
async def rotate_spend_key(key_id: str, act: Action = Depends(admin_action)) -> Response:
    page = act.page

    async def work() -> Mapping[str, str]:
        rotated = await spend_keys.rotate(page.db, page.caller, key_id[:64])
        return {
            "kind": "spend key",
            "name": rotated["name"],
            "id": rotated["spend_key_id"],
            "secret": rotated["key"],
            "rotated": "yes",
        }

    return await _act(act, f"spend-{key_id[:64]}", work, "")


@router.post("/{mode}/keys/spend/{key_id}/revoke")
async def revoke_spend_key(key_id: str, act: Action = Depends(admin_action)) -> Response:
    page = act.page

    async def work() -> None:
        await spend_keys.revoke(page.db, page.caller, key_id[:64])

    return await _act(act, f"spend-{key_id[:64]}", work, f"Spend key {key_id[:64]} revoked.")


def _status_change(status: str, notice: str) -> Any:
    async def change(key_id: str, act: Action = Depends(admin_action)) -> Response:
        page = act.page

        async def work() -> None:
            params = parsed(SpendKeyUpdate, {"status": status})
            await spend_keys.update(page.db, page.caller, key_id[:64], params)

        return await _act(act, f"spend-{key_id[:64]}", work, notice.format(key_id[:64]))

    return change


router.post("/{mode}/keys/spend/{key_id}/pause")(
    _status_change("paused", "Spend key {} paused: its calls are refused until resumed.")
)
router.post("/{mode}/keys/spend/{key_id}/resume")(_status_change("active", "Spend key {} resumed."))
