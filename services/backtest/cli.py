"""``qf backtest`` and ``qf backtest-service``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

# The options of ``qf backtest``, named here so the command reads as the list of what it takes.
Datasets = Annotated[
    list[str], typer.Argument(help="Dataset ids (see GET /datasets) or CSV files.", show_default=False)
]
StrategyName = Annotated[
    str,
    typer.Option(
        help="Built-in strategy: sma_cross, rsi_reversal, macd_cross, bollinger_reversal, quantum_flux."
    ),
]
StrategyFile = Annotated[
    Path | None, typer.Option(help="Your own strategy: a Python file with signals(candles, **params).")
]
Params = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="A strategy parameter, name=value (repeat).")
]
Expiry = Annotated[int, typer.Option(help="Contract length in candles.")]
Payout = Annotated[
    str,
    typer.Option(
        help="Profit per unit staked on a win (0.92 = 92%), or 'history' for the broker's payout in force "
        "at each entry ('history:0.85' sets the payout used before the first known change; 0.92 by default)."
    ),
]
IncludeIncomplete = Annotated[
    bool,
    typer.Option(
        "--include-incomplete",
        help="Trade on incomplete candles too (by default they are left out like missing candles).",
    ),
]
MinConfidence = Annotated[float, typer.Option(help="Ignore signals with a lower confidence (0..1).")]
Overlap = Annotated[bool, typer.Option("--overlap", help="Allow several open contracts at once.")]
Stake = Annotated[float, typer.Option(help="Fixed stake per contract.")]
Fraction = Annotated[float | None, typer.Option(help="Stake this share of the balance instead (0.02 = 2%).")]
Balance = Annotated[float, typer.Option(help="Starting balance.")]
Compare = Annotated[str | None, typer.Option(help="Also run these strategies side by side: s1,s2.")]
Grid = Annotated[
    list[str] | None, typer.Option(help="Sweep a parameter: name=start:stop:step or name=a,b,c (repeat).")
]
Metric = Annotated[
    str, typer.Option(help="What a sweep ranks by (net_profit, roi, win_rate, sharpe, max_drawdown, …).")
]
WalkForwardFlag = Annotated[
    bool,
    typer.Option(
        "--walk-forward",
        help="Optimise the --grid on a window, trade the next one; out-of-sample results only.",
    ),
]
Train = Annotated[int, typer.Option(help="Walk-forward: candles to optimise on.")]
Test = Annotated[int, typer.Option(help="Walk-forward: candles to trade after each train window.")]
MonteCarlo = Annotated[
    int, typer.Option(help="Shuffle the trade order this many times (drawdown and ruin odds).")
]
Ruin = Annotated[
    float,
    typer.Option(help="Monte Carlo: a path is ruined when the balance falls to this share of the start."),
]
Seed = Annotated[int, typer.Option(help="Seed of the Monte Carlo shuffles.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")]
Report = Annotated[Path | None, typer.Option(help="Write a self-contained HTML report to this file.")]
MaxTrades = Annotated[int | None, typer.Option(help="List at most this many trades in the JSON.")]
DataDir = Annotated[Path | None, typer.Option(help="Data folder (default QF_DATA_DIR or ./data).")]


def backtest(
    datasets: Datasets,
    strategy: StrategyName = "sma_cross",
    strategy_file: StrategyFile = None,
    param: Params = None,
    expiry: Expiry = 1,
    payout: Payout = "0.92",
    include_incomplete: IncludeIncomplete = False,
    min_confidence: MinConfidence = 0.0,
    overlap: Overlap = False,
    stake: Stake = 1.0,
    fraction: Fraction = None,
    balance: Balance = 1000.0,
    compare: Compare = None,
    grid: Grid = None,
    metric: Metric = "net_profit",
    walk_forward: WalkForwardFlag = False,
    train: Train = 1000,
    test: Test = 250,
    monte_carlo: MonteCarlo = 0,
    ruin: Ruin = 0.5,
    seed: Seed = 0,
    as_json: AsJson = False,
    report: Report = None,
    max_trades: MaxTrades = None,
    data_dir: DataDir = None,
) -> None:
    """Backtest a strategy on collected candles: binary contracts, metrics, trades, a report."""
    from quantumflux.backtest.config import BacktestSettings
    from quantumflux.backtest.shell import run_backtest_command
    from quantumflux.bus.cli import settings_or_exit

    options: dict[str, Any] = dict(locals())
    settings = settings_or_exit(BacktestSettings, "backtest", {"data_dir": data_dir})
    raise typer.Exit(run_backtest_command(settings, options))


def backtest_service(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default QF_BACKTEST_PORT or 3002).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the backtest service (HTTP): strategies, datasets and backtests for the web app."""
    from quantumflux.backtest.config import BacktestSettings
    from quantumflux.backtest.shell import serve
    from quantumflux.bus.cli import settings_or_exit

    overrides = {"backtest_host": host, "backtest_port": port, "data_dir": data_dir}
    raise typer.Exit(serve(settings_or_exit(BacktestSettings, "backtest-service", overrides)))


COMMANDS = {"backtest": backtest, "backtest-service": backtest_service}
