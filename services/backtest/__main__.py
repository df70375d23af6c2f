"""``python -m services.backtest`` is ``qf backtest-service``."""

from services.bus.cli import run_command

run_command("services.backtest.cli", "backtest-service")
