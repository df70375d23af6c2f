"""``python -m quantumflux.persistence`` is ``qf persistence``."""

from quantumflux.bus.cli import run_command

run_command("quantumflux.persistence.cli", "persistence")
