"""Stripe's errors: ``{"error": {"type", "code", "decline_code", "message", "param", ...}}``."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

DOCS = "https://stripe.com/docs/error-codes/"

# Errors raised once a request has started to act: Stripe keeps their answer under the
# request's Idempotency-Key (a validation error is not kept, the same key may be used again).
KEPT_CODES = frozenset(
    {
        "payment_intent_unexpected_state",
        "setup_intent_unexpected_state",
        "charge_already_refunded",
        "charge_disputed",
        "amount_too_large",
        "charge_not_refundable",
        "payment_method_unexpected_state",
    }
)


class StripeError(Exception):
    """An error answer. ``status`` is the HTTP status; the rest is the ``error`` object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: JSON | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = extra or {}

    @property
    def kept(self) -> bool:
        """Whether the answer is stored under the request's Idempotency-Key."""
        return self.status == 402 or self.code in KEPT_CODES

    def body(self) -> JSON:
        error: JSON = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = DOCS + self.code
        if self.decline_code:
            error["decline_code"] = self.decline_code
        if self.param:
            error["param"] = self.param
        error.update(self.extra)
        if self.status >= 400:
            error.setdefault("request_log_url", None)
        return {"error": error}


def missing(param: str) -> StripeError:
    return StripeError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def unknown(param: str) -> StripeError:
    return StripeError(
        400,
        f"Received unknown parameter: {param}",
        code="parameter_unknown",
        param=param,
    )


def invalid(param: str, message: str, code: str = "parameter_invalid_string") -> StripeError:
    return StripeError(400, message, code=code, param=param)


def no_such(
    kind: str, object_id: str, param: str | None = None, other_mode: str = ""
) -> StripeError:
    message = f"No such {kind}: '{object_id}'"
    if other_mode:
        message += (
            f"; a similar object exists in {other_mode} mode, but a "
            f"{'live' if other_mode == 'test' else 'test'} mode key was used to make this request."
        )
    return StripeError(404, message, code="resource_missing", param=param)


def unexpected_state(kind: str, action: str, obj: JSON, allowed: str = "") -> StripeError:
    message = f"You cannot {action} this {kind} because it has a status of {obj['status']}."
    if allowed:
        message += f" {allowed}"
    code = (
        "payment_intent_unexpected_state"
        if kind == "PaymentIntent"
        else ("setup_intent_unexpected_state")
    )
    field = "payment_intent" if kind == "PaymentIntent" else "setup_intent"
    return StripeError(400, message, code=code, extra={field: obj})
