from services.qf.cli import run_command

run_command("candles")
