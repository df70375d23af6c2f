"""``python -m services.backfill``: the same as ``qf backfill``."""

from services.bus.cli import run_command

if __name__ == "__main__":
    run_command("services.backfill.cli", "backfill")
