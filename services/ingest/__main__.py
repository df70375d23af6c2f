"""`python -m services.ingest` is `qf ingest`."""

from services.qf.cli import run_command

run_command("ingest")
