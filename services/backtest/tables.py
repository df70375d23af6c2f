"""The terminal view of a backtest: rich tables of the metrics and of each extra analysis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# Columns of the side-by-side tables, short enough for an 80-column terminal.
COLUMNS = (
    ("trades", "trades"),
    ("win_rate", "win %"),
    ("net_profit", "net"),
    ("roi", "ROI %"),
    ("profit_factor", "PF"),
    ("max_drawdown", "max DD"),
    ("sharpe", "Sharpe"),
)
PERCENT = {"win_rate", "roi"}


def _v(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.2f}"
    return str(value)


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "–"
    if key in PERCENT:
        return f"{value * 100:.2f}"
    if isinstance(value, float):
        return f"{value:.2f}" if key != "sharpe" else f"{value:.3f}"
    return str(value)


def _params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def _summary_table(title: str, rows: list[dict[str, Any]], label: str) -> Table:
    table = Table(title=title)
    table.add_column(label, overflow="fold")
    for _, head in COLUMNS:
        table.add_column(head, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(row["label"], *(_cell(k, row["metrics"].get(k)) for k, _ in COLUMNS))
    return table


def show(output: dict[str, Any], report: Path | None = None) -> None:
    """Print the result of :func:`~.runner.execute` as tables."""
    console = Console()
    for result in output["results"]:
        _show_run(console, output, result)
        if "compare" in result:
            rows = [{"label": r["strategy"], "metrics": r["metrics"]} for r in result["compare"]]
            console.print(_summary_table("Side by side", rows, "strategy"))
        if "grid" in result:
            _show_grid(console, result["grid"])
        if "walk_forward" in result:
            _show_walk_forward(console, output, result["walk_forward"])
        if "monte_carlo" in result:
            _show_monte_carlo(console, result["monte_carlo"])
    if report:
        console.print(f"report written to {report}")


def _show_run(console: Console, output: dict[str, Any], result: dict[str, Any]) -> None:
    ds = result["dataset"]
    data = ds["data"]
    console.print(
        f"[bold]{ds['id']}[/bold]: {data['candles']} candles, {data['timeframe_message']}, "
        f"{data['missing_candles']} missing candles in {data['gaps']} gaps"
    )
    console.print(f"{output['strategy']}: {_params(output['params'])}")
    if data.get("incomplete_skipped"):
        console.print(f"{data['incomplete_skipped']} incomplete candles left out, like missing ones")
    if "payout" in result:
        console.print(result["payout"]["text"])
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result["metrics"].items():
        if key != "by_hour":
            table.add_row(key.replace("_", " "), _v(value))
    console.print(table)


def _show_grid(console: Console, g: dict[str, Any]) -> None:
    key = g["metric"]
    # The best ten by the ranking metric; runs without a value for it come last.
    ranked = sorted(g["rows"], key=lambda r: (r["metrics"].get(key) is None, -(r["metrics"].get(key) or 0)))[
        :10
    ]
    rows = [
        {"label": _params({a: r["params"][a] for a in g["axes"]}), "metrics": r["metrics"]} for r in ranked
    ]
    console.print(_summary_table(f"Grid by {key}: top {len(rows)} of {len(g['rows'])}", rows, "parameters"))
    if g["best"]:
        best = g["best"]
        console.print(
            f"best: {_params({a: best['params'][a] for a in g['axes']})} ({key} {_v(best['metrics'].get(key))})"
        )


def _show_walk_forward(console: Console, output: dict[str, Any], wf: dict[str, Any]) -> None:
    axes = list(output["results"][0].get("grid", {}).get("axes", [])) or list(wf["windows"][0]["params"])
    rows = [
        {"label": _params({a: w["params"][a] for a in axes}), "metrics": w["test"]} for w in wf["windows"]
    ]
    console.print(_summary_table("Walk-forward: each test window", rows, "best parameters"))
    console.print(
        _summary_table("Walk-forward: out of sample", [{"label": "all", "metrics": wf["out_of_sample"]}], "")
    )


def _show_monte_carlo(console: Console, mc: dict[str, Any]) -> None:
    table = Table(title=f"Monte Carlo: {mc['runs']} shuffles, ruin = balance ≤ {mc['ruin_level']} × start")
    table.add_column("")
    quantiles = ("p5", "p25", "p50", "p75", "p95")
    for p in quantiles:
        table.add_column(p, justify="right")
    for key in ("max_drawdown", "max_drawdown_pct", "final_balance"):
        table.add_row(key.replace("_", " "), *(_v(mc[key][p]) for p in quantiles))
    console.print(table)
    console.print(f"ruin probability: {mc['ruin_probability']:.2%}")
