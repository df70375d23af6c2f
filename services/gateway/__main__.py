from services.bus.cli import run_command

run_command("services.gateway.cli", "gateway")
