"""Python SDK for the Lava Payments API."""
