"""Usage reports (`GET /v1/usage`), from roll-ups kept in the same transaction as each request."""
