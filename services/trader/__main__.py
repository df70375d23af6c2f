"""``python -m services.trader`` is ``qf trader``."""

from services.bus.cli import run_command

run_command("services.trader.cli", "trader")
