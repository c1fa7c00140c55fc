from __future__ import annotations

from fastapi import APIRouter, Depends

from lava_server.api.auth import Caller, authenticate, secret_key
from lava_server.api.pagination import PageParams, page, page_params
from lava_server.api.schemas import Deleted, Page, Success, errors
from lava_server.api.state import AppState, get_state
from lava_server.ids import id_pattern
from lava_server.products import service
from lava_server.products.schemas import (
    MeterCreate,
    MeterUpdate,
    ProductCreate,
    ProductUpdate,
    RestMeter,
    RestProduct,
)

router = APIRouter(
    prefix="/v1/products",
    tags=["products"],
    dependencies=[secret_key],
    responses=errors(400, 401, 429),
)


@router.post("", status_code=201, summary="Create a product", responses=errors(409, 413))
async def create_product(
    body: ProductCreate,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> RestProduct:
    return service.render(await service.create(state.db, caller, body))


@router.get("", summary="List products, newest first")
async def list_products(
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestProduct]:
    params.check_cursor(id_pattern("prd", caller.livemode))
    rows = await service.list_page(state.db, caller, params.cursor, params.limit)
    return page(rows, params.limit, service.render, lambda product: product.id)


@router.get("/{product_id}", summary="Retrieve a product", responses=errors(404))
async def retrieve_product(
    product_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> RestProduct:
    return service.render(await service.retrieve(state.db, caller, product_id))


@router.put(
    "/{product_id}",
    summary="Update a product (only the fields given)",
    responses=errors(404, 409, 413),
)
async def update_product(
    product_id: str,
    body: ProductUpdate,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> RestProduct:
    return service.render(await service.update(state.db, caller, product_id, body))


@router.delete("/{product_id}", summary="Delete a product", responses=errors(404))
async def delete_product(
    product_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> Success:
    await service.delete(state.db, caller, product_id)
    return {"success": True}


meters = APIRouter(
    prefix="/v1/meters",
    tags=["meters"],
    dependencies=[secret_key],
    responses=errors(400, 401, 429),
)


@meters.get("", summary="List meters (products), newest first")
async def list_meters(
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
    params: PageParams = Depends(page_params),
) -> Page[RestMeter]:
    params.check_cursor(id_pattern("prd", caller.livemode))
    rows = await service.list_page(state.db, caller, params.cursor, params.limit)
    return page(rows, params.limit, service.render_meter, lambda product: product.id)


@meters.post("", status_code=201, summary="Create a meter", responses=errors(409))
async def create_meter(
    body: MeterCreate,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> RestMeter:
    return service.render_meter(await service.create_meter(state.db, caller, body))


@meters.get("/{meter_id}", summary="Retrieve a meter", responses=errors(404))
async def retrieve_meter(
    meter_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> RestMeter:
    return service.render_meter(
        await service.retrieve(state.db, caller, meter_id, param="meter_id")
    )


@meters.patch("/{meter_id}", summary="Update a meter's name or tiers", responses=errors(404))
async def update_meter(
    meter_id: str,
    body: MeterUpdate,
    state: AppState = Depends(get_state),
    caller: Caller = Depends(authenticate),
) -> RestMeter:
    return service.render_meter(
        await service.update(state.db, caller, meter_id, body, param="meter_id")
    )


@meters.delete(
    "/{meter_id}", summary="Delete a meter (= deleting its product)", responses=errors(404)
)
async def delete_meter(
    meter_id: str, state: AppState = Depends(get_state), caller: Caller = Depends(authenticate)
) -> Deleted:
    await service.delete(state.db, caller, meter_id, param="meter_id")
    return {"id": meter_id, "deleted": True}
