"""The ``dcmnode`` command line: `main` and one module per subcommand."""

from dcmnode.cli.main import main

__all__ = ["main"]
