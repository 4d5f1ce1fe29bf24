"""Progress on stderr for work that may take longer than about 2 s: a spinner naming the step,
or a bar for counted work. Drawn only when ``enabled`` and stderr is a terminal, so pipes,
logs and tests see nothing; imports nothing of prioritiser (every layer may use it)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _shown(enabled: bool) -> bool:
    return bool(enabled) and sys.stderr.isatty()


@contextmanager
def step(description: str, enabled: bool = True) -> Iterator[None]:
    """A spinner with ``description`` and the elapsed time while the block runs."""
    if not _shown(enabled):
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as spinner:
        spinner.add_task(description, total=None)
        yield


@contextmanager
def progress_bar(description: str, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A ``(done, total)`` callback drawing a progress bar, with records per second and the time
    left, while the block runs."""
    if not _shown(enabled):
        yield lambda done, total: None
        return
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None, rate="")
        started = time.perf_counter()

        def report(done: int, total: int) -> None:
            elapsed = time.perf_counter() - started
            bar.update(task, completed=done, total=total, rate=f"{done / elapsed:.1f} records/s" if done else "")

        yield report
