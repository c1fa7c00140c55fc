"""Spend keys (`docs/current-api.md#spend-keys`)."""
