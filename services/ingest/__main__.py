"""``python -m quantumflux.ingest`` is ``qf ingest``."""

from quantumflux.bus.cli import run_command

run_command("quantumflux.ingest.cli", "ingest")
