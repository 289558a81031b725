try:
    from echoquality.commands.cli import main  # the command line: echoquality/commands/cli.py
except KeyboardInterrupt:  # Ctrl-C while Python is still starting: stop quietly
    raise SystemExit(130) from None

if __name__ == "__main__":   # worker processes started by `batch` import this file again: nothing must run then
    raise SystemExit(main())
