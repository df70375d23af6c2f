"""``python -m services.sim`` is ``qf sim``."""

from services.bus.cli import run_command

run_command("services.sim.cli", "sim")
