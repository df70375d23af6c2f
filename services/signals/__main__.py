"""``python -m services.signals`` is ``qf signals-service``."""

from services.bus.cli import run_command

run_command("services.signals.cli", "signals-service")
