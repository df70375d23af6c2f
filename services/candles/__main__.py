"""``python -m services.candles`` is ``qf candles``."""

from services.bus.cli import run_command

run_command("services.candles.cli", "candles")
