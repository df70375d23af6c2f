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
        ds = result["dataset"]
        data = ds["data"]
        console.print(
            f"[bold]{ds['id']}[/bold]: {data['candles']} candles, {data['timeframe_message']}, "
            f"{data['missing_candles']} missing candles in {data['gaps']} gaps"
        )
        m = result["metrics"]
        console.print(f"{output['strategy']}: {_params(output['params'])}")
        table = Table()
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, value in m.items():
            if key != "by_hour":
                table.add_row(key.replace("_", " "), _v(value))
        console.print(table)
        if "compare" in result:
            rows = [{"label": r["strategy"], "metrics": r["metrics"]} for r in result["compare"]]
            console.print(_summary_table("Side by side", rows, "strategy"))
        if "grid" in result:
            g = result["grid"]
            key = g["metric"]
            ranked = sorted(
                g["rows"], key=lambda r: (r["metrics"].get(key) is None, -(r["metrics"].get(key) or 0))
            )[:10]
            rows = [
                {"label": _params({a: r["params"][a] for a in g["axes"]}), "metrics": r["metrics"]}
                for r in ranked
            ]
            console.print(
                _summary_table(f"Grid by {key}: top {len(rows)} of {len(g['rows'])}", rows, "parameters")
            )
            if g["best"]:
                best = g["best"]
                console.print(
                    f"best: {_params({a: best['params'][a] for a in g['axes']})} ({key} {_v(best['metrics'].get(key))})"
                )
        if "walk_forward" in result:
            wf = result["walk_forward"]
            axes = list(output["results"][0].get("grid", {}).get("axes", [])) or list(
                wf["windows"][0]["params"]
            )
            rows = [
                {"label": _params({a: w["params"][a] for a in axes}), "metrics": w["test"]}
                for w in wf["windows"]
            ]
            console.print(_summary_table("Walk-forward: each test window", rows, "best parameters"))
            console.print(
                _summary_table(
                    "Walk-forward: out of sample", [{"label": "all", "metrics": wf["out_of_sample"]}], ""
                )
            )
        if "monte_carlo" in result:
            mc = result["monte_carlo"]
            table = Table(
                title=f"Monte Carlo: {mc['runs']} shuffles, ruin = balance ≤ {mc['ruin_level']} × start"
            )
            table.add_column("")
            for p in ("p5", "p25", "p50", "p75", "p95"):
                table.add_column(p, justify="right")
            for key in ("max_drawdown", "max_drawdown_pct", "final_balance"):
                table.add_row(
                    key.replace("_", " "), *(_v(mc[key][p]) for p in ("p5", "p25", "p50", "p75", "p95"))
                )
            console.print(table)
            console.print(f"ruin probability: {mc['ruin_probability']:.2%}")
    if report:
        console.print(f"report written to {report}")
