"""Subscriptions (`api.md` 7): plans (`subscription-configs`), active subscriptions, renewals on
the billing anchor, and the period credit they grant."""
