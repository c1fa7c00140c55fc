"""The links into `docs/`: from the pages to each other and to the README, and from the code's
comments to the pages. Each must name a page that exists and, with `#...`, one of its headings
(as GitHub makes anchors of them)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PAGES = sorted((ROOT / "docs").glob("*.md"))
CODE = [
    path
    for folder in ("src", "tests", "bench")
    for path in sorted((ROOT / folder).rglob("*"))
    if path.suffix in (".py", ".md") and ".venv" not in path.parts
]
FENCE = re.compile(r"^```.*?^```", flags=re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CITATION = re.compile(r"docs/([a-z-]+\.md)(#[a-z0-9_-]+)?")
# The pages that lived outside the repository before `docs/` existed.
OUTSIDE_PAGE = re.compile(r"(?<![\w/.-])(api|forward|pricing|checkout)\.md\b")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#+ (.+)$", FENCE.sub("", page.read_text()), flags=re.MULTILINE):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def problem(page: Path, anchor: str | None) -> str | None:
    if not page.is_file():
        return f"no page {page.relative_to(ROOT)}"
    if anchor and anchor.removeprefix("#") not in anchors(page):
        return f"no heading {anchor} in {page.relative_to(ROOT)}"
    return None


def test_there_are_pages() -> None:
    names = {f"docs/{page.name}" for page in PAGES}
    assert names >= {
        "docs/api.md",
        "docs/architecture.md",
        "docs/checkout-and-wallets.md",
        "docs/forward-proxy.md",
        "docs/pricing.md",
    }


@pytest.mark.parametrize("source", [*PAGES, ROOT / "README.md"], ids=lambda path: path.name)
def test_the_links_of_a_page_lead_somewhere(source: Path) -> None:
    broken = []
    for target in LINK.findall(FENCE.sub("", source.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # another site
        path, _, anchor = target.partition("#")
        page = (source.parent / path).resolve() if path else source
        if page.suffix != ".md":
            assert page.exists(), f"{source.name}: {target}"
            continue
        error = problem(page, anchor)
        if error:
            broken.append(f"{source.name}: {target}: {error}")
    assert not broken


def test_the_code_cites_pages_that_exist() -> None:
    broken = []
    cited = 0
    for path in CODE:
        for name, anchor in CITATION.findall(path.read_text()):
            cited += 1
            error = problem(ROOT / "docs" / name, anchor or None)
            if error:
                broken.append(f"{path.relative_to(ROOT)}: docs/{name}{anchor}: {error}")
    assert not broken
    assert cited >= 40  # the code's comments point at these pages


def test_nothing_cites_the_pages_that_were_outside_the_repository() -> None:
    stale = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in [*CODE, ROOT / "README.md"]
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if OUTSIDE_PAGE.search(line)
    ]
    assert not stale


def test_a_broken_anchor_is_caught() -> None:
    pricing = ROOT / "docs/pricing.md"
    assert problem(pricing, "#the-range-of-money") is None
    assert problem(pricing, "#the-range-of-monies") is not None
    assert problem(ROOT / "docs" / "no-such-page.md", None) is not None
    assert slug("7. The ledger") == "7-the-ledger"
    assert slug("A metered request's path") == "a-metered-requests-path"
