"""The SDK's current-API resources (customers, meters, secret keys, models) against our own
server over real HTTP, on SQLite and PostgreSQL, with ``Lava`` and ``AsyncLava``: each method's
answer is typed, and objects cross to the seed era's resources (connections)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from lava_server.app import create_app
from lava_server.settings import Settings
from lava_server.testing import serve_in_thread
from lavapayments import AsyncLava, BadRequestError, ConflictError, Lava, NotFoundError
from lavapayments.types import (
    DeletedResponse,
    RestConnection,
    RestCustomer,
    RestMeter,
    RestModelList,
    RestSecretKeyCreate,
    SuccessResponse,
)
from tests.secret_keys.helpers import later

from .conftest import call, collect


@pytest.fixture
def base_url(settings: Settings) -> Iterator[str]:
    app = create_app(Settings(database_url=settings.database_url, rate_limit_per_minute=1_000_000))
    with serve_in_thread(app) as server:
        yield f"{server.url}/v1/"


@pytest.fixture(params=["sync", "async"])
async def lava(request, base_url, merchant):
    if request.param == "sync":
        client = Lava(merchant.secret_key, base_url=base_url, max_retries=0)
        yield client
        client.close()
    else:
        client = AsyncLava(merchant.secret_key, base_url=base_url, max_retries=0)
        yield client
        await client.close()


async def test_customers(lava) -> None:
    made = await call(
        lava.customers.create(
            reference_id="sdk-1", email="a@b.example", name="Ada Lovelace", metadata={"n": 1}
        )
    )
    assert isinstance(made, RestCustomer)
    assert made.customer_id.startswith("con_test_")
    assert (made.contact.first_name, made.contact.last_name) == ("Ada", "Lovelace")
    assert made.metadata == {"n": 1}
    again = await call(lava.customers.create(reference_id="sdk-1"))
    assert again.customer_id == made.customer_id
    assert (await call(lava.customers.retrieve("sdk-1"))).customer_id == made.customer_id

    cleared = await call(lava.customers.update(made.customer_id, email=None, metadata=None))
    assert cleared.contact.email == "" and cleared.metadata is None
    assert cleared.contact.first_name == "Ada"  # not given: stays

    other = await call(lava.customers.create())
    ids = [c.customer_id for c in await collect(lava.customers.list(limit=1))]
    assert ids == [other.customer_id, made.customer_id]  # every page walked

    connection = await call(lava.connections.retrieve(made.customer_id))
    assert isinstance(connection, RestConnection)
    assert connection.connection_secret == made.model_extra["connection_secret"]

    none = await call(lava.customers.get_subscription(made.customer_id))
    assert none.subscription is None
    deleted = await call(lava.customers.delete(made.customer_id))
    assert isinstance(deleted, SuccessResponse) and deleted.success
    with pytest.raises(NotFoundError):
        await call(lava.connections.retrieve(made.customer_id))
    with pytest.raises(BadRequestError):
        await call(lava.customers.create(reference_id="con_nope"))


async def test_meters(lava) -> None:
    meter = await call(
        lava.meters.create(
            name="SDK Meter",
            rate_type="fixed",
            tier_type="requests",
            tiers=[{"start": 0, "rate": Decimal("0.0100000001")}, {"start": 10, "rate": "0.005"}],
        )
    )
    assert isinstance(meter, RestMeter)
    assert meter.meter_slug == "sdk-meter"
    assert meter.tiers[0].rate == Decimal("0.0100000001")
    assert meter.tiers[1].start == 10 and meter.tiers[1].type == "requests"
    with pytest.raises(ConflictError):
        await call(
            lava.meters.create(
                name="x",
                meter_slug="sdk-meter",
                rate_type="fixed",
                tier_type="requests",
                tiers=[{"start": 0, "rate": "1"}],
            )
        )
    renamed = await call(lava.meters.update(meter.meter_id, name="Renamed"))
    assert renamed.name == "Renamed" and renamed.meter_slug == "sdk-meter"
    assert (await call(lava.meters.retrieve(meter.meter_id))).name == "Renamed"
    assert [m.meter_id for m in await collect(lava.meters.list())] == [meter.meter_id]
    gone = await call(lava.meters.delete(meter.meter_id))
    assert isinstance(gone, DeletedResponse) and gone.id == meter.meter_id
    with pytest.raises(NotFoundError):
        await call(lava.meters.retrieve(meter.meter_id))


async def test_secret_keys_and_models(lava, base_url, monkeypatch) -> None:
    created = await call(lava.secret_keys.create(name="SDK"))
    assert isinstance(created, RestSecretKeyCreate)
    assert created.secret_key_hint == created.secret_key[-4:]
    keys = await collect(lava.secret_keys.list())
    assert len(keys) == 2 and keys[0].secret_key_id == created.secret_key_id
    assert not hasattr(keys[0], "secret_key")
    # The new key works, and revokes the one the client was made with (15 s after its creation
    # at the earliest: the server's clock is moved on).
    with Lava(created.secret_key, base_url=base_url, max_retries=0) as second:
        old = keys[1].secret_key_id
        later(monkeypatch)
        assert second.secret_keys.delete(old).deleted is True
        with pytest.raises(BadRequestError):
            second.secret_keys.delete(created.secret_key_id)  # the last key stays
    models = await call(lava.models.list())  # no key needed, an old one does no harm
    assert isinstance(models, RestModelList) and models.object == "list"
    assert any(m.id == "gpt-4o" and m.owned_by == "openai" for m in models.data)
