from __future__ import annotations

from fastapi import APIRouter, Depends

from lava_server.api.auth import Caller, authenticate, secret_key
from lava_server.api.pagination import PageParams, page, page_params
from lava_server.api.schemas import Page, Success, errors
from lava_server.api.state import AppState, get_state
from lava_server.ids import id_pattern
from lava_server.products import service
from lava_server.products.schemas import ProductCreate, ProductUpdate, RestProduct

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
    responses=errors(404, 413),
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
