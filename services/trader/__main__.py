"""``python -m quantumflux.trader`` is ``qf trader``."""

from quantumflux.bus.cli import run_command

run_command("quantumflux.trader.cli", "trader")
