"""Self-hostable, Lava-compatible usage-based billing server."""

__version__ = "0.1.0"
