"""``python -m services.sim`` is ``qf sim``."""

from services.qf.cli import run_command

run_command("sim")
