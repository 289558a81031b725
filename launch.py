from echoquality.commands.cli import main  # the command line: echoquality/commands/cli.py

if __name__ == "__main__":   # worker processes started by `batch` import this file again: nothing must run then
    raise SystemExit(main())
