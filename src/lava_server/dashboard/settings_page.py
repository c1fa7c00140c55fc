"""The Settings page: the merchant (its name: the API has no route to change it, so it is shown,
not edited), the server's service charge and low-balance threshold (settings of the server,
`LAVA_...`), and each mode's payment provider and code sender, with what live mode still lacks
(`payments.live.missing`, read from the providers `Billing` built at start: the page calls no
external service)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from lava_server.dashboard.web import PREFIX, Page, signed_in
from lava_server.payments.code_senders import CodeSender
from lava_server.payments.interface import PaymentProvider

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _payments(provider: PaymentProvider | None) -> dict[str, Any] | None:
    if provider is None:
        return None
    return {
        "name": provider.name,
        "live": provider.live,
        "collects_cards": provider.collects_cards,
    }


def _codes(sender: CodeSender | None) -> dict[str, Any] | None:
    if sender is None:
        return None
    return {"name": sender.name, "live": sender.live, "channels": sorted(sender.channels)}


@router.get("/{mode}/settings")
async def settings_page(page: Page = Depends(signed_in)) -> Response:
    billing = page.billing
    settings = page.settings
    modes = [
        {
            "key": "test",
            "label": "Test (sandbox)",
            "payments": _payments(billing.sandbox),
            "codes": _codes(billing.codes),
            "missing": [],
        },
        {
            "key": "live",
            "label": "Live",
            "payments": _payments(billing.live),
            "codes": _codes(billing.live_codes),
            "missing": billing.live_mode_missing(),
        },
    ]
    return page.render(
        "settings.html",
        modes=modes,
        service_charge_percent=settings.service_charge_rate * 100,
        low_balance_threshold=settings.webhook_low_balance_threshold,
        public_url_set=bool(settings.public_url),
    )
