"""The ``lavapayments`` logger; ``LAVA_LOG=debug`` (or ``info``) turns it on at import."""

from __future__ import annotations

import logging
import os

from ._redact import redact

logger = logging.getLogger("lavapayments")


class _RedactSecrets(logging.Filter):
    """Last line of defence: no record of ours may carry a secret key."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


logger.addFilter(_RedactSecrets())


def setup_logging() -> None:
    """Apply ``LAVA_LOG`` (``debug`` or ``info``): set the level and log to stderr."""
    level = {"debug": logging.DEBUG, "info": logging.INFO}.get(
        os.environ.get("LAVA_LOG", "").strip().lower()
    )
    if level is None:
        return
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter("[%(asctime)s - %(name)s:%(lineno)d - %(levelname)s] %(message)s")
        )
        logger.addHandler(handler)
