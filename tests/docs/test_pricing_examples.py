"""The worked examples of `docs/pricing.md`, read from the page and checked against the engine.

Each example is a JSON block of inputs and a table of `field | value | arithmetic`. Every value
must be what `lava_server.pricing` gives, and every arithmetic cell must give its value once
rounded to 10 places, half to even: so no number of the page can drift from the code.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from lava_server.pricing import (
    Usage,
    cost_at_price,
    format_money,
    parse_pricing_config,
    price_request,
    price_upper_bound,
)
from lava_server.settings import Settings

PAGE = Path(__file__).parents[2] / "docs/pricing.md"
SERVICE_CHARGE_RATE: Decimal = Settings.model_fields["service_charge_rate"].default
MILLION = 1_000_000


@dataclass(frozen=True)
class Row:
    field: str
    value: str
    arithmetic: str


@dataclass(frozen=True)
class Example:
    title: str
    inputs: dict[str, Any]
    rows: tuple[Row, ...]


def read_examples(text: str) -> list[Example]:
    _, _, section = text.partition("\n## Worked examples\n")
    examples = []
    for chunk in re.split(r"^### ", section, flags=re.MULTILINE)[1:]:
        title = chunk.splitlines()[0]
        blocks = re.findall(r"^```json\n(.*?)^```", chunk, flags=re.MULTILINE | re.DOTALL)
        assert len(blocks) == 1, f"{title}: one JSON block of inputs"
        cells = [
            [cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in chunk.splitlines()
            if line.startswith("|")
        ]
        assert cells[:2] == [["field", "value", "arithmetic"], ["---", "---", "---"]], title
        rows = tuple(
            Row(field.strip("`"), value, arithmetic) for field, value, arithmetic in cells[2:]
        )
        assert rows, f"{title}: a table of results"
        examples.append(Example(title, json.loads(blocks[0]), rows))
    return examples


EXAMPLES = read_examples(PAGE.read_text())


def _priced(inputs: dict[str, Any]) -> dict[str, Any]:
    """The example's result as `RestRequest`-shaped fields (plus `units`, `hold` and `balance
    after`), computed by the engine."""
    config = parse_pricing_config(inputs["product"])
    usage = Usage(**inputs["usage"])
    prices = inputs.get("provider_prices", {})
    costs = {
        "input_cost": cost_at_price(
            usage.input_tokens, Decimal(prices.get("input_mtok", "0")), per=MILLION
        ),
        "output_cost": cost_at_price(
            usage.output_tokens, Decimal(prices.get("output_mtok", "0")), per=MILLION
        ),
    }
    options = {
        "prior_units": inputs.get("prior_units", 0),
        "service_charge_rate": SERVICE_CHARGE_RATE,
        **costs,
    }
    if inputs.get("worst_case"):
        bound = price_upper_bound(config, usage, **options)
        return {
            "fee": {"amount": format_money(bound.fee_amount)},
            "model_usage": {"total_cost": format_money(bound.total_cost)},
            "service_charge": {"amount": format_money(bound.service_charge_amount)},
            "total_request_cost": format_money(bound.total_request_cost),
            "total_wallet_cost": format_money(bound.total_wallet_cost),
            "total_merchant_cost": format_money(bound.total_merchant_cost),
            "hold": format_money(bound.total_wallet_cost),
        }
    priced = price_request(config, usage, **options)
    fields: dict[str, Any] = {
        "units": priced.units,
        "model_usage": {
            "input_cost": format_money(priced.input_cost),
            "output_cost": format_money(priced.output_cost),
            "total_cost": format_money(priced.total_cost),
            "payer": priced.model_payer.value,
        },
        "fee": {
            "amount": format_money(priced.fee_amount),
            "breakdown": [entry.to_json() for entry in priced.breakdown],
        },
        "service_charge": {"amount": format_money(priced.service_charge_amount)},
        "total_request_cost": format_money(priced.total_request_cost),
        "total_wallet_cost": format_money(priced.total_wallet_cost),
        "total_merchant_cost": format_money(priced.total_merchant_cost),
    }
    if "balance" in inputs:
        fields["balance after"] = format_money(
            Decimal(inputs["balance"]) - priced.total_wallet_cost
        )
    return fields


def _lookup(fields: dict[str, Any], path: str) -> Any:
    """`fee.breakdown[1].tier.start` in the nested fields."""
    value: Any = fields
    if path in fields:
        return fields[path]
    for name, index in re.findall(r"([^.\[\]]+)(?:\[(\d+)\])?", path):
        value = value[name]
        if index:
            value = value[int(index)]
    return value


_ARITHMETIC = re.compile(r"[0-9.,+\-−×/() ]+")


def _evaluate(arithmetic: str) -> Fraction:
    """An arithmetic cell (`700 × 2 / 1,000,000`), exactly."""
    source = arithmetic.replace(",", "").replace("×", "*").replace("−", "-")
    tree = ast.parse(source, mode="eval")

    def walk(node: ast.expr) -> Fraction:
        if isinstance(node, ast.Constant):
            return Fraction(ast.get_source_segment(source, node) or "")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.Div):
                return left / right
        raise AssertionError(f"not arithmetic: {arithmetic!r}")

    return walk(tree.body)


def _as_fraction(value: str) -> Fraction:
    return Fraction(value.replace(",", ""))


def check_values(example: Example) -> None:
    fields = _priced(example.inputs)
    for row in example.rows:
        expected = _lookup(fields, row.field)
        written = row.value.replace(",", "") if isinstance(expected, int) else row.value
        assert written == str(expected), f"{example.title}: {row.field}"


def check_arithmetic(example: Example) -> None:
    for row in example.rows:
        if not row.arithmetic:
            continue
        assert _ARITHMETIC.fullmatch(row.arithmetic), f"{example.title}: {row.arithmetic!r}"
        exact = _evaluate(row.arithmetic)
        rounded = Fraction(round(exact * 10**10), 10**10)  # Fraction rounds ties to even
        assert rounded == _as_fraction(row.value), f"{example.title}: {row.field}"


def test_the_page_has_its_examples() -> None:
    assert len(EXAMPLES) == 12
    assert sum(len(example.rows) for example in EXAMPLES) >= 60


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.title for example in EXAMPLES])
def test_each_value_is_what_the_engine_gives(example: Example) -> None:
    check_values(example)


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.title for example in EXAMPLES])
def test_each_line_of_arithmetic_gives_its_value(example: Example) -> None:
    check_arithmetic(example)


@pytest.mark.parametrize(
    ("written", "mistyped", "check"),
    [
        ("| 0.0000266000 |", "| 0.0000267000 |", check_values),  # a value
        ("| 0.0000266000 |", "| 0.0000267000 |", check_arithmetic),  # its arithmetic
        ("| 700 × 2 / 1,000,000 |", "| 700 × 3 / 1,000,000 |", check_arithmetic),
        ("| 0.0000000028 |", "| 0.0000000029 |", check_values),  # a tie rounded the wrong way
        ("| 0.0000000028 |", "| 0.0000000029 |", check_arithmetic),
        ('"prior_units": 900000', '"prior_units": 800000', check_values),  # an input
    ],
)
def test_a_number_changed_on_the_page_is_caught(written: str, mistyped: str, check: Any) -> None:
    text = PAGE.read_text()
    assert written in text
    changed = read_examples(text.replace(written, mistyped, 1))
    with pytest.raises(AssertionError):
        for example in changed:
            check(example)
