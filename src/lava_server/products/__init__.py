"""Products: the merchant's pricing configurations (`docs/pricing.md`)."""
