"""``python -m quantumflux.sim`` is ``qf sim``."""

from quantumflux.bus.cli import run_command

run_command("quantumflux.sim.cli", "sim")
