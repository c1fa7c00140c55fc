"""`LAVA_LOG_FORMAT=json` (issue 17, point 3): one JSON object a line on a real `lava serve`,
with the request id, merchant, route, status and duration of each request line."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from lava_server.api.context import RequestContextMiddleware
from lava_server.db.engine import Database
from lava_server.logs import REQUEST_ID, JsonFormatter, config
from tests.e2e.servers import LAVA, clean_env, free_port, lava_cli
from tests.proxy.processes import wait_for


@pytest.mark.slow
def test_json_logs_are_one_object_a_line(database_url: str, tmp_path: Path) -> None:
    created = lava_cli("merchants", "create", "Logs", "--json", "--database-url", database_url)
    merchant = json.loads(created.stdout)
    port = free_port()
    env = {
        **clean_env(),
        "LAVA_DATABASE_URL": database_url,
        "LAVA_LOG_FORMAT": "json",
        "LAVA_LOG_REQUESTS": "true",
    }
    errors = (tmp_path / "serve.err").open("wb")
    out = (tmp_path / "serve.out").open("wb")
    server = subprocess.Popen(
        [LAVA, "serve", "--port", str(port)], env=env, stdout=out, stderr=errors
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz")
        headers = {"Authorization": f"Bearer {merchant['secret_key']}"}
        listed = httpx.get(f"{base}/v1/connections", headers=headers)
        assert listed.status_code == 200
        missing = httpx.get(f"{base}/v1/connections/con_test_nothing", headers=headers)
        assert missing.status_code == 404
        report = httpx.post(f"{base}/v1/requests", headers=headers, json={})
        assert report.status_code == 400
    finally:
        server.terminate()
        server.wait(20)
        errors.close()
        out.close()
    lines = (tmp_path / "serve.err").read_text().splitlines()
    parsed = [json.loads(line) for line in lines if line.strip()]  # every line is one object
    assert all({"time", "level", "logger", "message"} <= set(line) for line in parsed)
    assert any("Application startup complete" in line["message"] for line in parsed)
    requests = {
        line["request_id"]: line for line in parsed if line["logger"] == "lava_server.access"
    }
    first = requests[listed.headers["x-lava-request-id"]]
    assert first["route"] == "/v1/connections"
    assert first["method"] == "GET"
    assert first["status"] == 200
    assert first["merchant"] == merchant["merchant_id"]
    assert isinstance(first["duration_ms"], float)
    second = requests[missing.headers["x-lava-request-id"]]
    assert second["route"] == "/v1/connections/{connection_id}"
    assert second["status"] == 404
    third = requests[report.headers["x-lava-request-id"]]
    assert (third["route"], third["method"], third["status"]) == ("/v1/requests", "POST", 400)
    assert first["time"].endswith("+00:00")


def test_text_stays_the_default() -> None:
    from lava_server.settings import Settings

    assert Settings().log_format == "text"
    assert not Settings().log_requests
    assert config("info", "text")["formatters"]["lava"] == {
        "format": "%(levelname)s %(name)s: %(message)s"
    }


def test_a_json_line_carries_the_request_and_the_error() -> None:
    token = REQUEST_ID.set("req_123")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            record = logging.LogRecord(
                "lava_server", logging.ERROR, __file__, 1, "failed %s", ("x",), None
            )
            record.exc_info = sys.exc_info()
        line = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line["message"] == "failed x"
    assert line["request_id"] == "req_123"
    assert line["level"] == "error"
    assert "ValueError: boom" in line["exception"]


async def test_a_database_error_never_shows_its_parameters(db: Database) -> None:
    """SQLAlchemy puts a failed statement's parameters in its error, and so in the traceback
    the log gets: connection and product secrets are such parameters."""
    secret = "cons_test_" + "S" * 43
    with pytest.raises(DBAPIError) as caught:
        async with db.engine.connect() as connection:
            await connection.execute(
                text("SELECT * FROM no_such_table WHERE x = :s"), {"s": secret}
            )
    assert "no_such_table" in str(caught.value)
    assert secret not in str(caught.value)


async def test_an_unhandled_error_logs_the_route_not_the_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A checkout page's path holds the session's secret: the log names the route's template."""
    app = FastAPI()

    @app.post("/embed/checkout/{secret}")
    async def page(secret: str) -> None:
        raise RuntimeError("a bug")

    app.add_middleware(  # as `create_app` does: inside Starlette's own error middleware
        RequestContextMiddleware,
        max_body_bytes=1024,
        forward_prefix="/v1/forward",
        max_forward_body_bytes=1024,
    )
    secret = "css_test_" + "Z" * 43
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lava.test") as http:
        with caplog.at_level(logging.ERROR, logger="lava_server"):
            answer = await http.post(f"/embed/checkout/{secret}")
    assert answer.status_code == 500
    assert "unhandled error on POST /embed/checkout/{secret}" in caplog.text
    assert secret not in caplog.text
