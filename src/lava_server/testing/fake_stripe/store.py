"""The fake Stripe's objects and what each call does to them (no HTTP here).

Every object is kept as the JSON Stripe would answer with and changed in place; an event is
emitted, through ``emit``, for each change Stripe sends one for. An object belongs to the mode of
the key that created it: a test key does not see a live object, nor the reverse.
"""

from __future__ import annotations

import copy
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from lava_server.testing.fake_stripe import cards
from lava_server.testing.fake_stripe.errors import StripeError, invalid, missing, no_such
from lava_server.testing.fake_stripe.errors import unexpected_state as _unexpected
from lava_server.testing.fake_stripe.params import (
    boolean,
    check,
    choice,
    integer,
    metadata,
    sub,
    text,
)

JSON = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass(frozen=True, slots=True)
class Call:
    """Who is calling: the key's mode, whether it is a publishable key, the request's ids."""

    livemode: bool
    publishable: bool = False
    request_id: str | None = None
    idempotency_key: str | None = None
    base_url: str = ""


Emit = Callable[[str, JSON, Call, JSON | None], None]

KINDS = {
    "cus_": "customer",
    "pm_": "payment_method",
    "pi_": "payment_intent",
    "seti_": "setup_intent",
    "ch_": "charge",
    "re_": "refund",
    "dp_": "dispute",
}
MIN_AMOUNT = 50
MAX_AMOUNT = 99_999_999
PI_CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
PI_CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
AUTHENTICATION_FAILED = (
    "We are unable to authenticate your payment method. Please choose a different payment method "
    "and try again."
)

CUSTOMER_PARAMS = (
    "address",
    "description",
    "email",
    "invoice_settings",
    "metadata",
    "name",
    "payment_method",
    "phone",
    "preferred_locales",
    "shipping",
    "tax_exempt",
    "balance",
    "test_clock",
    "tax",
    "tax_id_data",
    "source",
    "coupon",
    "promotion_code",
    "cash_balance",
    "next_invoice_sequence",
)
PM_CREATE_PARAMS = (
    "type",
    "card",
    "billing_details",
    "metadata",
    "customer",
    "payment_method",
    "allow_redisplay",
    "key",
    "payment_user_agent",
    "time_on_page",
    "guid",
    "muid",
    "sid",
    "radar_options",
)
PI_PARAMS = (
    "amount",
    "currency",
    "customer",
    "payment_method",
    "payment_method_data",
    "payment_method_types",
    "automatic_payment_methods",
    "confirm",
    "off_session",
    "setup_future_usage",
    "metadata",
    "description",
    "receipt_email",
    "capture_method",
    "confirmation_method",
    "return_url",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "error_on_requires_action",
    "use_stripe_sdk",
    "mandate_data",
    "payment_method_options",
    "shipping",
    "transfer_data",
    "transfer_group",
    "application_fee_amount",
    "on_behalf_of",
    "confirmation_token",
    "payment_method_configuration",
    "radar_options",
    "excluded_payment_method_types",
    "mandate",
    "amount_details",
    "payment_details",
    "hooks",
)
PI_UPDATE_PARAMS = (
    "amount",
    "currency",
    "customer",
    "payment_method",
    "payment_method_data",
    "payment_method_types",
    "setup_future_usage",
    "metadata",
    "description",
    "receipt_email",
    "capture_method",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "payment_method_options",
    "shipping",
    "transfer_group",
    "payment_method_configuration",
    "excluded_payment_method_types",
    "amount_details",
    "payment_details",
    "hooks",
)
PI_CONFIRM_PARAMS = (
    "payment_method",
    "payment_method_data",
    "off_session",
    "setup_future_usage",
    "return_url",
    "error_on_requires_action",
    "use_stripe_sdk",
    "mandate_data",
    "payment_method_options",
    "receipt_email",
    "shipping",
    "client_secret",
    "key",
    "mandate",
    "confirmation_token",
    "capture_method",
    "radar_options",
    "payment_method_types",
    "expected_payment_method_type",
    "amount_details",
    "payment_details",
    "hooks",
)
SI_PARAMS = (
    "customer",
    "payment_method",
    "payment_method_data",
    "payment_method_types",
    "automatic_payment_methods",
    "confirm",
    "usage",
    "metadata",
    "description",
    "return_url",
    "use_stripe_sdk",
    "mandate_data",
    "payment_method_options",
    "on_behalf_of",
    "single_use",
    "flow_directions",
    "attach_to_self",
    "confirmation_token",
    "payment_method_configuration",
    "excluded_payment_method_types",
)
SI_CONFIRM_PARAMS = (
    "payment_method",
    "payment_method_data",
    "return_url",
    "use_stripe_sdk",
    "mandate_data",
    "payment_method_options",
    "client_secret",
    "key",
    "confirmation_token",
)
REFUND_PARAMS = (
    "payment_intent",
    "charge",
    "amount",
    "reason",
    "metadata",
    "instructions_email",
    "refund_application_fee",
    "reverse_transfer",
    "origin",
    "currency",
    "customer",
)
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
LIST_PARAMS = ("limit", "starting_after", "ending_before", "created")


def _now() -> int:
    return int(time.time())


def _dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


class Store:
    """All the fake's objects. ``emit(type, object, call, previous_attributes)`` is called for
    every event; the caller decides what to do with it (see :mod:`.events`)."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.objects: dict[str, JSON] = {}
        self.numbers: dict[str, str] = {}  # pm id -> card number
        self.set_up: set[str] = set()  # pm ids whose 3-D Secure set-up covers off-session use
        self.off_session: dict[str, bool] = {}  # pi id -> off_session of its last confirmation

    def reset(self) -> None:
        self.objects.clear()
        self.numbers.clear()
        self.set_up.clear()
        self.off_session.clear()

    # -- lookups -----------------------------------------------------------------------------

    def get(self, object_id: str, call: Call, param: str | None = None) -> JSON:
        prefix = object_id.split("_", 1)[0] + "_"
        kind = KINDS.get(prefix, "object")
        obj = self.objects.get(object_id)
        if obj is None:
            raise no_such(kind, object_id, param)
        if obj["livemode"] != call.livemode:
            raise no_such(kind, object_id, param, "live" if obj["livemode"] else "test")
        return obj

    def _get_kind(self, object_id: str | None, prefix: str, call: Call, param: str) -> JSON:
        if not object_id:
            raise missing(param)
        if not object_id.startswith(prefix):
            raise no_such(KINDS[prefix], object_id, param)
        return self.get(object_id, call, param)

    def _put(self, obj: JSON) -> JSON:
        self.objects[obj["id"]] = obj
        return obj

    def list(self, object_prefix: str, url: str, call: Call, params: JSON, **filters: Any) -> JSON:
        """A Stripe list (newest first, ``limit``, ``starting_after``, ``ending_before``)."""
        wanted = {k: v for k, v in filters.items() if v is not None}
        items = [
            obj
            for obj in self.objects.values()
            if obj["id"].startswith(object_prefix)
            and obj["livemode"] == call.livemode
            and all(obj.get(k) == v for k, v in wanted.items())
        ]
        items.reverse()  # newest first (insertion order is creation order)
        limit = integer(params, "limit") or 10
        if not 1 <= limit <= 100:
            raise invalid(
                "limit",
                f"This value must be between 1 and 100 (it currently is {limit}).",
                "parameter_invalid_integer",
            )
        after = text(params, "starting_after")
        before = text(params, "ending_before")
        ids = [obj["id"] for obj in items]
        if after:
            if after not in ids:
                raise no_such(KINDS.get(object_prefix, "object"), after, "starting_after")
            items = items[ids.index(after) + 1 :]
            page = items[:limit]
        elif before:
            if before not in ids:
                raise no_such(KINDS.get(object_prefix, "object"), before, "ending_before")
            items = items[: ids.index(before)]
            page = items[-limit:]
        else:
            page = items[:limit]
        return {"object": "list", "data": page, "has_more": len(items) > len(page), "url": url}

    # -- customers ---------------------------------------------------------------------------

    def create_customer(self, params: JSON, call: Call) -> JSON:
        check(params, CUSTOMER_PARAMS)
        customer: JSON = {
            "id": new_id("cus_", 14),
            "object": "customer",
            "address": params.get("address") or None,
            "balance": 0,
            "created": _now(),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": text(params, "description"),
            "discount": None,
            "email": text(params, "email"),
            "invoice_prefix": new_id("", 8).upper(),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": call.livemode,
            "metadata": metadata({}, params),
            "name": text(params, "name"),
            "next_invoice_sequence": 1,
            "phone": text(params, "phone"),
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        pm_id = text(params, "payment_method")
        pm = self.payment_method(pm_id, call) if pm_id else None
        if pm is not None and pm["customer"] is not None:
            raise StripeError(
                400,
                "The payment method you provided has already been attached to a customer.",
                code="payment_method_unexpected_state",
                param="payment_method",
            )
        self._put(customer)
        self.emit("customer.created", customer, call, None)
        if pm is not None:
            self._attach(pm, customer["id"], call)
        self._update_invoice_settings(customer, params, call)
        return customer

    def _update_invoice_settings(self, customer: JSON, params: JSON, call: Call) -> None:
        settings = sub(params, "invoice_settings")
        if "default_payment_method" in settings:
            pm_id = settings["default_payment_method"] or None
            if pm_id:
                pm = self._get_kind(pm_id, "pm_", call, "invoice_settings[default_payment_method]")
                if pm["customer"] != customer["id"]:
                    raise invalid(
                        "invoice_settings[default_payment_method]",
                        f"No such PaymentMethod: '{pm_id}'; It's possible this PaymentMethod "
                        "exists on one of your connected accounts, or that it is not attached to "
                        "this customer.",
                        "resource_missing",
                    )
            customer["invoice_settings"]["default_payment_method"] = pm_id

    def update_customer(self, customer_id: str, params: JSON, call: Call) -> JSON:
        check(params, CUSTOMER_PARAMS)
        customer = self._get_kind(customer_id, "cus_", call, "id")
        previous: JSON = {}
        for field in ("email", "name", "phone", "description"):
            if field in params:
                previous[field] = customer[field]
                customer[field] = text(params, field)
        if "metadata" in params:
            previous["metadata"] = customer["metadata"]
            customer["metadata"] = metadata(customer["metadata"], params)
        if "invoice_settings" in params:
            previous["invoice_settings"] = copy.deepcopy(customer["invoice_settings"])
            self._update_invoice_settings(customer, params, call)
        if previous:
            self.emit("customer.updated", customer, call, previous)
        return customer

    # -- payment methods ---------------------------------------------------------------------

    def create_payment_method(self, params: JSON, call: Call) -> JSON:
        check(params, PM_CREATE_PARAMS)
        kind = text(params, "type", required=True)
        if kind != "card":
            raise invalid("type", f"The fake Stripe takes card payment methods only, not {kind}.")
        card = sub(params, "card")
        number = (text(card, "number", path="card[number]") or "").replace(" ", "")
        if not number:
            raise missing("card[number]")
        return self._new_card(number, card, params, call)

    def _new_card(self, number: str, card: JSON, params: JSON, call: Call) -> JSON:
        if not cards.luhn_ok(number):
            raise StripeError(
                402,
                "Your card number is incorrect.",
                type="card_error",
                code="incorrect_number",
                param="number",
            )
        month = integer(card, "exp_month", required=True, path="card[exp_month]")
        year = integer(card, "exp_year", required=True, path="card[exp_year]")
        assert month is not None and year is not None
        if year < 100:
            year += 2000
        if not 1 <= month <= 12:
            raise StripeError(
                402,
                "Your card's expiration month is invalid.",
                type="card_error",
                code="invalid_expiry_month",
                param="exp_month",
            )
        today = time.gmtime()
        if year > today.tm_year + 50 or (year, month) < (today.tm_year, today.tm_mon):
            raise StripeError(
                402,
                "Your card's expiration year is invalid.",
                type="card_error",
                code="invalid_expiry_year",
                param="exp_year",
            )
        cvc = text(card, "cvc", path="card[cvc]")
        if cvc is not None and not (cvc.isdigit() and 3 <= len(cvc) <= 4):
            raise StripeError(
                402,
                "Your card's security code is invalid.",
                type="card_error",
                code="invalid_cvc",
                param="cvc",
            )
        behaviour = cards.behaviour(number)
        brand = cards.brand(number)
        billing = sub(params, "billing_details")
        address = sub(billing, "address")
        pm: JSON = {
            "id": new_id("pm_"),
            "object": "payment_method",
            "allow_redisplay": text(params, "allow_redisplay") or "unspecified",
            "billing_details": {
                "address": {
                    field: address.get(field) or None
                    for field in ("city", "country", "line1", "line2", "postal_code", "state")
                },
                "email": billing.get("email") or None,
                "name": billing.get("name") or None,
                "phone": billing.get("phone") or None,
                "tax_id": None,
            },
            "card": {
                "brand": brand,
                "checks": {
                    "address_line1_check": None,
                    "address_postal_code_check": None,
                    "cvc_check": "pass" if cvc else None,
                },
                "country": "US",
                "display_brand": brand,
                "exp_month": month,
                "exp_year": year,
                "fingerprint": number[-4:] + secrets.token_hex(6)[:12],
                "funding": behaviour.funding,
                "generated_from": None,
                "last4": number[-4:],
                "networks": {"available": [brand], "preferred": None},
                "regulated_status": "unregulated",
                "three_d_secure_usage": {"supported": True},
                "wallet": None,
            },
            "created": _now(),
            "customer": None,
            "livemode": call.livemode,
            "metadata": metadata({}, params),
            "type": "card",
        }
        self.numbers[pm["id"]] = number
        self._put(pm)
        return pm

    def _test_payment_method(self, name: str, call: Call) -> JSON:
        number = cards.TEST_PAYMENT_METHODS[name]
        card = {"exp_month": "12", "exp_year": str(time.gmtime().tm_year + 3), "cvc": "123"}
        return self._new_card(number, card, {}, call)

    def payment_method(self, pm_id: str, call: Call, param: str = "payment_method") -> JSON:
        """An existing payment method, or a new one for Stripe's ``pm_card_...`` test ids."""
        if pm_id in cards.TEST_PAYMENT_METHODS:
            return self._test_payment_method(pm_id, call)
        return self._get_kind(pm_id, "pm_", call, param)

    def attach_payment_method(self, pm_id: str, params: JSON, call: Call) -> JSON:
        check(params, ("customer",))
        pm = self.payment_method(pm_id, call, "payment_method")
        customer = self._get_kind(text(params, "customer"), "cus_", call, "customer")
        if pm["customer"] == customer["id"]:
            return pm
        if pm["customer"] is not None:
            raise StripeError(
                400,
                "The payment method you provided has already been attached to a customer.",
                code="payment_method_unexpected_state",
                param="payment_method",
            )
        self._attach(pm, customer["id"], call)
        return pm

    def _attach(self, pm: JSON, customer_id: str, call: Call) -> None:
        pm["customer"] = customer_id
        self.emit("payment_method.attached", pm, call, {"customer": None})

    def detach_payment_method(self, pm_id: str, params: JSON, call: Call) -> JSON:
        check(params, ())
        pm = self._get_kind(pm_id, "pm_", call, "payment_method")
        if pm["customer"] is None:
            raise StripeError(
                400,
                "The payment method you provided is not attached to a customer so detachment "
                "is impossible.",
                code="payment_method_unexpected_state",
                param="payment_method",
            )
        previous = pm["customer"]
        pm["customer"] = None
        self.set_up.discard(pm["id"])
        customer = self.objects.get(previous)
        if customer and customer["invoice_settings"]["default_payment_method"] == pm["id"]:
            customer["invoice_settings"]["default_payment_method"] = None
        self.emit("payment_method.detached", pm, call, {"customer": previous})
        return pm

    def list_payment_methods(
        self, customer_id: str | None, params: JSON, call: Call, url: str
    ) -> JSON:
        check(params, (*LIST_PARAMS, "customer", "type", "allow_redisplay"))
        customer_id = customer_id or text(params, "customer", required=True)
        self._get_kind(customer_id, "cus_", call, "customer")
        kind = choice(params, "type", ("card",))
        return self.list("pm_", url, call, params, customer=customer_id, type=kind)

    # -- payment intents ---------------------------------------------------------------------

    def create_payment_intent(self, params: JSON, call: Call) -> JSON:
        check(params, PI_PARAMS)
        amount = self._amount(params, required=True)
        currency = self._currency(params, required=True)
        capture = choice(params, "capture_method", ("automatic", "automatic_async", "manual"))
        if capture == "manual":
            raise invalid(
                "capture_method",
                "The fake Stripe captures automatically only "
                "(capture_method=manual is not supported).",
            )
        confirm = boolean(params, "confirm") or False
        for name in (
            "off_session",
            "error_on_requires_action",
            "return_url",
            "use_stripe_sdk",
            "mandate_data",
        ):
            if name in params and not confirm:
                raise invalid(name, f"You can only pass `{name}` when `confirm=true`.")
        customer = text(params, "customer")
        if customer:
            self._get_kind(customer, "cus_", call, "customer")
        automatic = sub(params, "automatic_payment_methods")
        pi_id = new_id("pi_")
        pi: JSON = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": None
            if "payment_method_types" in params
            else {
                "allow_redirects": automatic.get("allow_redirects") or "always",
                "enabled": True,
            },
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": capture or "automatic_async",
            "client_secret": f"{pi_id}_secret_{new_id('', 25)}",
            "confirmation_method": text(params, "confirmation_method") or "automatic",
            "created": _now(),
            "currency": currency,
            "customer": customer,
            "description": text(params, "description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": call.livemode,
            "metadata": metadata({}, params),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_configuration_details": None,
            "payment_method_options": {
                "card": {
                    "installments": None,
                    "mandate_options": None,
                    "network": None,
                    "request_three_d_secure": "automatic",
                }
            },
            "payment_method_types": ["card"],
            "processing": None,
            "receipt_email": text(params, "receipt_email"),
            "review": None,
            "setup_future_usage": choice(
                params, "setup_future_usage", ("on_session", "off_session")
            ),
            "shipping": None,
            "source": None,
            "statement_descriptor": text(params, "statement_descriptor"),
            "statement_descriptor_suffix": text(params, "statement_descriptor_suffix"),
            "status": "requires_payment_method",
            "transfer_data": None,
            "transfer_group": text(params, "transfer_group"),
        }
        pm = self._payment_method_of(params, call)
        self._check_payment_method_customer(pm, customer)
        if pm is not None:
            pi["payment_method"] = pm["id"]
            pi["status"] = "requires_confirmation"
        self._put(pi)
        self.emit("payment_intent.created", pi, call, None)
        if confirm:
            confirm_params = {k: v for k, v in params.items() if k in PI_CONFIRM_PARAMS}
            confirm_params.pop("payment_method", None)
            confirm_params.pop("payment_method_data", None)
            return self._confirm_payment_intent(pi, confirm_params, call)
        return pi

    def _amount(self, params: JSON, *, required: bool) -> int | None:
        amount = integer(params, "amount", required=required)
        if amount is None:
            return None
        if amount < MIN_AMOUNT:
            raise StripeError(
                400, "Amount must be at least $0.50 usd", code="amount_too_small", param="amount"
            )
        if amount > MAX_AMOUNT:
            raise StripeError(
                400,
                "Amount must be no more than $999,999.99",
                code="amount_too_large",
                param="amount",
            )
        return amount

    def _currency(self, params: JSON, *, required: bool) -> str | None:
        currency = text(params, "currency", required=required)
        if currency is None:
            return None
        currency = currency.lower()
        if len(currency) != 3 or not currency.isalpha():
            raise invalid(
                "currency",
                f"Invalid currency: {currency}. Stripe currently supports "
                "these currencies: usd, eur, gbp...",
            )
        return currency

    def _payment_method_of(self, params: JSON, call: Call) -> JSON | None:
        pm_id = text(params, "payment_method")
        if pm_id:
            return self.payment_method(pm_id, call)
        data = sub(params, "payment_method_data")
        if data:
            kind = text(data, "type", required=True, path="payment_method_data[type]")
            if kind != "card":
                raise invalid(
                    "payment_method_data[type]",
                    f"The fake Stripe takes card payment methods only, not {kind}.",
                )
            card = sub(data, "card")
            number = (text(card, "number", path="payment_method_data[card][number]") or "").replace(
                " ", ""
            )
            if not number:
                raise missing("payment_method_data[card][number]")
            return self._new_card(number, card, data, call)
        return None

    def _check_payment_method_customer(self, pm: JSON | None, customer: str | None) -> None:
        if pm is None or pm["customer"] is None or pm["customer"] == customer:
            return
        if customer is None:
            message = (
                f"The PaymentMethod {pm['id']} is attached to a Customer ({pm['customer']}). "
                "To use it, pass that customer ID as `customer`."
            )
        else:
            message = (
                f"The provided PaymentMethod {pm['id']} belongs to a different Customer "
                f"({pm['customer']}) than {customer}."
            )
        raise invalid("payment_method", message, "payment_method_unexpected_state")

    def payment_intent(self, pi_id: str, call: Call, client_secret: str | None = None) -> JSON:
        pi = self._get_kind(pi_id, "pi_", call, "intent")
        self._check_secret(pi, call, client_secret)
        return pi

    def _check_secret(self, intent: JSON, call: Call, client_secret: str | None) -> None:
        if not call.publishable:
            return
        if client_secret is None:
            raise missing("client_secret")
        if client_secret != intent["client_secret"]:
            kind = "PaymentIntent" if intent["object"] == "payment_intent" else "SetupIntent"
            raise invalid(
                "client_secret",
                f"The client_secret provided does not match the "
                f"client_secret associated with the {kind}.",
            )

    def update_payment_intent(self, pi_id: str, params: JSON, call: Call) -> JSON:
        check(params, PI_UPDATE_PARAMS)
        pi = self._get_kind(pi_id, "pi_", call, "intent")
        if pi["status"] in ("succeeded", "canceled", "processing"):
            raise _unexpected("PaymentIntent", "update", pi)
        amount = self._amount(params, required=False)
        if amount is not None:
            pi["amount"] = amount
        currency = self._currency(params, required=False)
        if currency is not None:
            pi["currency"] = currency
        if "customer" in params:
            customer = text(params, "customer")
            if customer:
                self._get_kind(customer, "cus_", call, "customer")
            pi["customer"] = customer
        for field in (
            "description",
            "receipt_email",
            "statement_descriptor",
            "statement_descriptor_suffix",
            "transfer_group",
        ):
            if field in params:
                pi[field] = text(params, field)
        if "setup_future_usage" in params:
            pi["setup_future_usage"] = choice(
                params, "setup_future_usage", ("on_session", "off_session")
            )
        pi["metadata"] = metadata(pi["metadata"], params)
        pm = self._payment_method_of(params, call)
        if pm is not None:
            self._check_payment_method_customer(pm, pi["customer"])
            pi["payment_method"] = pm["id"]
            pi["status"] = "requires_confirmation"
            pi["next_action"] = None
        return pi

    def confirm_payment_intent(self, pi_id: str, params: JSON, call: Call) -> JSON:
        check(params, PI_CONFIRM_PARAMS)
        pi = self.payment_intent(pi_id, call, text(params, "client_secret"))
        return self._confirm_payment_intent(pi, params, call)

    def _confirm_payment_intent(self, pi: JSON, params: JSON, call: Call) -> JSON:
        if pi["status"] not in PI_CONFIRMABLE:
            raise _unexpected("PaymentIntent", "confirm", pi)
        pm = self._payment_method_of(params, call)
        if pm is None and pi["payment_method"]:
            pm = self.get(pi["payment_method"], call)
        if pm is None:
            raise StripeError(
                400,
                "You cannot confirm this PaymentIntent because it's missing a payment method. To "
                "confirm the PaymentIntent with "
                f"{pi['customer'] or 'a customer'}, specify a payment method attached to this "
                "customer along with the customer ID.",
                code="payment_intent_unexpected_state",
                extra={"payment_intent": pi},
            )
        self._check_payment_method_customer(pm, pi["customer"])
        if "setup_future_usage" in params:
            pi["setup_future_usage"] = choice(
                params, "setup_future_usage", ("on_session", "off_session")
            )
        if "receipt_email" in params:
            pi["receipt_email"] = text(params, "receipt_email")
        if params.get("off_session") in ("one_off", "recurring"):
            off_session = True
        else:
            off_session = boolean(params, "off_session") or False
        error_on_action = boolean(params, "error_on_requires_action") or False
        pi["payment_method"] = pm["id"]
        pi["last_payment_error"] = None
        pi["next_action"] = None
        self.off_session[pi["id"]] = bool(off_session)
        behaviour = cards.behaviour(self.numbers[pm["id"]])
        if behaviour.three_d_secure:
            set_up = behaviour.three_d_secure == "one_time" and pm["id"] in self.set_up
            if off_session and not set_up:
                return self._decline_payment(
                    pi, pm, cards.AUTHENTICATION_REQUIRED, call, charge=False
                )
            if not off_session:
                if error_on_action:
                    return self._decline_payment(
                        pi, pm, cards.AUTHENTICATION_REQUIRED, call, charge=False
                    )
                self._require_action(pi, call, params)
                self.emit("payment_intent.requires_action", pi, call, None)
                return pi
        return self._charge(pi, pm, call, authenticated=False)

    def _require_action(self, intent: JSON, call: Call, params: JSON) -> None:
        """3-D Secure: ``redirect_to_url`` when confirmed with a ``return_url`` and without
        ``use_stripe_sdk`` (a server-side confirmation), else ``use_stripe_sdk`` (Stripe.js)."""
        intent["status"] = "requires_action"
        challenge = f"{call.base_url}/_fake/three_d_secure/{intent['id']}"
        return_url = text(params, "return_url")
        if return_url and not boolean(params, "use_stripe_sdk"):
            intent["next_action"] = {
                "type": "redirect_to_url",
                "redirect_to_url": {
                    "return_url": return_url,
                    "url": challenge + "?" + urlencode({"return_url": return_url}),
                },
            }
            return
        intent["next_action"] = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {
                "type": "three_d_secure_redirect",
                "source": new_id("src_"),
                "stripe_js": f"{call.base_url}/_fake/three_d_secure/{intent['id']}",
            },
        }

    def _charge_object(self, pi: JSON, pm: JSON, call: Call, *, authenticated: bool) -> JSON:
        card = pm["card"]
        return {
            "id": new_id("ch_"),
            "object": "charge",
            "amount": pi["amount"],
            "amount_captured": pi["amount"],
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": new_id("txn_"),
            "billing_details": copy.deepcopy(pm["billing_details"]),
            "calculated_statement_descriptor": "FAKE STRIPE",
            "captured": True,
            "created": _now(),
            "currency": pi["currency"],
            "customer": pi["customer"],
            "description": pi["description"],
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "fraud_details": {},
            "livemode": call.livemode,
            "metadata": dict(pi["metadata"]),
            "on_behalf_of": None,
            "outcome": {
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "risk_score": 20,
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
            "paid": True,
            "payment_intent": pi["id"],
            "payment_method": pm["id"],
            "payment_method_details": {
                "card": {
                    "amount_authorized": pi["amount"],
                    "brand": card["brand"],
                    "checks": dict(card["checks"]),
                    "country": card["country"],
                    "exp_month": card["exp_month"],
                    "exp_year": card["exp_year"],
                    "fingerprint": card["fingerprint"],
                    "funding": card["funding"],
                    "last4": card["last4"],
                    "network": card["brand"],
                    "three_d_secure": {
                        "authentication_flow": "challenge",
                        "result": "authenticated",
                        "version": "2.2.0",
                    }
                    if authenticated
                    else None,
                },
                "type": "card",
            },
            "receipt_email": pi["receipt_email"],
            "receipt_url": None,
            "refunded": False,
            "review": None,
            "shipping": None,
            "source_transfer": None,
            "statement_descriptor": pi["statement_descriptor"],
            "statement_descriptor_suffix": pi["statement_descriptor_suffix"],
            "status": "succeeded",
            "transfer_data": None,
            "transfer_group": pi["transfer_group"],
        }

    def _charge(self, pi: JSON, pm: JSON, call: Call, *, authenticated: bool) -> JSON:
        behaviour = cards.behaviour(self.numbers[pm["id"]])
        if behaviour.decline is not None:
            return self._decline_payment(pi, pm, behaviour.decline, call, charge=True)
        charge = self._put(self._charge_object(pi, pm, call, authenticated=authenticated))
        pi.update(
            status="succeeded",
            amount_received=pi["amount"],
            latest_charge=charge["id"],
            next_action=None,
            last_payment_error=None,
        )
        self.emit("charge.succeeded", charge, call, None)
        self.emit("payment_intent.succeeded", pi, call, None)
        if pi["setup_future_usage"] and pi["customer"]:
            if pm["customer"] is None:
                self._attach(pm, pi["customer"], call)
            if authenticated or not behaviour.three_d_secure:
                self.set_up.add(pm["id"])
        return pi

    def _decline_payment(
        self, pi: JSON, pm: JSON, decline: cards.Decline, call: Call, *, charge: bool
    ) -> JSON:
        charge_id = None
        if charge:
            failed = self._charge_object(pi, pm, call, authenticated=False)
            failed.update(
                amount_captured=0,
                balance_transaction=None,
                captured=False,
                failure_code=decline.code,
                failure_message=decline.message,
                paid=False,
                status="failed",
                outcome={
                    "network_status": "declined_by_network",
                    "reason": decline.decline_code or decline.code,
                    "risk_level": "normal",
                    "risk_score": 20,
                    "seller_message": "The bank did not return any further details with this "
                    "decline.",
                    "type": "issuer_declined",
                },
            )
            self._put(failed)
            charge_id = failed["id"]
            pi["latest_charge"] = charge_id
            self.emit("charge.failed", failed, call, None)
        error: JSON = {
            "type": "card_error",
            "code": decline.code,
            "doc_url": "https://stripe.com/docs/error-codes/" + decline.code,
            "message": decline.message,
            "payment_method": copy.deepcopy(pm),
        }
        if decline.decline_code:
            error["decline_code"] = decline.decline_code
        if charge_id:
            error["charge"] = charge_id
        pi.update(
            status="requires_payment_method",
            payment_method=None,
            next_action=None,
            last_payment_error=error,
        )
        self.emit("payment_intent.payment_failed", pi, call, None)
        extra: JSON = {"payment_intent": copy.deepcopy(pi), "payment_method": copy.deepcopy(pm)}
        if charge_id:
            extra["charge"] = charge_id
        raise StripeError(
            402,
            decline.message,
            type="card_error",
            code=decline.code,
            decline_code=decline.decline_code,
            extra=extra,
        )

    def cancel_payment_intent(self, pi_id: str, params: JSON, call: Call) -> JSON:
        check(params, ("cancellation_reason",))
        pi = self._get_kind(pi_id, "pi_", call, "intent")
        if pi["status"] not in PI_CANCELABLE:
            raise _unexpected(
                "PaymentIntent",
                "cancel",
                pi,
                "Only a PaymentIntent with one of the following statuses may be canceled: "
                + ", ".join(PI_CANCELABLE)
                + ".",
            )
        pi.update(
            status="canceled",
            canceled_at=_now(),
            cancellation_reason=choice(
                params,
                "cancellation_reason",
                ("duplicate", "fraudulent", "requested_by_customer", "abandoned"),
            ),
            next_action=None,
        )
        self.emit("payment_intent.canceled", pi, call, None)
        return pi

    def authenticate(self, intent_id: str, success: bool, call: Call) -> JSON:
        """The customer's answer to a pending 3-D Secure challenge (a control, not Stripe's API)."""
        intent = self.objects.get(intent_id)
        if intent is None or intent["object"] not in ("payment_intent", "setup_intent"):
            raise no_such("intent", intent_id, "intent")
        call = Call(livemode=intent["livemode"], base_url=call.base_url)
        kind = "PaymentIntent" if intent["object"] == "payment_intent" else "SetupIntent"
        if intent["status"] != "requires_action":
            raise _unexpected(kind, "authenticate", intent)
        pm = self.get(intent["payment_method"], call)
        if kind == "PaymentIntent":
            if success:
                return self._charge(intent, pm, call, authenticated=True)
            intent.update(
                status="requires_payment_method",
                payment_method=None,
                next_action=None,
                last_payment_error={
                    "type": "invalid_request_error",
                    "code": "payment_intent_authentication_failure",
                    "doc_url": "https://stripe.com/docs/error-codes/"
                    "payment_intent_authentication_failure",
                    "message": AUTHENTICATION_FAILED,
                    "payment_method": copy.deepcopy(pm),
                },
            )
            self.emit("payment_intent.payment_failed", intent, call, None)
            return intent
        if success:
            return self._setup_succeeded(intent, pm, call)
        intent.update(
            status="requires_payment_method",
            payment_method=None,
            next_action=None,
            last_setup_error={
                "type": "invalid_request_error",
                "code": "setup_intent_authentication_failure",
                "doc_url": "https://stripe.com/docs/error-codes/setup_intent_authentication_failure",
                "message": AUTHENTICATION_FAILED,
                "payment_method": copy.deepcopy(pm),
            },
        )
        self.emit("setup_intent.setup_failed", intent, call, None)
        return intent

    def list_payment_intents(self, params: JSON, call: Call, url: str) -> JSON:
        check(params, (*LIST_PARAMS, "customer"))
        return self.list("pi_", url, call, params, customer=text(params, "customer"))

    # -- setup intents -----------------------------------------------------------------------

    def create_setup_intent(self, params: JSON, call: Call) -> JSON:
        check(params, SI_PARAMS)
        confirm = boolean(params, "confirm") or False
        customer = text(params, "customer")
        if customer:
            self._get_kind(customer, "cus_", call, "customer")
        si_id = new_id("seti_")
        si: JSON = {
            "id": si_id,
            "object": "setup_intent",
            "application": None,
            "automatic_payment_methods": None
            if "payment_method_types" in params
            else {"allow_redirects": "always", "enabled": True},
            "cancellation_reason": None,
            "client_secret": f"{si_id}_secret_{new_id('', 25)}",
            "created": _now(),
            "customer": customer,
            "description": text(params, "description"),
            "flow_directions": None,
            "last_setup_error": None,
            "latest_attempt": None,
            "livemode": call.livemode,
            "mandate": None,
            "metadata": metadata({}, params),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_configuration_details": None,
            "payment_method_options": {
                "card": {
                    "mandate_options": None,
                    "network": None,
                    "request_three_d_secure": "automatic",
                }
            },
            "payment_method_types": ["card"],
            "single_use_mandate": None,
            "status": "requires_payment_method",
            "usage": choice(params, "usage", ("on_session", "off_session")) or "off_session",
        }
        pm = self._payment_method_of(params, call)
        self._check_payment_method_customer(pm, customer)
        if pm is not None:
            si["payment_method"] = pm["id"]
            si["status"] = "requires_confirmation"
        self._put(si)
        self.emit("setup_intent.created", si, call, None)
        if confirm:
            later = {k: v for k, v in params.items() if k in ("return_url", "use_stripe_sdk")}
            return self._confirm_setup_intent(si, later, call)
        return si

    def setup_intent(self, si_id: str, call: Call, client_secret: str | None = None) -> JSON:
        si = self._get_kind(si_id, "seti_", call, "intent")
        self._check_secret(si, call, client_secret)
        return si

    def confirm_setup_intent(self, si_id: str, params: JSON, call: Call) -> JSON:
        check(params, SI_CONFIRM_PARAMS)
        si = self.setup_intent(si_id, call, text(params, "client_secret"))
        return self._confirm_setup_intent(si, params, call)

    def _confirm_setup_intent(self, si: JSON, params: JSON, call: Call) -> JSON:
        if si["status"] not in PI_CONFIRMABLE:
            raise _unexpected("SetupIntent", "confirm", si)
        pm = self._payment_method_of(params, call)
        if pm is None and si["payment_method"]:
            pm = self.get(si["payment_method"], call)
        if pm is None:
            raise StripeError(
                400,
                "You cannot confirm this SetupIntent because it's missing a payment method.",
                code="setup_intent_unexpected_state",
                extra={"setup_intent": si},
            )
        self._check_payment_method_customer(pm, si["customer"])
        si.update(
            payment_method=pm["id"],
            last_setup_error=None,
            next_action=None,
            latest_attempt=new_id("setatt_"),
        )
        behaviour = cards.behaviour(self.numbers[pm["id"]])
        if behaviour.decline is not None:
            decline = behaviour.decline
            error: JSON = {
                "type": "card_error",
                "code": decline.code,
                "doc_url": "https://stripe.com/docs/error-codes/" + decline.code,
                "message": decline.message,
                "payment_method": copy.deepcopy(pm),
            }
            if decline.decline_code:
                error["decline_code"] = decline.decline_code
            si.update(status="requires_payment_method", payment_method=None, last_setup_error=error)
            self.emit("setup_intent.setup_failed", si, call, None)
            raise StripeError(
                402,
                decline.message,
                type="card_error",
                code=decline.code,
                decline_code=decline.decline_code,
                extra={"setup_intent": copy.deepcopy(si), "payment_method": copy.deepcopy(pm)},
            )
        if behaviour.three_d_secure:
            self._require_action(si, call, params)
            self.emit("setup_intent.requires_action", si, call, None)
            return si
        return self._setup_succeeded(si, pm, call)

    def _setup_succeeded(self, si: JSON, pm: JSON, call: Call) -> JSON:
        si.update(status="succeeded", next_action=None, last_setup_error=None)
        if si["customer"] and pm["customer"] is None:
            self._attach(pm, si["customer"], call)
        self.set_up.add(pm["id"])
        self.emit("setup_intent.succeeded", si, call, None)
        return si

    def cancel_setup_intent(self, si_id: str, params: JSON, call: Call) -> JSON:
        check(params, ("cancellation_reason",))
        si = self._get_kind(si_id, "seti_", call, "intent")
        if si["status"] in ("succeeded", "canceled", "processing"):
            raise _unexpected("SetupIntent", "cancel", si)
        si.update(
            status="canceled",
            next_action=None,
            cancellation_reason=choice(
                params, "cancellation_reason", ("abandoned", "duplicate", "requested_by_customer")
            ),
        )
        self.emit("setup_intent.canceled", si, call, None)
        return si

    # -- charges, refunds, disputes ----------------------------------------------------------

    def charge(self, charge_id: str, call: Call) -> JSON:
        return self._get_kind(charge_id, "ch_", call, "charge")

    def list_charges(self, params: JSON, call: Call, url: str) -> JSON:
        check(params, (*LIST_PARAMS, "customer", "payment_intent"))
        return self.list(
            "ch_",
            url,
            call,
            params,
            customer=text(params, "customer"),
            payment_intent=text(params, "payment_intent"),
        )

    def create_refund(self, params: JSON, call: Call) -> JSON:
        check(params, REFUND_PARAMS)
        charge_id = text(params, "charge")
        pi_id = text(params, "payment_intent")
        if charge_id and pi_id:
            raise invalid(
                "payment_intent",
                "You may only specify one of these parameters: charge, payment_intent.",
            )
        if pi_id:
            pi = self._get_kind(pi_id, "pi_", call, "payment_intent")
            if pi["status"] != "succeeded" or not pi["latest_charge"]:
                raise StripeError(
                    400,
                    f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                    code="charge_not_refundable",
                    param="payment_intent",
                )
            charge_id = pi["latest_charge"]
        if not charge_id:
            raise StripeError(
                400,
                "One of the following params should be provided for this "
                "request: payment_intent or charge.",
                code="parameter_missing",
            )
        charge = self._get_kind(charge_id, "ch_", call, "charge")
        reason = choice(params, "reason", REFUND_REASONS)
        return self.refund(charge, integer(params, "amount"), reason, params, call)

    def refund(
        self, charge: JSON, amount: int | None, reason: str | None, params: JSON, call: Call
    ) -> JSON:
        """Refund ``amount`` (the rest by default) of ``charge``; emits ``refund.created`` and
        ``charge.refunded``."""
        if charge["status"] != "succeeded":
            raise StripeError(
                400,
                f"Charge {charge['id']} has not succeeded; it cannot be refunded.",
                code="charge_not_refundable",
                param="charge",
            )
        dispute = self._open_dispute_of(charge["id"])
        if dispute is not None:
            raise StripeError(
                400,
                f"Charge {charge['id']} has been charged back; cannot issue a refund.",
                code="charge_disputed",
                param="charge",
            )
        left = charge["amount"] - charge["amount_refunded"]
        if left <= 0:
            raise StripeError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
                param="charge",
            )
        if amount is None:
            amount = left
        if amount <= 0:
            raise invalid("amount", "Invalid positive integer", "parameter_invalid_integer")
        if amount > left:
            raise StripeError(
                400,
                f"Refund amount ({_dollars(amount)}) is greater than unrefunded amount on charge "
                f"({_dollars(left)})",
                code="amount_too_large",
                param="amount",
            )
        refund = self._put(
            {
                "id": new_id("re_"),
                "object": "refund",
                "amount": amount,
                "balance_transaction": new_id("txn_"),
                "charge": charge["id"],
                "created": _now(),
                "currency": charge["currency"],
                "destination_details": {
                    "card": {
                        "reference": new_id("", 12),
                        "reference_status": "available",
                        "reference_type": "acquirer_reference_number",
                        "type": "refund",
                    },
                    "type": "card",
                },
                "livemode": charge["livemode"],
                "metadata": metadata({}, params),
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "receipt_number": None,
                "source_transfer_reversal": None,
                "status": "succeeded",
                "transfer_reversal": None,
            }
        )
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        self.emit("refund.created", refund, call, None)
        self.emit("charge.refunded", charge, call, previous)
        return refund

    def list_refunds(self, params: JSON, call: Call, url: str) -> JSON:
        check(params, (*LIST_PARAMS, "charge", "payment_intent"))
        return self.list(
            "re_",
            url,
            call,
            params,
            charge=text(params, "charge"),
            payment_intent=text(params, "payment_intent"),
        )

    def _open_dispute_of(self, charge_id: str) -> JSON | None:
        for obj in self.objects.values():
            if (
                obj["object"] == "dispute"
                and obj["charge"] == charge_id
                and obj["status"] not in ("won", "lost")
            ):
                return obj
        return None

    def open_dispute(self, charge_id: str, params: JSON, call: Call) -> JSON:
        """A cardholder disputes ``charge_id`` (a control): emits ``charge.dispute.created``."""
        charge = self.objects.get(charge_id)
        if charge is None or charge["object"] != "charge":
            raise no_such("charge", charge_id, "charge")
        call = Call(livemode=charge["livemode"], base_url=call.base_url)
        if charge["status"] != "succeeded":
            raise StripeError(
                400,
                f"Charge {charge_id} has not succeeded.",
                code="charge_not_refundable",
                param="charge",
            )
        if charge["disputed"]:
            raise StripeError(
                400,
                f"Charge {charge_id} is already disputed.",
                code="charge_disputed",
                param="charge",
            )
        amount = integer(params, "amount") or charge["amount"]
        if not 0 < amount <= charge["amount"]:
            raise invalid("amount", "A dispute's amount is between 1 and the charge's amount.")
        reason = text(params, "reason") or "fraudulent"
        now = _now()
        dispute = self._put(
            {
                "id": new_id("dp_"),
                "object": "dispute",
                "amount": amount,
                "balance_transactions": [],
                "charge": charge_id,
                "created": now,
                "currency": charge["currency"],
                "evidence": {
                    "customer_name": None,
                    "customer_email_address": None,
                    "uncategorized_text": None,
                },
                "evidence_details": {
                    "due_by": now + 7 * 86400,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "is_charge_refundable": False,
                "livemode": charge["livemode"],
                "metadata": {},
                "payment_intent": charge["payment_intent"],
                "payment_method_details": {
                    "card": {
                        "brand": charge["payment_method_details"]["card"]["brand"],
                        "network_reason_code": "10.4",
                    },
                    "type": "card",
                },
                "reason": reason,
                "status": "needs_response",
            }
        )
        charge["disputed"] = True
        self.emit("charge.dispute.created", dispute, call, None)
        return dispute

    def dispute(self, dispute_id: str, call: Call) -> JSON:
        return self._get_kind(dispute_id, "dp_", call, "dispute")

    def close_dispute(self, dispute_id: str, status: str, call: Call) -> JSON:
        """Close a dispute ``won`` or ``lost``: emits ``charge.dispute.closed``."""
        dispute = self.objects.get(dispute_id)
        if dispute is None or dispute["object"] != "dispute":
            raise no_such("dispute", dispute_id, "dispute")
        call = Call(
            livemode=dispute["livemode"],
            base_url=call.base_url,
            request_id=call.request_id,
            idempotency_key=call.idempotency_key,
        )
        if dispute["status"] in ("won", "lost"):
            raise StripeError(
                400,
                f"This dispute is already closed ({dispute['status']}).",
                code="dispute_already_closed",
                param="dispute",
            )
        previous = {"status": dispute["status"]}
        dispute["status"] = status
        self.emit("charge.dispute.closed", dispute, call, previous)
        return dispute

    def list_disputes(self, params: JSON, call: Call, url: str) -> JSON:
        check(params, (*LIST_PARAMS, "charge", "payment_intent"))
        return self.list(
            "dp_",
            url,
            call,
            params,
            charge=text(params, "charge"),
            payment_intent=text(params, "payment_intent"),
        )
