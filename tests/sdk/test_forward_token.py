"""Forward tokens are byte for byte what the Node SDK's generateForwardToken makes.

The expected values were produced by Node 20 with the SDK's own expression,
``Buffer.from(JSON.stringify({secret_key, connection_secret, product_secret, provider_key}))
.toString("base64")``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from lavapayments import AsyncLava, Lava
from lavapayments.forward_token import encode_forward_token

VECTORS: list[tuple[str, dict[str, Any], str]] = [
    (  # docs/forward-proxy.md#tokens
        "aks_test_abc",
        {"connection_secret": "cons_test_x", "product_secret": "ps_y"},
        "eyJzZWNyZXRfa2V5IjoiYWtzX3Rlc3RfYWJjIiwiY29ubmVjdGlvbl9zZWNyZXQiOiJjb25zX3Rlc3RfeCIsInB"
        "yb2R1Y3Rfc2VjcmV0IjoicHNfeSJ9",
    ),
    (
        "aks_test_abc",
        {
            "connection_secret": "cons_test_x",
            "product_secret": "ps_y",
            "provider_key": "sk-proj-123",
        },
        "eyJzZWNyZXRfa2V5IjoiYWtzX3Rlc3RfYWJjIiwiY29ubmVjdGlvbl9zZWNyZXQiOiJjb25zX3Rlc3RfeCIsInB"
        "yb2R1Y3Rfc2VjcmV0IjoicHNfeSIsInByb3ZpZGVyX2tleSI6InNrLXByb2otMTIzIn0=",
    ),
    (  # metering only: JSON nulls
        "aks_live_Zz9",
        {"connection_secret": None, "product_secret": None, "provider_key": "sk-ant-456"},
        "eyJzZWNyZXRfa2V5IjoiYWtzX2xpdmVfWno5IiwiY29ubmVjdGlvbl9zZWNyZXQiOm51bGwsInByb2R1Y3Rfc2Vj"
        "cmV0IjpudWxsLCJwcm92aWRlcl9rZXkiOiJzay1hbnQtNDU2In0=",
    ),
    (  # escapes and non-ASCII as JSON.stringify writes them
        "aks_test_ü",
        {"connection_secret": 'cons_"q"\\/\n\t\u0001é😀', "product_secret": "ps_\u2028\u007f"},
        "eyJzZWNyZXRfa2V5IjoiYWtzX3Rlc3Rfw7wiLCJjb25uZWN0aW9uX3NlY3JldCI6ImNvbnNfXCJxXCJcXC9cblx0"
        "XHUwMDAxw6nwn5iAIiwicHJvZHVjdF9zZWNyZXQiOiJwc1/igKh/In0=",
    ),
    (  # a lone surrogate, escaped as well-formed JSON.stringify does
        "aks_test_x",
        {"connection_secret": "lone\ud800", "product_secret": "ps"},
        "eyJzZWNyZXRfa2V5IjoiYWtzX3Rlc3RfeCIsImNvbm5lY3Rpb25fc2VjcmV0IjoibG9uZVx1ZDgwMCIsInByb2R1"
        "Y3Rfc2VjcmV0IjoicHMifQ==",
    ),
]


@pytest.mark.parametrize(("secret_key", "options", "expected"), VECTORS)
@pytest.mark.parametrize("client_class", [Lava, AsyncLava])
def test_matches_the_node_sdk(
    client_class: type[Lava | AsyncLava], secret_key: str, options: dict[str, Any], expected: str
) -> None:
    client = client_class(secret_key, base_url="http://lava.test/v1/")
    assert client.generate_forward_token(**options) == expected
    assert encode_forward_token(secret_key=secret_key, **options) == expected


def test_the_spec_vector_decodes_to_the_documented_json() -> None:
    token = Lava("aks_test_abc").generate_forward_token(
        connection_secret="cons_test_x", product_secret="ps_y"
    )
    assert base64.b64decode(token) == (
        b'{"secret_key":"aks_test_abc","connection_secret":"cons_test_x","product_secret":"ps_y"}'
    )


def test_key_order_and_absent_provider_key() -> None:
    token = Lava("aks_test_abc").generate_forward_token(provider_key="sk-1")
    decoded = json.loads(base64.b64decode(token))
    assert list(decoded) == ["secret_key", "connection_secret", "product_secret", "provider_key"]
    assert decoded["connection_secret"] is None and decoded["product_secret"] is None


@pytest.mark.parametrize(
    "options",
    [
        {"connection_secret": "cons_test_x"},
        {"product_secret": "ps_y"},
        {"connection_secret": "cons_test_x", "product_secret": None, "provider_key": "k"},
        {},
    ],
)
def test_incomplete_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Lava("aks_test_abc").generate_forward_token(**options)
