"""Response models (``Rest*``, as in the Node SDK) and parameter dictionaries."""

from .checkout_session import CheckoutMode, RestCheckoutSession
from .connection import RestConnection, RestConnectionWallet
from .params import (
    CheckoutSessionsListParams,
    ConnectionsListParams,
    CreateCheckoutSessionParams,
    CreateRequestParams,
    CreateSubscriptionConfigParams,
    MetadataFilters,
    RequestsListParams,
    UpdateSubscriptionConfigParams,
    UsageParams,
)
from .request import (
    Payer,
    RestRequest,
    RestRequestFee,
    RestRequestFeeBreakdown,
    RestRequestFeeTier,
    RestRequestModelUsage,
    RestRequestServiceCharge,
)
from .shared import SuccessResponse
from .subscription import (
    RestActiveSubscription,
    RestActiveSubscriptionWallet,
    RestSubscriptionConfig,
    RolloverType,
)
from .usage import RestUsage, RestUsageItem, RestUsageTotals
from .webhook import (
    DeletedResponse,
    EventNames,
    RestWebhook,
    RestWebhookAttempt,
    RestWebhookCreate,
    RestWebhookDelivery,
)

__all__ = [
    "CheckoutMode",
    "CheckoutSessionsListParams",
    "ConnectionsListParams",
    "CreateCheckoutSessionParams",
    "CreateRequestParams",
    "CreateSubscriptionConfigParams",
    "DeletedResponse",
    "EventNames",
    "MetadataFilters",
    "Payer",
    "RequestsListParams",
    "RestActiveSubscription",
    "RestActiveSubscriptionWallet",
    "RestCheckoutSession",
    "RestConnection",
    "RestConnectionWallet",
    "RestRequest",
    "RestRequestFee",
    "RestRequestFeeBreakdown",
    "RestRequestFeeTier",
    "RestRequestModelUsage",
    "RestRequestServiceCharge",
    "RestSubscriptionConfig",
    "RestUsage",
    "RestUsageItem",
    "RestUsageTotals",
    "RestWebhook",
    "RestWebhookAttempt",
    "RestWebhookCreate",
    "RestWebhookDelivery",
    "RolloverType",
    "SuccessResponse",
    "UpdateSubscriptionConfigParams",
    "UsageParams",
]
