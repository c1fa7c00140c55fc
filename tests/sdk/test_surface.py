"""The public surface: sync and async twins with identical signatures, docstrings everywhere."""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

import pytest

import lavapayments
from lavapayments import AsyncLava, Lava, resources
from lavapayments._base_client import AsyncAPIClient, SyncAPIClient

TWINS = [
    (resources.CheckoutSessions, resources.AsyncCheckoutSessions),
    (resources.Connections, resources.AsyncConnections),
    (resources.Requests, resources.AsyncRequests),
    (resources.Usage, resources.AsyncUsage),
    (resources.Subscriptions, resources.AsyncSubscriptions),
    (resources.Webhooks, resources.AsyncWebhooks),
    (resources.Customers, resources.AsyncCustomers),
    (resources.Meters, resources.AsyncMeters),
    (resources.SecretKeys, resources.AsyncSecretKeys),
    (resources.Models, resources.AsyncModels),
    (resources.Products, resources.AsyncProducts),
    (resources.CreditBundles, resources.AsyncCreditBundles),
    (resources.Credits, resources.AsyncCredits),
    (resources.Adjustments, resources.AsyncAdjustments),
    (resources.Refunds, resources.AsyncRefunds),
    (resources.Payments, resources.AsyncPayments),
    (Lava, AsyncLava),
    (lavapayments.SyncCursorPage, lavapayments.AsyncCursorPage),
]


def public_methods(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, callable)
        if not name.startswith("_") and not name.startswith("model_") and name not in _PYDANTIC
    }


_PYDANTIC = {"construct", "copy", "dict", "json", "parse_file", "parse_obj", "parse_raw",
             "schema", "schema_json", "update_forward_refs", "validate", "from_orm"}  # fmt: skip


@pytest.mark.parametrize(("sync", "asynchronous"), TWINS, ids=lambda c: c.__name__)
def test_twins_have_identical_signatures(sync: type, asynchronous: type) -> None:
    sync_methods, async_methods = public_methods(sync), public_methods(asynchronous)
    assert set(sync_methods) == set(async_methods)
    for name, method in sync_methods.items():
        sync_params = inspect.signature(method).parameters  # type: ignore[arg-type]
        async_params = inspect.signature(async_methods[name]).parameters  # type: ignore[arg-type]
        assert list(sync_params.values()) == list(async_params.values()), name


def test_every_public_callable_has_a_docstring() -> None:
    missing = []
    classes = [getattr(lavapayments, name) for name in lavapayments.__all__]
    classes += [getattr(resources, name) for name in resources.__all__]
    classes += [SyncAPIClient, AsyncAPIClient]
    for cls in classes:
        if not inspect.isclass(cls):
            continue
        if not (cls.__doc__ or "").strip():
            missing.append(cls.__name__)
        for name, member in vars(cls).items():
            if name.startswith("_") and name not in ("__aiter__", "__iter__"):
                continue
            function = getattr(member, "func", member)  # cached_property
            if callable(function) and not (function.__doc__ or "").strip():
                missing.append(f"{cls.__name__}.{name}")
    assert not missing


def test_the_seed_surface_is_there() -> None:
    for client in (Lava("aks_test_x"), AsyncLava("aks_test_x")):
        for resource, method in [
            ("checkout_sessions", "create"),
            ("checkout_sessions", "list"),
            ("checkout_sessions", "retrieve"),
            ("connections", "list"),
            ("connections", "retrieve"),
            ("connections", "delete"),
            ("requests", "list"),
            ("requests", "create"),
            ("requests", "retrieve"),
            ("usage", "retrieve"),
            ("subscriptions", "list_configs"),
            ("subscriptions", "create_config"),
            ("subscriptions", "update_config"),
            ("subscriptions", "delete_config"),
            ("subscriptions", "list_active_subscriptions"),
            ("subscriptions", "cancel_active_subscription"),
        ]:
            assert callable(getattr(getattr(client, resource), method))


@pytest.mark.parametrize("cls", [c for pair in TWINS[:6] for c in pair] + [Lava, AsyncLava])
def test_every_call_takes_the_per_call_options(cls: type) -> None:
    for name, method in public_methods(cls).items():
        if name in ("with_options", "generate_forward_token", "close"):
            continue
        parameters = inspect.signature(method).parameters  # type: ignore[arg-type]
        for option in ("timeout", "extra_headers", "extra_query", "idempotency_key"):
            assert parameters[option].kind is inspect.Parameter.KEYWORD_ONLY, (name, option)


def test_the_sdk_imports_only_httpx_pydantic_and_the_stdlib() -> None:
    package = Path(lavapayments.__file__).parent
    allowed = set(sys.stdlib_module_names) | {"httpx", "pydantic", "lavapayments"}
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = [node.module.split(".")[0]]
            else:
                continue
            assert set(roots) <= allowed, (path.name, roots)
