"""The resources of the clients, each as a sync and an async twin with identical signatures."""

from .checkout_sessions import AsyncCheckoutSessions, CheckoutSessions
from .connections import AsyncConnections, Connections
from .current import (
    AsyncCustomers,
    AsyncMeters,
    AsyncModels,
    AsyncSecretKeys,
    Customers,
    Meters,
    Models,
    SecretKeys,
)
from .requests import AsyncRequests, Requests
from .subscriptions import AsyncSubscriptions, Subscriptions
from .usage import AsyncUsage, Usage
from .webhooks import AsyncWebhooks, Webhooks

__all__ = [
    "AsyncCheckoutSessions",
    "AsyncConnections",
    "AsyncCustomers",
    "AsyncMeters",
    "AsyncModels",
    "AsyncRequests",
    "AsyncSecretKeys",
    "AsyncSubscriptions",
    "AsyncUsage",
    "AsyncWebhooks",
    "CheckoutSessions",
    "Connections",
    "Customers",
    "Meters",
    "Models",
    "Requests",
    "SecretKeys",
    "Subscriptions",
    "Usage",
    "Webhooks",
]
