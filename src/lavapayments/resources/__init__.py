"""The resources of the clients, each as a sync and an async twin with identical signatures."""

from .checkout_sessions import AsyncCheckoutSessions, CheckoutSessions
from .connections import AsyncConnections, Connections
from .current import (
    AsyncCreditBundles,
    AsyncCustomers,
    AsyncMeters,
    AsyncModels,
    AsyncSecretKeys,
    CreditBundles,
    Customers,
    Meters,
    Models,
    SecretKeys,
)
from .payments import (
    Adjustments,
    AsyncAdjustments,
    AsyncCredits,
    AsyncPayments,
    AsyncRefunds,
    Credits,
    Payments,
    Refunds,
)
from .products import AsyncProducts, Products
from .requests import AsyncRequests, Requests
from .spend_keys import AsyncSpendKeys, SpendKeys
from .subscriptions import AsyncSubscriptions, Subscriptions
from .usage import AsyncUsage, Usage
from .webhooks import AsyncWebhooks, Webhooks

__all__ = [
    "Adjustments",
    "AsyncAdjustments",
    "AsyncCheckoutSessions",
    "AsyncConnections",
    "AsyncCreditBundles",
    "AsyncCredits",
    "AsyncCustomers",
    "AsyncMeters",
    "AsyncModels",
    "AsyncPayments",
    "AsyncProducts",
    "AsyncRefunds",
    "AsyncRequests",
    "AsyncSecretKeys",
    "AsyncSpendKeys",
    "AsyncSubscriptions",
    "AsyncUsage",
    "AsyncWebhooks",
    "CheckoutSessions",
    "Connections",
    "CreditBundles",
    "Credits",
    "Customers",
    "Meters",
    "Models",
    "Payments",
    "Products",
    "Refunds",
    "Requests",
    "SecretKeys",
    "SpendKeys",
    "Subscriptions",
    "Usage",
    "Webhooks",
]
