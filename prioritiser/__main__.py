"""The ``prioritiser`` console script and ``python -m prioritiser``.

This module imports nothing heavy, so that it is loaded before a user can press Ctrl-C: a
Ctrl-C while Python still loads the command line (typer, rich, the library) then ends in one
``error:`` line and exit status 130 instead of a ``KeyboardInterrupt`` traceback. (Before
Python has set up its own Ctrl-C handling the process simply ends, killed by SIGINT, with no
output; nothing of prioritiser has run then.)
"""

from __future__ import annotations

import sys

from prioritiser.shutdown import INTERRUPTED, end_quietly_on_ctrl_c, pass_on_swallowed_ctrl_c


def main() -> int | str | None:
    """Load the command line and run it; returns the exit status."""
    pass_on_swallowed_ctrl_c()
    try:
        from prioritiser.cli import main as cli_main
    except KeyboardInterrupt:
        try:
            sys.stderr.write("error: interrupted while starting; nothing was written\n")
        except (KeyboardInterrupt, OSError, ValueError):
            pass
        end_quietly_on_ctrl_c()
        return INTERRUPTED
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
