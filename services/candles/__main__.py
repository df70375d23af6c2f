"""``python -m quantumflux.candles`` is ``qf candles``."""

from quantumflux.bus.cli import run_command

run_command("quantumflux.candles.cli", "candles")
