"""Products: the merchant's pricing configurations (`pricing.md`)."""
