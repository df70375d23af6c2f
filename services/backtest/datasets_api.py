"""``GET /datasets`` and ``GET /datasets/{id}/candles``: what the web app lists and charts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query
from fastapi import Path as PathPart
from fastapi.responses import JSONResponse

from quantumflux.bus.timeframes import label
from quantumflux.files import datasets
from quantumflux.files.reader import LoadError

from . import listing
from .answers import documented, error, load_message
from .schemas import DatasetCandles, DatasetList

CANDLES_ANSWERS = documented(
    DatasetCandles,
    {
        404: "No dataset has this id (or it is not a dataset id at all).",
        422: "limit or before cannot be read, or a file of the dataset has a bad value (file:line:column).",
    },
)


def datasets_router(data_dir: Path, lister: listing.Listing) -> APIRouter:
    """The dataset routes over the files under ``data_dir``, with ``lister``'s caches."""
    router = APIRouter()

    @router.get("/datasets", response_model=None, responses={200: {"model": DatasetList}})
    def list_datasets() -> dict[str, Any]:
        catalogue = datasets.discover(data_dir)
        lister.forget_missing(catalogue)
        return {"datasets": [lister.describe(d) for d in catalogue.values()]}

    @router.get("/datasets/{ds_id}/candles", responses=CANDLES_ANSWERS)
    def dataset_candles(
        ds_id: str = PathPart(description="A dataset's id (GET /datasets).", examples=["EURUSD_otc-1m"]),
        limit: int = Query(default=listing.DEFAULT_LIMIT, ge=1, le=listing.MAX_LIMIT),
        before: str | None = Query(
            default=None, description="Only candles opening before this time: epoch seconds or ISO 8601."
        ),
    ) -> JSONResponse:
        try:
            until = listing.parse_before(before)
        except ValueError as exc:
            return error(422, str(exc))
        try:
            ds = datasets.lookup(datasets.discover(data_dir), ds_id)
        except datasets.DatasetError as exc:
            return error(404, str(exc))
        try:
            frame = lister.candles(ds)
        except LoadError as exc:
            return error(422, load_message(data_dir, exc))
        part, more = listing.newest(frame, limit, until)
        return JSONResponse(_candles_answer(ds, frame, part, more))

    return router


def _candles_answer(ds: datasets.Dataset, frame: Any, part: Any, more: bool) -> dict[str, Any]:
    tf = ds.timeframe
    return {
        "dataset": ds.id,
        "asset": ds.asset,
        "timeframe": label(tf) if tf else None,
        "timeframe_seconds": tf,
        "total": len(frame),
        "more": more,
        "candles": listing.candle_rows(part),
    }
