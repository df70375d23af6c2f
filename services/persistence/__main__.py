"""``python -m services.persistence`` is ``qf persistence``."""

from services.qf.cli import run_command

run_command("persistence")
