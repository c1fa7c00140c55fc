"""The Requests page over HTTP, on SQLite and PostgreSQL: the API's list with its filters
(customer, meter, model, status, metadata) and cursors, each request's price breakdown, a bad
filter shown by its field, and the CSV export of the filtered list (exact decimal strings)."""

from __future__ import annotations

import csv
import io

from tests.dashboard.conftest import signed_in


async def _shop(client, merchant) -> dict[str, str]:
    """Two meters, two customers, 30 requests: `chat-{n}` alternate models and customers."""
    h = merchant.headers
    chat = await client.post(
        "/v1/products",
        headers=h,
        json={"name": "Chat", "tiers": [{"start": 0, "rate": "3", "type": "tokens_1m"}]},
    )
    assert chat.status_code == 201, chat.text
    voice = await client.post(
        "/v1/products",
        headers=h,
        json={"name": "Voice", "tiers": [{"start": 0, "rate": "0.5", "type": "requests"}]},
    )
    ids = {"chat": chat.json()["product_id"], "voice": voice.json()["product_id"]}
    for name in ("ada", "bob"):
        made = await client.post(
            "/v1/test_helpers/connections",
            headers=h,
            json={"balance": "100", "reference_id": name},
        )
        assert made.status_code == 201, made.text
        ids[name] = made.json()["connection_id"]
    for n in range(30):
        report = await client.post(
            "/v1/requests",
            headers=h,
            json={
                "request_id": f"chat-{n}",
                "customer_id": ids["ada" if n % 2 else "bob"],
                "meter_id": ids["chat"],
                "model": "gpt-4o" if n % 3 else "gpt-4o-mini",
                "input_tokens": 1000 + n,
                "output_tokens": 7,
                "metadata": {"team": "red" if n < 5 else "blue"},
            },
        )
        assert report.status_code == 201, report.text
    voiced = await client.post(
        "/v1/requests",
        headers=h,
        json={"request_id": "voice-1", "customer_id": "ada", "meter_id": ids["voice"]},
    )
    assert voiced.status_code == 201, voiced.text
    return ids


def _ids_in(text: str) -> set[str]:
    import re

    return set(re.findall(r"<code>((?:chat|voice)-\d+)</code>", text))


async def test_the_list_filters_and_pages_like_the_api(client, merchant, admin):
    ids = await _shop(client, merchant)
    await signed_in(client, admin)
    first = await client.get("/dashboard/test/requests")
    assert first.status_code == 200
    shown = _ids_in(first.text)
    assert len(shown) == 25 and "voice-1" in shown and "chat-5" not in shown
    # The next page's link is the API's cursor: the last request shown.
    api = await client.get("/v1/requests?limit=25", headers=merchant.headers)
    cursor = api.json()["next_cursor"]
    assert f"cursor={cursor}" in first.text
    second = await client.get(f"/dashboard/test/requests?cursor={cursor}")
    assert _ids_in(second.text) == {f"chat-{n}" for n in range(6)}
    # Each filter, alone and together, agrees with the API's list.
    by_customer = await client.get("/dashboard/test/requests?customer=bob")
    assert _ids_in(by_customer.text) == {f"chat-{n}" for n in range(0, 30, 2)}
    by_meter = await client.get(f"/dashboard/test/requests?meter={ids['voice']}")
    assert _ids_in(by_meter.text) == {"voice-1"}
    by_model = await client.get("/dashboard/test/requests?model=gpt-4o-mini")
    assert _ids_in(by_model.text) == {f"chat-{n}" for n in range(0, 30, 3)}
    by_metadata = await client.get("/dashboard/test/requests?metadata=team%3Dred")
    assert _ids_in(by_metadata.text) == {f"chat-{n}" for n in range(5)}
    together = await client.get(
        "/dashboard/test/requests?customer=ada&model=gpt-4o&metadata=team%3Dblue&status=completed"
    )
    expected = {f"chat-{n}" for n in range(5, 30) if n % 2 and n % 3}
    assert _ids_in(together.text) == expected
    none = await client.get("/dashboard/test/requests?status=pending")
    assert "No request matches these filters" in none.text
    live = await client.get("/dashboard/live/requests")
    assert "No requests yet" in live.text and "chat-1" not in live.text
    assert "curl http://lava.test/v1/requests" in live.text  # the snippet's base URL


async def test_each_request_shows_its_price_breakdown(client, merchant, admin):
    await _shop(client, merchant)
    await signed_in(client, admin)
    found = await client.get("/v1/requests/chat-29", headers=merchant.headers)
    body = found.json()
    page = await client.get("/dashboard/test/requests?model=gpt-4o&customer=ada")
    assert page.status_code == 200
    for amount in (
        body["fee"]["amount"],
        body["service_charge"]["amount"],
        body["total_request_cost"],
        body["model_usage"]["total_cost"],
    ):
        assert amount in page.text
    assert body["fee"]["amount"] == "0.0031080000"  # 1036 tokens at $3 / 1M


async def test_a_bad_filter_is_shown_by_its_field(client, merchant, admin):
    await _shop(client, merchant)
    await signed_in(client, admin)
    bad = await client.get("/dashboard/test/requests?metadata=no-equals-sign")
    assert bad.status_code == 400
    assert 'id="metadata-error"' in bad.text and "key=value" in bad.text
    bad_key = await client.get("/dashboard/test/requests?metadata=bad%20key%3D1")
    assert bad_key.status_code == 400 and 'id="metadata-error"' in bad_key.text
    bad_status = await client.get("/dashboard/test/requests?status=lost")
    assert bad_status.status_code == 400 and 'id="status-error"' in bad_status.text
    bad_cursor = await client.get("/dashboard/test/requests?cursor=nothing-like-it")
    assert bad_cursor.status_code == 400 and "cursor" in bad_cursor.text


async def test_the_csv_export_is_the_filtered_list_exactly(client, merchant, admin, monkeypatch):
    from lava_server.dashboard import requests_page

    await _shop(client, merchant)
    await signed_in(client, admin)
    monkeypatch.setattr(requests_page, "CSV_PAGE", 4)  # several pages, read with the cursors
    answer = await client.get("/dashboard/test/requests.csv?customer=ada&model=gpt-4o")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == list(requests_page.CSV_COLUMNS)
    ids = [row[0] for row in rows[1:]]
    api = await client.get("/v1/requests?customer_id=ada&limit=100", headers=merchant.headers)
    wanted = [r for r in api.json()["data"] if r.get("model") == "gpt-4o"]
    assert ids == [r["request_id"] for r in wanted]  # newest first, none twice, none missing
    assert len(ids) == 10
    column = {name: i for i, name in enumerate(rows[0])}
    for row, item in zip(rows[1:], wanted, strict=True):
        assert row[column["fee"]] == item["fee"]["amount"]
        assert row[column["provider_cost"]] == item["model_usage"]["total_cost"]
        assert row[column["service_charge"]] == item["service_charge"]["amount"]
        assert row[column["total_request_cost"]] == item["total_request_cost"]
        assert row[column["total_wallet_cost"]] == item["total_wallet_cost"]
        assert row[column["metadata"]] == '{"team":"blue"}' or row[column["metadata"]] == (
            '{"team":"red"}'
        )
    first = rows[1]
    assert first[column["request_id"]] == "chat-29"
    assert first[column["fee"]] == "0.0031080000"
    assert first[column["input_tokens"]] == "1029" and first[column["output_tokens"]] == "7"
    assert (await client.get("/dashboard/test/requests.csv?status=lost")).status_code == 400
    empty = await client.get("/dashboard/live/requests.csv")
    assert empty.text == ",".join(requests_page.CSV_COLUMNS) + "\r\n"


async def test_signed_out_is_sent_to_sign_in(client):
    for path in ("/dashboard/test/requests", "/dashboard/test/requests.csv"):
        answer = await client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/dashboard/sign-in")


async def test_the_csv_keeps_a_spreadsheet_from_reading_text_as_a_formula(client, merchant, admin):
    ids = await _shop(client, merchant)
    await signed_in(client, admin)
    report = await client.post(
        "/v1/requests",
        headers=merchant.headers,
        json={
            "request_id": "=HYPERLINK(1)",
            "customer_id": "ada",
            "meter_id": ids["voice"],
        },
    )
    assert report.status_code == 201, report.text
    answer = await client.get(f"/dashboard/test/requests.csv?meter={ids['voice']}")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert [row[0] for row in rows[1:]] == ["'=HYPERLINK(1)", "voice-1"]
    assert rows[1][15] == report.json()["fee"]["amount"] == "0.5000000000"
