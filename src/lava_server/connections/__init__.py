"""Connections: a merchant's link to a customer's wallet."""
