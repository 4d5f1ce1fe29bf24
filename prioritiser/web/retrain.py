"""Background retraining for the screening page: one worker process, never the page's own.

:class:`BackgroundRetrainer` runs :func:`retrain_and_report` in a separate (spawned) process so
that training on a large project competes with the page for neither the interpreter lock nor
the project's connection. A request made while a run is going is remembered and starts when it
ends, so at most one run goes at a time and the newest decisions are always taken in.

Each run does what ``prioritiser rank`` does (the same :func:`prioritiser.screening.rank_project`,
same model preset, stored as an iteration: ranking quality is the CLI loop's), then computes
the project's status (recall estimate with its interval, every stopping rule's verdict) and
fits the :class:`~prioritiser.web.explain.RecordExplainer` for "why this record".
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from prioritiser.errors import UserError


def _plain(value):
    """numpy scalars to Python ones, for JSON."""
    return value.item() if hasattr(value, "item") else str(value)


def retrain_and_report(path: str, model: str, question: str) -> dict:
    """Rank (when the decisions allow: an include and an exclude, or a research question),
    then report: ``{"status": project_status, "note": why no ranking, "explainer": fitted or None}``."""
    from prioritiser.project import Project
    from prioritiser.screening import rank_project, screening_state
    from prioritiser.status import project_status
    from prioritiser.web.explain import RecordExplainer

    note = ""
    with Project(path) as project:
        state = screening_state(project)
        idx, y = state.training
        both = bool(y.sum()) and bool((y == 0).sum())
        if not len(state.unscreened):
            note = "every record has a decision"
        elif both or question:
            try:
                rank_project(project, model=model, batch=1, query=question or None, progress=False)
            except UserError as exc:
                note = str(exc)
        else:
            note = "the ranking starts once there is an include and an exclude (or a research question)"
        status = json.loads(json.dumps(project_status(project), default=_plain))
        explainer = None
        if both:
            groups = state.group_ids[idx]
            titles = dict(project.con.execute(
                f"SELECT record_id, title FROM records WHERE record_id IN ({','.join('?' * len(groups))})",
                [int(g) for g in groups],
            ))
            explainer = RecordExplainer().fit([state.texts[i] for i in idx], y, groups,
                                              [titles.get(int(g), "") for g in groups])
    return {"status": status, "note": note, "explainer": explainer}


class BackgroundRetrainer:
    """Runs :func:`retrain_and_report` in a worker process; ``on_result`` gets each report (in a
    worker thread of this process) and ``on_error`` each failure message."""

    def __init__(self, path: Path, model: str, question: str, on_result, on_error):
        self.path, self.model, self.question = str(path), model, question
        self.on_result, self.on_error = on_result, on_error
        self._executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    @property
    def running(self) -> bool:
        return self._running

    def request(self) -> None:
        """Start a run now, or as soon as the one going ends."""
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        self._submit()

    def _submit(self) -> None:
        future = self._executor.submit(retrain_and_report, self.path, self.model, self.question)
        future.add_done_callback(self._done)

    def _done(self, future: Future) -> None:
        try:
            self.on_result(future.result())
        except Exception as exc:  # reported on the page; the next request tries again
            self.on_error(f"background retraining failed: {exc}")
        with self._lock:
            again, self._again = self._again, False
            self._running = again
        if again:
            try:
                self._submit()
            except RuntimeError:  # shut down meanwhile
                self._running = False

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
