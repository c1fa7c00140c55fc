"""Fuzzing every operation of /openapi.json with schemathesis (its command, `st run`), on SQLite
and on PostgreSQL, over real HTTP: generated requests, valid and invalid, must never get a 5xx, nor
an answer that its documented status, media type, body schema or headers do not allow.

The data comes from the published schema as it is (nothing narrowed): its examples, schemathesis'
boundary cases, and `EXAMPLES_PER_OPERATION` random requests per operation (30; more with
LAVA_FUZZ_EXAMPLES=N), from a fixed seed so that CI repeats the same run (LAVA_FUZZ_SEED=N, or
`st run --seed N`, explores further). The API operations
carry a sandbox merchant's secret key, the forward operations a forward token of a funded
connection, with every provider mapped to the fake one. In half of the generated requests, an id,
secret or provider URL is one that exists, so that the requests also reach what lies behind the
404s and 400s.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from lava_server.app import create_app
from lava_server.db.engine import Database
from lava_server.merchants import service as merchants
from lava_server.proxy.upstream import DEFAULT_REGISTRY, provider_env_suffix
from lava_server.settings import Settings
from lava_server.testing import ServerThread, serve_in_thread
from lavapayments.forward_token import encode_forward_token
from tests.conftest import _pg_skip_or_fail

pytestmark = pytest.mark.slow

SCHEMATHESIS = str(Path(sys.executable).with_name("st"))
EXAMPLES_PER_OPERATION = int(os.environ.get("LAVA_FUZZ_EXAMPLES", "30"))
SEED = int(os.environ.get("LAVA_FUZZ_SEED", "20261127"))
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]
PROVIDER_URLS = [
    "https://api.openai.com/v1/chat/completions",
    "https://api.openai.com/v1/responses",
    "https://api.openai.com/v1/embeddings",
    "https://api.anthropic.com/v1/messages",
    "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent",
]


@dataclass(frozen=True)
class Lava:
    url: str
    secret_key: str  # a sandbox merchant's


def _database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "lava.db"
        path.write_bytes(sqlite_template.read_bytes())
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database_url")
    if url is None:
        _pg_skip_or_fail()
    return str(url)


async def _new_merchant(database_url: str) -> str:
    db = Database(database_url)
    try:
        return (await merchants.create_merchant(db, "Fuzzed", livemode=False)).secret_key
    finally:
        await db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def lava(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    fake_server: ServerThread,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Lava]:
    """Our server over real HTTP, every provider mapped to the fake one."""
    for name in list(os.environ):
        if name.startswith(("LAVA_UPSTREAM_", "LAVA_PROVIDER_KEY_")):
            monkeypatch.delenv(name)
    for provider in DEFAULT_REGISTRY:
        monkeypatch.setenv(f"LAVA_UPSTREAM_{provider_env_suffix(provider.name)}", fake_server.url)
    for name in ("OPENAI", "ANTHROPIC", "GOOGLE"):
        monkeypatch.setenv(f"LAVA_PROVIDER_KEY_{name}", "sk-managed")
    database_url = _database_url(request, tmp_path, sqlite_template)
    secret_key = asyncio.run(_new_merchant(database_url))
    app = create_app(Settings(database_url=database_url, rate_limit_per_minute=1_000_000))
    with serve_in_thread(app, shutdown_timeout=5) as server:
        yield Lava(server.url, secret_key)


def _config(lava: Lava) -> str:
    """`schemathesis.toml`: the keys, and objects that exist for the generated requests to find."""
    with httpx.Client(
        base_url=lava.url, headers={"Authorization": f"Bearer {lava.secret_key}"}, timeout=30
    ) as http:

        def create(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = http.post(path, json=body)
            assert response.status_code == 201, response.text
            return dict(response.json())

        tiers = [{"start": 0, "rate": "1", "type": "tokens_1m"}]
        product = create("/v1/products", {"name": "Fuzz", "tiers": tiers})
        connection = create("/v1/test_helpers/connections", {"balance": "100"})
        plan = create(
            "/v1/subscription-configs",
            {"name": "Pro", "period_amount": "20", "rollover_type": "full"},
        )
        session = create(
            "/v1/checkout_sessions",
            {"checkout_mode": "onboarding", "origin_url": "https://shop.example"},
        )
        secrets = {
            "connection_secret": connection["connection_secret"],
            "product_secret": product["product_secret"],
        }
        create("/v1/requests", {"request_id": "seed", "input_tokens": 10, **secrets})
        spend_key = create("/v1/spend_keys", {"name": "Fuzz"})
    known = {
        "path.product_id": [product["product_id"]],
        "path.connection_id": [connection["connection_id"]],
        "path.config_id": [plan["subscription_config_id"]],
        "path.checkout_session_id": [session["checkout_session_id"]],
        "path.request_id": ["seed"],
        "path.spend_key_id": [spend_key["spend_key_id"]],
        "body.connection_secret": [connection["connection_secret"]],
        "body.product_secret": [product["product_secret"]],
        "body.connection_id": [connection["connection_id"]],
        "body.subscription_config_id": [plan["subscription_config_id"]],
        "body.origin_url": ["https://shop.example"],
        "query.connection_id": [connection["connection_id"]],
        "query.product_id": [product["product_id"]],
        "query.start": ["2025-05-01T00:00:00+05:30"],
        "query.u": PROVIDER_URLS,
        "path.url": ["api.openai.com", "api.anthropic.com"],
    }
    token = encode_forward_token(secret_key=lava.secret_key, **secrets)
    return "\n".join(
        [
            f'[auth.openapi.secretKey]\nbearer = "{lava.secret_key}"',
            f'[auth.openapi.forwardToken]\nbearer = "{token}"',
            "[parameters]",
            *(f'"{key}" = {{ dictionary = "{key}", probability = 0.5 }}' for key in known),
            *(f'[dictionaries."{key}"]\nvalues = {json.dumps(v)}' for key, v in known.items()),
        ]
    )


def test_fuzzed_requests_get_no_server_error_and_documented_answers(
    lava: Lava, tmp_path: Path
) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(lava))
    run = subprocess.run(
        [
            SCHEMATHESIS,
            "--no-color",
            "--config-file",
            str(config),
            "run",
            f"{lava.url}/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
