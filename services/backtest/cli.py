"""``qf backtest`` and ``qf backtest-service``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


def backtest(
    datasets: Annotated[
        list[str], typer.Argument(help="Dataset ids (see GET /datasets) or CSV files.", show_default=False)
    ],
    strategy: Annotated[
        str,
        typer.Option(
            help="Built-in strategy: sma_cross, rsi_reversal, macd_cross, bollinger_reversal, quantum_flux."
        ),
    ] = "sma_cross",
    strategy_file: Annotated[
        Path | None, typer.Option(help="Your own strategy: a Python file with signals(candles, **params).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="A strategy parameter, name=value (repeat).")
    ] = None,
    expiry: Annotated[int, typer.Option(help="Contract length in candles.")] = 1,
    payout: Annotated[float, typer.Option(help="Profit per unit staked on a win (0.92 = 92%).")] = 0.92,
    min_confidence: Annotated[
        float, typer.Option(help="Ignore signals with a lower confidence (0..1).")
    ] = 0.0,
    overlap: Annotated[bool, typer.Option("--overlap", help="Allow several open contracts at once.")] = False,
    stake: Annotated[float, typer.Option(help="Fixed stake per contract.")] = 1.0,
    fraction: Annotated[
        float | None, typer.Option(help="Stake this share of the balance instead (0.02 = 2%).")
    ] = None,
    balance: Annotated[float, typer.Option(help="Starting balance.")] = 1000.0,
    compare: Annotated[
        str | None, typer.Option(help="Also run these strategies side by side: s1,s2.")
    ] = None,
    grid: Annotated[
        list[str] | None, typer.Option(help="Sweep a parameter: name=start:stop:step or name=a,b,c (repeat).")
    ] = None,
    metric: Annotated[
        str, typer.Option(help="What a sweep ranks by (net_profit, roi, win_rate, sharpe, max_drawdown, …).")
    ] = "net_profit",
    walk_forward: Annotated[
        bool,
        typer.Option(
            "--walk-forward",
            help="Optimise the --grid on a window, trade the next one; out-of-sample results only.",
        ),
    ] = False,
    train: Annotated[int, typer.Option(help="Walk-forward: candles to optimise on.")] = 1000,
    test: Annotated[int, typer.Option(help="Walk-forward: candles to trade after each train window.")] = 250,
    monte_carlo: Annotated[
        int, typer.Option(help="Shuffle the trade order this many times (drawdown and ruin odds).")
    ] = 0,
    ruin: Annotated[
        float,
        typer.Option(help="Monte Carlo: a path is ruined when the balance falls to this share of the start."),
    ] = 0.5,
    seed: Annotated[int, typer.Option(help="Seed of the Monte Carlo shuffles.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML report to this file.")
    ] = None,
    max_trades: Annotated[int | None, typer.Option(help="List at most this many trades in the JSON.")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data folder (default QF_DATA_DIR or ./data).")
    ] = None,
) -> None:
    """Backtest a strategy on collected candles: binary contracts, metrics, trades, a report."""
    from services.backtest.shell import run_backtest_command

    options: dict[str, Any] = dict(locals())
    raise typer.Exit(run_backtest_command(options))


def backtest_service(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default QF_BACKTEST_PORT or 3002).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data folder (default QF_DATA_DIR or ./data).")
    ] = None,
) -> None:
    """Run the backtest service (HTTP): strategies, datasets and backtests for the web app."""
    from services.backtest.shell import serve

    raise typer.Exit(serve(host=host, port=port, data_dir=data_dir))


COMMANDS = {"backtest": backtest, "backtest-service": backtest_service}
