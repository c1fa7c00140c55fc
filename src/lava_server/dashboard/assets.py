"""The dashboard's static files, all served by this server (no CDN): its own stylesheet and
script, and the charting library, plotly.js, as the `plotly` package from PyPI ships it for
offline use (`plotly/package_data/plotly.min.js`). Each URL carries its content's hash, so it is
cached for a year; gzip is served to the browsers that take it."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lava_server.dashboard.web import PREFIX, STATIC, Refused

router = APIRouter(prefix=PREFIX + "/assets", include_in_schema=False)

_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
_YEAR = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    version: str

    @property
    def gzipped(self) -> bytes:
        return _gzipped(self.body)


@cache
def _gzipped(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=0)


def _plotly_path() -> Path:
    return Path(str(files("plotly") / "package_data" / "plotly.min.js"))


@cache
def _assets() -> dict[str, Asset]:
    paths = {path.name: path for path in STATIC.iterdir() if path.suffix in _TYPES}
    paths["plotly.min.js"] = _plotly_path()
    found: dict[str, Asset] = {}
    for name, path in paths.items():
        body = path.read_bytes()
        found[name] = Asset(body, _TYPES[path.suffix], hashlib.sha256(body).hexdigest()[:12])
    return found


def asset_url(name: str) -> str:
    """`/dashboard/assets/<name>?v=<hash>` (templates: `asset('dashboard.css')`)."""
    return f"{PREFIX}/assets/{name}?v={_assets()[name].version}"


@router.get("/{name}")
async def asset(name: str, request: Request) -> Response:
    found = _assets().get(name)
    if found is None:
        raise Refused(404, "No such file.")
    headers = {
        "Cache-Control": _YEAR if request.query_params.get("v") == found.version else "no-cache",
        "ETag": f'"{found.version}"',
        "X-Content-Type-Options": "nosniff",
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == f'"{found.version}"':
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(found.gzipped, media_type=found.media_type, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)


from lava_server.dashboard.web import templates as _templates  # noqa: E402

_templates.globals["asset"] = asset_url
