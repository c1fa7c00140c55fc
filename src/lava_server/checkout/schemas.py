from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import NotRequired, TypedDict

from lava_server.api.schemas import closed
from lava_server.timeutil import Timestamp

Mode = Literal["onboarding", "topup", "subscription", "credit_bundle"]
Text = Annotated[str, Field(min_length=1, max_length=255)]
ObjectId = Annotated[str, Field(min_length=1, max_length=64)]
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
_IPV6 = re.compile(r"[0-9a-f:.]+")


def origin_of(url: str) -> str:
    """The origin (`https://shop.example:8443`) of an http(s) URL, or ValueError. Used as the
    page's `frame-ancestors` and postMessage target, so nothing but a plain origin gets out."""
    if any(char.isspace() or char in "\"'<>;,\\" for char in url):
        raise ValueError("must be an http or https URL without spaces or quotes")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL, like https://shop.example")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain a user name or password")
    host = parts.hostname
    if ":" in host:
        if not _IPV6.fullmatch(host):
            raise ValueError("has an invalid host")
        host = f"[{host}]"
    elif not _HOST.fullmatch(host):
        raise ValueError("has an invalid host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


class CheckoutSessionCreate(BaseModel):
    """The seed's `CreateCheckoutSessionParams` and the current API's: `customer_id` is a
    `connection_id`, `plan_id` a `subscription_config_id` (`docs/current-api.md#checkout`)."""

    model_config = ConfigDict(extra="forbid")

    checkout_mode: Mode
    origin_url: Annotated[
        str, Field(min_length=1, max_length=2048, examples=["https://shop.example"])
    ]
    reference_id: Text | None = None
    connection_id: Text | None = None
    subscription_config_id: ObjectId | None = None
    customer_id: Text | None = None
    plan_id: ObjectId | None = None
    credit_bundle_id: ObjectId | None = None

    @field_validator("origin_url")
    @classmethod
    def _origin(cls, value: str) -> str:
        origin_of(value)
        return value


@closed
class RestCheckoutSession(TypedDict):
    """A checkout session. `checkout_session_token` is what the merchant's front end opens
    (standard base64 of `{"secret", "base"}`); `completed_at` and `connection_id` appear once
    the customer has finished."""

    checkout_session_id: str
    checkout_session_token: str
    checkout_mode: Mode
    origin_url: str
    created_at: Timestamp
    expires_at: Timestamp
    connection_id: NotRequired[str]
    reference_id: NotRequired[str]
    subscription_config_id: NotRequired[str]
    completed_at: NotRequired[Timestamp]
    customer_id: NotRequired[str]
    plan_id: NotRequired[str]
    credit_bundle_id: NotRequired[str]
