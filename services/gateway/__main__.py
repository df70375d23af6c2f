from quantumflux.bus.cli import run_command

run_command("quantumflux.gateway.cli", "gateway")
