"""`lava doctor`: each mode's configuration, checked. Sandbox needs nothing; live mode needs the
Stripe provider with a live secret key that Stripe accepts (asked at `LAVA_STRIPE_API_BASE`), a
publishable key of the same mode, the webhook's signing secret, and a code sender per channel
that takes our credentials (Twilio's account read, the SMTP server's login; nothing is sent)."""

from __future__ import annotations

from dataclasses import dataclass

import stripe as stripe_sdk

from lava_server.payments import code_senders
from lava_server.payments.stripe import StripePayments
from lava_server.settings import Settings


@dataclass(frozen=True)
class Check:
    mode: str  # "sandbox" or "live"
    what: str
    ok: bool | None  # None: not checked
    detail: str


async def _secret_key(provider: StripePayments) -> Check:
    what = "Stripe secret key"
    try:
        await provider.client.v1.customers.list_async({"limit": 1})
    except stripe_sdk.AuthenticationError:
        return Check("live", what, False, f"refused by Stripe at {provider.api_base}")
    except stripe_sdk.APIConnectionError:
        return Check("live", what, False, f"Stripe cannot be reached at {provider.api_base}")
    except stripe_sdk.StripeError as error:
        return Check("live", what, False, f"Stripe answered: {error.user_message or error}")
    if not provider.live:
        return Check("live", what, False, "accepted, but a test key: it serves sandbox objects")
    return Check("live", what, True, f"a live key, accepted by Stripe at {provider.api_base}")


async def run(settings: Settings) -> list[Check]:
    checks = [
        Check("sandbox", "payments and codes", True, "test cards; one-time codes in the log"),
    ]
    if settings.payment_provider != "stripe":
        checks.append(Check("live", "payment provider", False, "LAVA_PAYMENT_PROVIDER is sandbox"))
    else:
        provider = StripePayments.from_settings(settings)
        checks.append(await _secret_key(provider))
        publishable = settings.stripe_publishable_key
        if not publishable:
            checks.append(
                Check(
                    "live", "Stripe publishable key", False, "LAVA_STRIPE_PUBLISHABLE_KEY is unset"
                )
            )
        else:
            same_mode = publishable.startswith("pk_live_") == provider.live
            checks.append(
                Check(
                    "live",
                    "Stripe publishable key",
                    same_mode,
                    "of the secret key's mode" if same_mode else "not of the secret key's mode",
                )
            )
        webhook = f"{settings.public_base}v1/stripe/webhook"
        checks.append(
            Check(
                "live",
                "Stripe webhook",
                bool(settings.stripe_webhook_secret),
                f"endpoint {webhook}; signing secret "
                + ("set" if settings.stripe_webhook_secret else "LAVA_STRIPE_WEBHOOK_SECRET unset"),
            )
        )
        checks.append(Check("live", "Stripe.js", None, f"loaded from {settings.stripe_js_url}"))
    sender = code_senders.build(settings, live=True)
    if sender is None:
        checks.append(Check("live", "code sender", False, "none: LAVA_CODE_SENDER_LIVE is empty"))
    else:
        for channel, one in sorted(sender.by_channel.items()):
            ok, detail = await one.reachable()
            checks.append(Check("live", f"code sender ({channel}: {one.name})", ok, detail))
    return checks
