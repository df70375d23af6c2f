"""``python -m quantumflux.signals`` is ``qf signals-service``."""

from quantumflux.bus.cli import run_command

run_command("quantumflux.signals.cli", "signals-service")
