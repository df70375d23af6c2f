"""A self-contained HTML report (inline SVG, no scripts, no CDN): metrics, equity curve, candles
with the trades marked, the trade list."""

from __future__ import annotations

import html
import time
from typing import Any

import numpy as np
import pandas as pd

CHART_CANDLES = 150
EQUITY_POINTS = 2000
TRADE_ROWS = 200
W, H = 900, 260


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.2f}"
    return html.escape(str(value))


def _when(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(int(ts)))


def equity_svg(equity: list[list[float]], start: float) -> str:
    """The balance after each trade as an SVG line."""
    values = np.array([start] + [b for _, b in equity], dtype=np.float64)
    if len(values) > EQUITY_POINTS:
        values = values[np.linspace(0, len(values) - 1, EQUITY_POINTS).astype(int)]
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo or 1.0
    xs = np.linspace(40, W - 10, len(values))
    ys = 10 + (H - 30) * (1 - (values - lo) / span)
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    return (
        f'<svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="equity curve">'
        f'<rect width="{W}" height="{H}" fill="#fff"/>'
        f'<text x="2" y="14" font-size="11">{hi:,.2f}</text><text x="2" y="{H - 20}" font-size="11">{lo:,.2f}</text>'
        f'<polyline fill="none" stroke="#2962ff" stroke-width="1.5" points="{points}"/></svg>'
    )


def candles_svg(candles: pd.DataFrame, trades: list[dict[str, Any]]) -> str:
    """The last candles that hold trades, with a marker at each contract's entry."""
    if len(candles) == 0:
        return "<p>No candles.</p>"
    end = min(len(candles), (trades[-1]["expiry_index"] + 5) if trades else len(candles))
    start = max(0, end - CHART_CANDLES)
    part = candles.iloc[start:end]
    lo, hi = float(part["low"].min()), float(part["high"].max())
    span = hi - lo or 1.0
    step = (W - 50) / max(len(part), 1)

    def y(v: float) -> float:
        return 15 + (H - 40) * (1 - (v - lo) / span)

    out = [f'<svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="candles with trades">']
    out.append(f'<rect width="{W}" height="{H}" fill="#fff"/>')
    for k, row in enumerate(part.itertuples(index=False)):
        x = 40 + k * step + step / 2
        color = "#26a69a" if row.close >= row.open else "#ef5350"
        top, bottom = y(max(row.open, row.close)), y(min(row.open, row.close))
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y(row.high):.1f}" y2="{y(row.low):.1f}" stroke="{color}"/>'
        )
        out.append(
            f'<rect x="{x - step * 0.35:.1f}" y="{top:.1f}" width="{step * 0.7:.1f}" '
            f'height="{max(bottom - top, 0.8):.1f}" fill="{color}"/>'
        )
    for t in trades:
        i = t["entry_index"]
        if not start <= i < end:
            continue
        x = 40 + (i - start) * step + step / 2
        result = {1: "win", -1: "loss", 0: "tie"}[t["outcome"]]
        label = (
            f"{'call' if t['direction'] > 0 else 'put'} at {t['entry_price']} → {t['expiry_price']}: {result}"
        )
        if t["direction"] > 0:
            yy = y(float(candles["low"].iloc[i])) + 4
            shape = f"{x:.1f},{yy:.1f} {x - 5:.1f},{yy + 8:.1f} {x + 5:.1f},{yy + 8:.1f}"
            fill = "#1565c0"
        else:
            yy = y(float(candles["high"].iloc[i])) - 4
            shape = f"{x:.1f},{yy:.1f} {x - 5:.1f},{yy - 8:.1f} {x + 5:.1f},{yy - 8:.1f}"
            fill = "#e65100"
        out.append(f'<polygon points="{shape}" fill="{fill}"><title>{html.escape(label)}</title></polygon>')
    out.append(
        f'<text x="40" y="{H - 4}" font-size="11">{_when(part["time"].iloc[0])} – {_when(part["time"].iloc[-1])} UTC</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(output: dict[str, Any], candles: dict[str, pd.DataFrame]) -> str:
    """The whole report for a backtest's output (as ``execute`` returns it) and its candles by id."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>QuantumFlux backtest</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;font-size:13px}th{background:#f4f4f4}",
        "</style></head><body>",
        f"<h1>Backtest: {html.escape(output['strategy'])}</h1>",
        f"<p>Parameters: {html.escape(str(output['params']))}. Engine: {html.escape(str(output['engine']))}.</p>",
    ]
    for result in output["results"]:
        ds = result["dataset"]
        m = {k: v for k, v in result["metrics"].items() if k != "by_hour"}
        parts.append(
            f"<h2>{html.escape(ds['id'])}</h2><p>{html.escape(ds['data']['timeframe_message'])}; "
            f"{ds['data']['candles']} candles, {ds['data']['gaps']} gaps.</p>"
        )
        parts.append(_table([m], list(m)))
        parts.append(
            "<h3>Balance after each trade</h3>" + equity_svg(result["equity"], result["engine"]["balance"])
        )
        parts.append(
            "<h3>Candles and trades (▲ call, ▼ put)</h3>" + candles_svg(candles[ds["id"]], result["trades"])
        )
        if result["metrics"]["by_hour"]:
            parts.append(
                "<h3>By hour of day (UTC)</h3>"
                + _table(result["metrics"]["by_hour"], list(result["metrics"]["by_hour"][0]))
            )
        rows = result["trades"][:TRADE_ROWS]
        if rows:
            parts.append(f"<h3>Trades (first {len(rows)} of {result['metrics']['trades']})</h3>")
            parts.append(_table(rows, list(rows[0])))
    parts.append("</body></html>")
    return "".join(parts)
