"""Stripe's form encoding: ``a[b][c]=v`` nests, ``a[0]=v`` and ``a[]=v`` make lists."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

JSON = dict[str, Any]

_PART = re.compile(r"\[([^\[\]]*)\]")


def _split(key: str) -> list[str]:
    head, bracket, _ = key.partition("[")
    if not bracket:
        return [key]
    rest = key[len(head) :]
    return [head, *_PART.findall(rest)]


def _listify(value: Any, key: str = "") -> Any:
    if not isinstance(value, dict):
        return value
    if key != "metadata" and value and all(k.isdigit() or k == "" for k in value):
        ordered = sorted(value.items(), key=lambda kv: int(kv[0]) if kv[0] else -1)
        items: list[Any] = []
        for k, v in ordered:
            if k == "" and isinstance(v, list):
                items.extend(v)
            else:
                items.append(_listify(v, k))
        return items
    return {k: _listify(v, k) for k, v in value.items()}


def parse_form(text: str) -> JSON:
    """The nested parameters of a form-encoded body or a query string."""
    root: JSON = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        parts = _split(key)
        node = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if part == "" and depth > 0:
                # `a[]=v`: append; kept under the "" key, flattened by _listify
                bucket = node.setdefault("", [])
                if isinstance(bucket, list):
                    bucket.append(value)
                break
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    result = _listify(root)
    return result if isinstance(result, dict) else {}
