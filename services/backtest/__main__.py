"""``python -m services.backtest`` is ``qf backtest-service``."""

from services.qf.cli import run_command

run_command("backtest-service")
