from echoquality.commands.cli import main  # the command line: echoquality/commands/cli.py
raise SystemExit(main())
