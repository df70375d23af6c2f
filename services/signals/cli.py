"""``qf signals-service`` (the service) and ``qf signals`` (watch it in the terminal). Light imports only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

IncludeIncomplete = Annotated[
    bool | None,
    typer.Option(
        "--include-incomplete/--skip-incomplete",
        help="Run on incomplete candles too; by default they count as missing (env QF_INCLUDE_INCOMPLETE).",
    ),
]


def signals_service(
    strategies: Annotated[
        str | None,
        typer.Option(
            "--strategies",
            help="Strategies on assets and timeframes, e.g. 'quantum_flux@*:1m;sma_cross(fast=5,slow=20)@EURUSD_otc:5m' (env QF_SIGNALS).",
        ),
    ] = None,
    strategies_file: Annotated[
        Path | None,
        typer.Option(
            "--strategies-file",
            help="JSON or YAML file with the strategies, re-read when it changes (env QF_SIGNALS_FILE).",
        ),
    ] = None,
    expiry: Annotated[
        int | None, typer.Option(min=1, help="Paper contract length in candles (env QF_PAPER_EXPIRY).")
    ] = None,
    payout: Annotated[
        float | None,
        typer.Option(help="Payout when the broker's asset list has none, 0.92 = 92% (env QF_PAPER_PAYOUT)."),
    ] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(
            help="Signals below this confidence open no paper contract (env QF_PAPER_MIN_CONFIDENCE)."
        ),
    ] = None,
    stake: Annotated[
        float | None, typer.Option(help="Fixed stake per paper contract (env QF_PAPER_STAKE).")
    ] = None,
    fraction: Annotated[
        float | None,
        typer.Option(help="Stake as a share of the balance instead, 0.02 = 2% (env QF_PAPER_FRACTION)."),
    ] = None,
    balance: Annotated[
        float | None, typer.Option(help="Starting balance of each paper account (env QF_PAPER_BALANCE).")
    ] = None,
    include_incomplete: IncludeIncomplete = None,
) -> None:
    """Run the strategies on live closed candles: publish signals and paper-trade them, losing and repeating nothing."""
    from quantumflux.bus.cli import settings_or_exit
    from quantumflux.signals.config import SignalsSettings
    from quantumflux.signals.worker import main

    overrides = {
        "signals": strategies,
        "signals_file": strategies_file,
        "paper_expiry": expiry,
        "paper_payout": payout,
        "paper_min_confidence": min_confidence,
        "paper_stake": stake,
        "paper_fraction": fraction,
        "paper_balance": balance,
        "include_incomplete": include_incomplete,
    }
    raise typer.Exit(main(settings_or_exit(SignalsSettings, "signals", overrides)))


def signals(
    once: Annotated[
        bool, typer.Option("--once", help="Print what is there now and stop, instead of following.")
    ] = False,
    last: Annotated[
        int, typer.Option(min=1, max=1000, help="How many recent signals and contracts to show.")
    ] = 15,
) -> None:
    """Show live signals and paper-trading results in the terminal (what the signals service publishes)."""
    from quantumflux.bus.cli import settings_or_exit
    from quantumflux.signals.config import SignalsSettings
    from quantumflux.signals.watch import main

    raise typer.Exit(main(settings_or_exit(SignalsSettings, "signals"), once=once, last=last))


COMMANDS = {"signals-service": signals_service, "signals": signals}
