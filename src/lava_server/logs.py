"""The server's log lines: `text` (the default) or `json`, one object a line
(`LAVA_LOG_FORMAT`), for `lava serve` (its uvicorn processes too) and `lava worker`.

A JSON line holds `time` (UTC, ISO 8601), `level`, `logger`, `message`, and when known the
`request_id` and `merchant` of the request being served (context variables set by
`api.context` and `api.auth`), and the `method`, `route`, `status` and `duration_ms` of a
request line (`LAVA_LOG_REQUESTS`). An error's traceback is in `exception`.

No secret is ever logged: secret keys, spend keys, forward tokens, connection, product and
checkout secrets, webhook signing secrets, passwords and provider keys stay out of every
message (the test suite checks its own logs for every secret it created, `tests/leaks.py`).
"""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("lava_request_id", default=None)
MERCHANT: ContextVar[str | None] = ContextVar("lava_merchant", default=None)

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
_REQUEST_FIELDS = ("method", "route", "status", "duration_ms")


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        merchant = getattr(record, "merchant", None) or MERCHANT.get()
        if merchant:
            line["merchant"] = merchant
        for name in _REQUEST_FIELDS:
            found = getattr(record, name, None)
            if found is not None:
                line[name] = found
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def config(level: str, style: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the server's loggers and uvicorn's (whose worker
    processes, under `--workers`, apply it themselves)."""
    level = level.upper()
    if style == "json":
        formatters: dict[str, Any] = {
            name: {"()": f"{__name__}.JsonFormatter"} for name in ("lava", "uvicorn", "access")
        }
    else:
        formatters = {
            "lava": {"format": TEXT_FORMAT},
            "uvicorn": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(message)s",
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            },
        }

    def handler(formatter: str, stream: str) -> dict[str, str]:
        return {"class": "logging.StreamHandler", "formatter": formatter, "stream": stream}

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "handlers": {
            "lava": handler("lava", "ext://sys.stderr"),
            "uvicorn": handler("uvicorn", "ext://sys.stderr"),
            "access": handler("access", "ext://sys.stdout"),
        },
        "loggers": {
            "uvicorn": {"handlers": ["uvicorn"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
        },
        "root": {"handlers": ["lava"], "level": level},
    }


def configure(level: str, style: str) -> None:
    """Set up this process's logging (`lava worker`), unless something did already (like
    `logging.basicConfig`: a command run inside a test keeps the test's logging)."""
    if not logging.getLogger().handlers:
        logging.config.dictConfig(config(level, style))
