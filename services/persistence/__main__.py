"""``python -m services.persistence`` is ``qf persistence``."""

from services.bus.cli import run_command

run_command("services.persistence.cli", "persistence")
