"""Usage reports (`api.md` 6), from roll-ups kept in the same transaction as each request."""
