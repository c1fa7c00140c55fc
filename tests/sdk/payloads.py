"""Wire-format objects shaped exactly like the seed's ``Rest*`` types."""

from __future__ import annotations

from typing import Any

TS = "2025-05-01T12:00:00Z"


def checkout_session(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "checkout_session_id": "cs_test_01JCHECKOUT",
        "checkout_session_token": "css_test_token",
        "checkout_mode": "onboarding",
        "origin_url": "https://app.example.com",
        "reference_id": "user_1",
        "created_at": TS,
    }
    return {**body, **overrides}


def connection(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "connection_id": "con_test_01JCONNECTION",
        "connection_secret": "cons_test_secret",
        "reference_id": "user_1",
        "wallet": {
            "balance": "12.5000000000",
            "phone": "+15555550100",
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "autopay_enabled": False,
        },
        "next_usage_reset": "2025-06-01T00:00:00Z",
        "previous_usage_reset": "2025-05-01T00:00:00Z",
        "created_at": TS,
    }
    return {**body, **overrides}


def request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": "req_test_01JREQUEST",
        "status": "completed",
        "connection_id": "con_test_01JCONNECTION",
        "product_id": "prd_test_01JPRODUCT",
        "provider": "openai",
        "provider_key_type": "managed",
        "model": "gpt-4o-mini",
        "endpoint": "POST /v1/chat/completions",
        "response_id": "chatcmpl-1",
        "model_usage": {
            "input_tokens": 10,
            "output_tokens": 20,
            "total_tokens": 30,
            "input_characters": 0,
            "output_characters": 0,
            "total_characters": 0,
            "input_seconds": 0,
            "output_seconds": 0,
            "total_seconds": 0,
            "input_cost": "0.0000015000",
            "output_cost": "0.0000120000",
            "total_cost": "0.0000135000",
            "payer": "wallet",
        },
        "fee": {
            "amount": "0.0000300000",
            "rate_type": "fixed",
            "token_basis": "input+output",
            "breakdown": [
                {
                    "tier": {"start": 0, "rate": "1.0000000000", "type": "tokens_1m"},
                    "tokens": 30,
                    "characters": 0,
                    "seconds": 0,
                    "cost": "0.0000300000",
                }
            ],
        },
        "service_charge": {"amount": "0.0000010000", "payer": "merchant"},
        "total_request_cost": "0.0000445000",
        "total_wallet_cost": "0.0000435000",
        "total_merchant_cost": "0.0000010000",
        "metadata": {"user_id": "123"},
        "timestamp": TS,
        "created_at": TS,
    }
    return {**body, **overrides}


def usage_totals(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "total_requests": 0,
        "total_usage_tokens": 0,
        "total_usage_cost": "0.0000000000",
        "total_fee_amount": "0.0000000000",
        "total_service_charge_amount": "0.0000000000",
        "total_request_cost": "0.0000000000",
        "total_wallet_cost": "0.0000000000",
        "total_merchant_cost": "0.0000000000",
    }
    return {**body, **overrides}


def usage() -> dict[str, Any]:
    day = {
        "date": "2025-05-01",
        "start": "2025-05-01T00:00:00Z",
        "end": "2025-05-02T00:00:00Z",
        **usage_totals(total_requests=1, total_usage_tokens=30, total_usage_cost="0.0000135000"),
    }
    return {
        "items": [day],
        "totals": usage_totals(
            total_requests=1, total_usage_tokens=30, total_usage_cost="0.0000135000"
        ),
    }


def subscription_config(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subscription_config_id": "sc_test_01JCONFIG",
        "merchant_id": "mer_test_01JMERCHANT",
        "name": "Pro",
        "period_amount": "25.0000000000",
        "rollover_type": "full",
        "created_at": TS,
    }
    return {**body, **overrides}


def active_subscription(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "active_subscription_id": "as_test_01JACTIVE",
        "wallet_id": "wal_test_01JWALLET",
        "subscription_config_id": "sc_test_01JCONFIG",
        "started_at": TS,
        "billing_anchor": 1,
        "status": "active",
        "created_at": TS,
        "subscription_config": subscription_config(),
        "wallet": {
            "wallet_id": "wal_test_01JWALLET",
            "phone": "+15555550100",
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "active_balance": "25.0000000000",
            "created_at": TS,
        },
    }
    return {**body, **overrides}


def webhook(**overrides: Any) -> dict[str, Any]:
    return {
        "webhook_id": "wh_1",
        "name": "Backend",
        "url": "https://hooks.example.com/lava",
        "created_at": "2026-12-06T16:00:00.000Z",
        "enabled_events": ["*"],
        "event_names": "current",
        "status": "enabled",
        "livemode": False,
        **overrides,
    }


def webhook_delivery(**overrides: Any) -> dict[str, Any]:
    return {
        "delivery_id": "whd_1",
        "webhook_id": "wh_1",
        "event_id": "evt_1",
        "event_type": "ping",
        "status": "delivered",
        "attempt_count": 1,
        "next_attempt_at": None,
        "created_at": "2026-12-06T16:00:00.000Z",
        "delivered_at": "2026-12-06T16:00:01.000Z",
        "attempts": [
            {
                "attempted_at": "2026-12-06T16:00:01.000Z",
                "status_code": 200,
                "duration_ms": 12,
                "response_body": "ok",
                "error": None,
            }
        ],
        **overrides,
    }


def page(data: list[dict[str, Any]], next_cursor: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"data": data, "has_more": next_cursor is not None}
    if next_cursor is not None:
        body["next_cursor"] = next_cursor
    return body


def error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "code": code, "status": status}}


def customer(**overrides: Any) -> dict[str, Any]:
    return {
        "customer_id": "con_1",
        "reference_id": "user-1",
        "contact": {"phone": "", "email": "a@b.example", "first_name": "Ada", "last_name": ""},
        "subscription": None,
        "metadata": {"k": "v"},
        "created_at": "2026-12-06T16:00:00.000Z",
        **overrides,
    }


def meter(**overrides: Any) -> dict[str, Any]:
    return {
        "meter_id": "prd_1",
        "meter_slug": "chat",
        "name": "Chat",
        "rate_type": "fixed",
        "tiers": [{"start": 0, "rate": "2.5", "type": "tokens_1m"}],
        "created_at": "2026-12-06T16:00:00.000Z",
        **overrides,
    }


def secret_key(**overrides: Any) -> dict[str, Any]:
    return {
        "secret_key_id": "key_1",
        "name": "CI",
        "secret_key_hint": "abcd",
        "created_at": "2026-12-06T16:00:00.000Z",
        **overrides,
    }


def spend_key(**overrides: Any) -> dict[str, Any]:
    return {
        "spend_key_id": "spk_1",
        "key_preview": "lava_sk_abcdefgh****",
        "name": "Agent",
        "status": "active",
        "request_shape": "openai",
        "wallet_id": "mer_1",
        "allowed_models": None,
        "allowed_providers": None,
        "spend_limit": {"amount": "0.0500000000", "cycle": "daily"},
        "current_spend": "0.0000000000",
        "total_spend": "0.0000000000",
        "request_limit": None,
        "current_requests": 0,
        "total_requests": 0,
        "rate_limit": None,
        "expires_at": None,
        "last_used_at": None,
        "created_at": "2026-12-06T16:00:00.000Z",
        "customer_id": None,
        "meter_id": None,
        "meter_slug": None,
        **overrides,
    }


def product(**overrides: Any) -> dict[str, Any]:
    return {
        "product_id": "prd_1",
        "product_secret": "ps_1",
        "name": "Chat",
        "meter_slug": "chat",
        "rate_type": "fixed",
        "token_basis": "input+output",
        "tiers": [{"start": 0, "rate": "2.5", "type": "tokens_1m"}],
        "base_cost_payer": "wallet",
        "service_charge_payer": "wallet",
        "overdraft": "block",
        "created_at": "2026-12-06T16:00:00.000Z",
        "updated_at": "2026-12-06T16:00:00.000Z",
        **overrides,
    }


def credit_bundle(**overrides: Any) -> dict[str, Any]:
    return {
        "credit_bundle_id": "cb_1",
        "plan_id": "sc_1",
        "name": "Top-up",
        "cost": "10.00",
        "credit_amount": "12.50",
        "created_at": "2026-12-06T16:00:00.000Z",
        **overrides,
    }


def plan(**overrides: Any) -> dict[str, Any]:
    return {
        "plan_id": "sc_1",
        "merchant_id": "mer_1",
        "name": "Pro",
        "period_amount": "25.00",
        "included_credit": "20.00",
        "billing_interval": "month",
        "rollover_type": "none",
        "bundle_rollover_type": "full",
        "default_auto_top_up_bundle_id": "cb_1",
        "linked_meters": [{"meter_id": "prd_1", "name": "Chat"}],
        "credit_bundles": [
            {"credit_bundle_id": "cb_1", "name": "Top-up", "cost": "10", "credit_amount": "12.5"}
        ],
        "created_at": "2026-12-06T16:00:00.000Z",
        **overrides,
    }


def subscription_base(**overrides: Any) -> dict[str, Any]:
    return {
        "subscription_id": "as_1",
        "plan_id": "sc_1",
        "status": "active",
        "auto_top_up_bundle_id": None,
        "started_at": "2026-12-06T16:00:00.000Z",
        "cancelled_at": None,
        "cycle_start_at": "2026-12-06T16:00:00.000Z",
        "cycle_end_at": "2027-01-06T16:00:00.000Z",
        "plan": {
            "name": "Pro",
            "period_amount": "25.00",
            "included_credit": "20.00",
            "billing_interval": "month",
            "rollover_type": "none",
            "bundle_rollover_type": "full",
        },
        "credits": {"total_remaining": "20", "cycle_remaining": "20", "bundle_remaining": "0"},
        "pending_change": {"type": "cancellation", "effective_at": "2027-01-06T16:00:00.000Z"},
        **overrides,
    }


def subscription(**overrides: Any) -> dict[str, Any]:
    return {
        **subscription_base(),
        "customer_id": "con_1",
        "customer": {"phone": "+15550100"},
        **overrides,
    }
