"""The resources of the clients, each as a sync and an async twin with identical signatures."""

from .checkout_sessions import AsyncCheckoutSessions, CheckoutSessions
from .connections import AsyncConnections, Connections
from .requests import AsyncRequests, Requests
from .subscriptions import AsyncSubscriptions, Subscriptions
from .usage import AsyncUsage, Usage
from .webhooks import AsyncWebhooks, Webhooks

__all__ = [
    "AsyncCheckoutSessions",
    "AsyncConnections",
    "AsyncRequests",
    "AsyncSubscriptions",
    "AsyncUsage",
    "AsyncWebhooks",
    "CheckoutSessions",
    "Connections",
    "Requests",
    "Subscriptions",
    "Usage",
    "Webhooks",
]
