"""``python -m quantumflux.backtest`` is ``qf backtest-service``."""

from quantumflux.bus.cli import run_command

run_command("quantumflux.backtest.cli", "backtest-service")
