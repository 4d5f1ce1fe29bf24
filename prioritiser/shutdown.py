"""How the command line ends: the exit status of a Ctrl-C, a Ctrl-C Python would swallow, and a
quiet shutdown after it.

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


#: Whether a Ctrl-C landed where Python could not raise it (see :func:`pass_on_swallowed_ctrl_c`).
swallowed_ctrl_c = False

#: Seconds after a swallowed Ctrl-C at which it is sent again: by then the process has left the
#: code that swallowed it.
RESEND_AFTER_S = 0.02


def pass_on_swallowed_ctrl_c() -> None:
    """Call first: a Ctrl-C that lands while Python runs code it cannot raise from (a weakref
    callback such as the import system's module-lock cleanup, a ``__del__``) would be printed
    as an "Exception ignored" traceback and lost, the command going on to exit 0. Instead it is
    noted (:data:`swallowed_ctrl_c`, which the command line checks as it ends) and sent again
    a moment later from another thread (sent from here it would land in this hook and be lost
    again), to land in the command itself, which then ends as any interrupted one does (one
    ``error:`` line, status 130). Other unraisable exceptions are reported as before."""
    report = sys.unraisablehook

    def hook(unraisable) -> None:
        global swallowed_ctrl_c
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            report(unraisable)
            return
        import os
        import threading

        swallowed_ctrl_c = True
        resend = threading.Timer(RESEND_AFTER_S, os.kill, (os.getpid(), signal.SIGINT))
        resend.daemon = True
        resend.start()

    sys.unraisablehook = hook
