"""The command line: the only places that print."""
