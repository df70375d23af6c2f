"""``python -m services.signals`` is ``qf signals-service``."""

from services.qf.cli import run_command

run_command("signals-service")
