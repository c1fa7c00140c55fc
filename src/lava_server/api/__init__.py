"""What every API route shares: authentication, rate limits, pagination, idempotency, and the
ASGI middleware that sets request ids and limits bodies."""
