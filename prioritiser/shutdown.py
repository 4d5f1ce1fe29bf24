"""How the command line ends: the exit status of a Ctrl-C and a quiet shutdown after it.

Imports nothing, so that :mod:`prioritiser.__main__` can load it before anything heavy."""

from __future__ import annotations

import signal
import sys

#: Exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def end_quietly_on_ctrl_c() -> None:
    """Call once the command has finished and said so: output is flushed, and a Ctrl-C from
    now on (while Python shuts down: atexit handlers, module teardown) ends the process
    silently, killed by SIGINT as shells expect, instead of printing a ``KeyboardInterrupt``
    traceback from the shutdown code."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (KeyboardInterrupt, OSError, ValueError, AttributeError):
            pass
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    except (ValueError, OSError):  # not the main thread: leave it
        pass
