"""Merchants and their secret keys (managed from the `lava` command)."""
