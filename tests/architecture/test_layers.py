"""The layers of `lava_server` (`docs/architecture.md#layers`), checked on the source with `ast`:
every import counts, the ones inside functions too.

- No two packages import each other, directly or round a longer circle.
- A package imports only packages of its own layer or of lower layers.
- `proxy/` is an HTTP relay: it holds no SQL, so it imports no database library.

A module of the top level (`settings.py`, `money.py`...) counts as a package of its own.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).parents[2] / "src" / "lava_server"

# Lowest first. A package imports only from its own layer and the layers before it.
LAYERS: dict[str, tuple[str, ...]] = {
    "base": (
        "settings",
        "db",
        "money",
        "pricing",
        "ids",
        "errors",
        "untrusted",
        "timeutil",
        "metadata",
        "periods",
        "model_prices",
        "addresses",  # the address rules of outgoing connections (forward proxy, webhooks)
        "outbox",  # the webhooks' outbox, written inside money transactions (metering, wallets)
        "web",  # the checkout page's templates and static files
        "testing",  # the fakes (AI provider, Stripe): import nothing of the server
        "metrics",  # every Prometheus series, defined once (moved by every layer)
        "logs",  # the log lines' formats (text, json) and their request context
    ),
    "api": ("api",),
    "domain": (
        "merchants",
        "connections",
        "products",
        "wallets",
        "payments",
        "spend_keys",  # below metering, whose holds will reserve a key's allowance
    ),
    "metering": ("metering",),
    "doors": (
        "requests",
        "proxy",
        "usage",
        "checkout",
        "subscriptions",
        "customers",  # the current API's customers: connections with their subscription
        "catalog",  # the current API's `GET /v1/models`, from the price table
        "webhooks",
        "money_ops",  # grants, adjustments, refunds, the payments list (over `wallets`)
        "dashboard",  # the merchant dashboard: pages over the services of the doors above
        "worker",
        "monitoring",  # GET /metrics, with the database's values read at scrape time
    ),
    "wiring": ("app", "cli", "startup", "demo"),
}
LEVEL = {package: level for level, packages in enumerate(LAYERS.values()) for package in packages}
LAYER_OF = {package: layer for layer, packages in LAYERS.items() for package in packages}
SQL_LIBRARIES = ("sqlalchemy", "sqlite3", "asyncpg", "aiosqlite")


@dataclass(frozen=True)
class Import:
    source: str  # the importing package
    target: str  # the imported module, dotted (`lava_server.api.auth`, `sqlalchemy.orm`)
    where: str  # path:line, for the failure message


def package_of(root: Path, path: Path) -> str:
    return path.relative_to(root).parts[0].removesuffix(".py")


def module_of(root: Path, path: Path) -> list[str]:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def imports(root: Path = SRC) -> Iterator[Import]:
    """Every import in the package at `root` (but its database migrations)."""
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.relative_to(root).parts:
            continue
        source = package_of(root, path)
        where = path.relative_to(root.parent)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(source, alias.name, f"{where}:{node.lineno}")
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: resolved against the importing module
                    here = module_of(root, path)
                    package = here if path.name == "__init__.py" else here[:-1]
                    base = package[: len(package) - node.level + 1]
                    module = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    module = node.module or ""
                if module == root.name:  # `from lava_server import x`: x may be a package
                    for alias in node.names:
                        yield Import(source, f"{module}.{alias.name}", f"{where}:{node.lineno}")
                else:
                    yield Import(source, module, f"{where}:{node.lineno}")


def package_edges(root: Path = SRC) -> dict[tuple[str, str], list[str]]:
    """(importer, imported) between two packages at `root` -> where."""
    edges: dict[tuple[str, str], list[str]] = {}
    for found in imports(root):
        parts = found.target.split(".")
        if parts[0] != root.name or len(parts) < 2 or parts[1] == found.source:
            continue
        if (root / parts[1] / "__init__.py").exists() or (root / f"{parts[1]}.py").exists():
            edges.setdefault((found.source, parts[1]), []).append(found.where)
    return edges


def circles(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The checker itself, on a small package: imports inside functions (`wallets/credit.py` once
    hid `payments` <-> `wallets` in one), relative ones, and `from package import module`."""
    root = tmp_path / "shop"
    files = {
        "__init__.py": "",
        "a/__init__.py": "",
        "a/x.py": "def f():\n    from shop.b import y\n",
        "b/__init__.py": "from ..c import z\n",
        "b/y.py": "",
        "c/__init__.py": "",
        "c/z.py": "from shop import a\n",
        "d.py": "import shop.c.z\nimport os\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    edges = package_edges(root)
    assert set(edges) == {("a", "b"), ("b", "c"), ("c", "a"), ("d", "c")}
    assert edges[("a", "b")] == ["shop/a/x.py:2"]
    assert circles(edges) == [["a", "b", "c"]]
    del edges[("c", "a")]
    assert circles(edges) == []


def test_no_two_packages_import_each_other() -> None:
    edges = package_edges()
    problems = []
    for component in circles(edges):
        members = set(component)
        lines = [
            f"  {source} -> {target}: {', '.join(where)}"
            for (source, target), where in sorted(edges.items())
            if source in members and target in members
        ]
        problems.append(f"circle {' <-> '.join(component)}:\n" + "\n".join(lines))
    assert not problems, "\n".join(problems)


def test_every_package_has_a_layer() -> None:
    packages = {
        package_of(SRC, path)
        for path in SRC.iterdir()
        if (path.is_dir() and (path / "__init__.py").exists())
        or (path.suffix == ".py" and path.name != "__init__.py")
    }
    assert not packages - set(LEVEL), "give each new package a layer in LAYERS"


def test_imports_point_down() -> None:
    upward = [
        f"{source} ({LAYER_OF[source]}) imports {target} ({LAYER_OF[target]}): {', '.join(where)}"
        for (source, target), where in sorted(package_edges().items())
        if source in LEVEL and target in LEVEL and LEVEL[target] > LEVEL[source]
    ]
    assert not upward, "\n".join(upward)


def test_the_proxy_holds_no_sql() -> None:
    found = [
        f"{imported.where} imports {imported.target}"
        for imported in imports()
        if imported.source == "proxy" and imported.target.split(".")[0] in SQL_LIBRARIES
    ]
    assert not found, "\n".join(found)
