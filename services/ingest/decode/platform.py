"""The broker's platform: assets and payouts, the balance, the chart the user picked, sentiment (pure)."""

from __future__ import annotations

from typing import Any

from orjson import loads

from quantumflux.bus.records import Event
from quantumflux.ingest.decode.state import DecoderState, Output, SocketState
from quantumflux.ingest.decode.values import as_period, flag, num, small_int
from quantumflux.ingest.frames import Frame

# saveCharts' chartPeriod as an internal id (protocol notes §4, S4's table).
CHART_PERIOD_IDS = {
    15: 1,
    0: 5,
    1: 10,
    2: 15,
    3: 30,
    4: 60,
    13: 120,
    14: 180,
    6: 300,
    7: 600,
    8: 900,
    9: 1800,
    10: 3600,
    11: 14400,
    12: 86400,
}
CHART_PERIOD_SECONDS = frozenset(CHART_PERIOD_IDS.values()) | {20, 45, 2700, 7200, 10800}
# An updateAssets row has 19 fields; the ones read here are among the first 16.
ASSET_ROW_FIELDS = 15


# ---------------------------------------------------------------------- assets and payouts


def on_assets(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """``updateAssets``: one row per asset, with its payout and whether it trades now."""
    if not isinstance(body, list):
        dec.counters["malformed:assets"] += 1
        return []
    assets = dec.keep(_asset_row(row) for row in body)
    if not assets:
        dec.counters["malformed:assets"] += 1
        return []
    dec.counters["events"] += 1
    return [Event("assets", frame.ts, {"assets": assets})]


def _asset_row(row: Any) -> dict[str, Any] | str:
    """One 19-field ``updateAssets`` row → the fields a trader needs (protocol notes §5)."""
    if not isinstance(row, list) or len(row) < ASSET_ROW_FIELDS:
        return "malformed:asset_row"
    asset = row[1]
    if not isinstance(asset, str) or not asset:
        return "malformed:asset_row"
    otc = flag(row[9])
    item: dict[str, Any] = {
        "asset": asset,
        "label": row[2] if isinstance(row[2], str) else asset,
        "type": row[3] if isinstance(row[3], str) else "",
        "payout": num(row[5]),
        "otc": asset.endswith("_otc") if otc is None else otc,
        "active": bool(row[14]),
    }
    if small_int(row[0]) is not None:
        item["id"] = row[0]
    if small_int(row[4]) is not None:
        item["digits"] = row[4]
    if len(row) > ASSET_ROW_FIELDS and isinstance(row[15], list):
        item["expirations"] = [
            x["time"] for x in row[15] if isinstance(x, dict) and small_int(x.get("time")) is not None
        ]
    return item


# ---------------------------------------------------------------------- balance and sentiment


def on_balance(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """``successupdateBalance``: ``{isDemo, balance}``."""
    balance = num(body.get("balance")) if isinstance(body, dict) else None
    if balance is None:
        dec.counters["malformed:balance"] += 1
        return []
    dec.counters["events"] += 1
    return [Event("balance", frame.ts, {"balance": balance, "is_demo": bool(body.get("isDemo"))})]


def on_sentiment(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """``chafor``: ``[[asset, value], …]``, the traders' choice 0-100 (or one flat row)."""
    if isinstance(body, list) and body and isinstance(body[0], str):
        body = [body]
    if not isinstance(body, list):
        dec.counters["malformed:sentiment"] += 1
        return []
    out: list[Output] = []
    for row in body:
        value = num(row[1]) if isinstance(row, list) and len(row) >= 2 else None
        if value is not None and isinstance(row[0], str) and row[0]:
            out.append(Event("sentiment", frame.ts, {"asset": row[0], "value": value}))
        else:
            dec.counters["malformed:sentiment"] += 1
    dec.counters["events"] += len(out)
    return out


# ---------------------------------------------------------------------- what the user picked


def on_change_symbol(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """A page's ``changeSymbol`` ``{asset, period}``: the chart the user is looking at."""
    if not isinstance(body, dict):
        dec.counters["malformed:changeSymbol"] += 1
        return []
    asset = body.get("asset")
    period = as_period(body.get("period"))
    if not isinstance(asset, str) or not asset or period is None:
        dec.counters["malformed:changeSymbol"] += 1
        return []
    st.period = period
    dec.counters["events"] += 1
    return [Event("platform_state", frame.ts, {"asset": asset, "period": period, "source": "changeSymbol"})]


def on_save_charts(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """A page's ``saveCharts``: the first chart setting naming a symbol."""
    for entry in _chart_settings(body):
        if isinstance(entry, str):
            try:
                entry = loads(entry)
            except ValueError:
                continue
        if isinstance(entry, dict) and isinstance(entry.get("symbol"), str) and entry["symbol"]:
            # The period from changeSymbol (seconds) is authoritative; chartPeriod only fills in
            # before any changeSymbol, read as the app's internal id where it can be one.
            period = st.period if st.period is not None else chart_period(entry.get("chartPeriod"))
            dec.counters["events"] += 1
            data = {"asset": entry["symbol"], "period": period, "source": "saveCharts"}
            return [Event("platform_state", frame.ts, data)]
    dec.counters["malformed:saveCharts"] += 1
    return []


def _chart_settings(body: Any) -> list[Any]:
    if isinstance(body, str):
        try:
            body = loads(body)
        except ValueError:
            return []
    if isinstance(body, dict) and isinstance(body.get("settings"), list):
        return list(body["settings"])
    if isinstance(body, dict):
        return [body]
    return list(body) if isinstance(body, list) else []


def chart_period(v: Any) -> int | None:
    """saveCharts' ``chartPeriod``: an internal id 0-15 (protocol notes §4), else seconds if plausible."""
    p = as_period(v) if v != 0 else 0
    if p is None:
        return None
    if p in CHART_PERIOD_IDS:
        return CHART_PERIOD_IDS[p]
    return p if p in CHART_PERIOD_SECONDS else None
