"""``python -m quantumflux.backfill``: the same as ``qf backfill``."""

from quantumflux.bus.cli import run_command

if __name__ == "__main__":
    run_command("quantumflux.backfill.cli", "backfill")
