from services.qf.cli import main

main()
