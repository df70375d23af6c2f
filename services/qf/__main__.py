from quantumflux.qf.cli import main

main()
