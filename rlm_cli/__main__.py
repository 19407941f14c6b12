from rlm_cli.cli.app import main

main()
