"""``python -m services.ingest`` is ``qf ingest``."""

from services.bus.cli import run_command

run_command("services.ingest.cli", "ingest")
