"""Subscriptions (`docs/checkout-and-wallets.md`): plans (`subscription-configs`), active
subscriptions, renewals on the billing anchor, and the period credit they grant."""
