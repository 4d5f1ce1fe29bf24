"""Background retraining for the screening page: one worker process, never the page's own.

:class:`BackgroundRetrainer` runs :func:`retrain_and_report` in a separate (spawned) process so
that training on a large project competes with the page for neither the interpreter lock nor
the project's connection. A request made while a run is going is remembered and starts when it
ends, so at most one run goes at a time and the newest decisions are always taken in.

Each run does what ``prioritiser rank`` does (the same :func:`prioritiser.screening.rank_project`,
same model preset, stored as an iteration: ranking quality is the CLI loop's), then computes
the project's status (recall estimate with its interval, every stopping rule's verdict) and
why the front of the new ranking ranks there (``rank_project``'s ``explain_front``, from the
model it has just fitted: the terms that raised each record's score under the ranker itself,
and its most similar include), for "why this record".
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

import pandas as pd

from prioritiser.errors import UserError

#: Records at the front of each new ranking whose "why this record" the page can show.
EXPLAINED_ON_PAGE = 500


def _plain(value):
    """numpy scalars to Python ones, for JSON."""
    return value.item() if hasattr(value, "item") else str(value)


def retrain_and_report(path: str, model: str, question: str) -> dict:
    """Rank (when the decisions allow: an include and an exclude, or a research question),
    then report: ``{"status": project_status, "note": why no ranking, "why": {group id: {"terms",
    "similar", "percentile"}} for the first :data:`EXPLAINED_ON_PAGE` records of the ranking,
    "last_event_id": the last label event taken in}``."""
    from prioritiser.store import Project
    from prioritiser.screening import rank_project, screening_state
    from prioritiser.status import project_status

    note, ranked = "", None
    with Project(path) as project:
        state = screening_state(project)
        idx, y = state.training
        both = bool(y.sum()) and bool((y == 0).sum())
        if not len(state.unscreened):
            note = "every record has a decision"
        elif both or question:
            try:
                ranked = rank_project(project, model=model, batch=1, query=question or None, progress=False,
                                      write_file=False, explain_front=EXPLAINED_ON_PAGE, state=state)
            except UserError as exc:
                note = str(exc)
        else:
            note = "the ranking starts once there is an include and an exclude (or a research question)"
        status = json.loads(json.dumps(project_status(project), default=_plain))
        why = {}
        if ranked is not None and ranked.front_explanations is not None:
            for group, row in ranked.front_explanations.iterrows():
                similar = None if pd.isna(row.similar_include_id) else {
                    "group_id": int(row.similar_include_id), "title": row.similar_include_title}
                why[int(group)] = {"terms": row.top_terms, "similar": similar, "percentile": float(row.percentile)}
    return {"status": status, "note": note, "why": why, "last_event_id": state.last_event_id}


def _report_to(pipe, path: str, model: str, question: str) -> None:
    """Worker process body: send ``(True, report)`` or ``(False, message)`` through ``pipe``."""
    try:
        pipe.send((True, retrain_and_report(path, model, question)))
    except Exception as exc:  # reported on the page; the next request tries again
        pipe.send((False, f"{type(exc).__name__}: {exc}"))


class BackgroundRetrainer:
    """Runs :func:`retrain_and_report` in a spawned worker process, one run at a time, watched by
    a thread of this process; ``on_result`` gets each report and ``on_error`` each failure
    message (both called from that thread). The worker is a daemon: it ends with the page."""

    def __init__(self, path: Path, model: str, question: str, on_result, on_error):
        self.path, self.model, self.question = str(path), model, question
        self.on_result, self.on_error = on_result, on_error
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self._closed = False
        self._process = None

    @property
    def running(self) -> bool:
        return self._running

    def request(self) -> None:
        """Start a run now, or as soon as the one going ends."""
        with self._lock:
            if self._closed:
                return
            if self._running:
                self._again = True
                return
            self._running = True
        threading.Thread(target=self._runs, name="prioritiser-retrain", daemon=True).start()

    def _runs(self) -> None:
        while True:
            self._run_once()
            with self._lock:
                again, self._again = self._again and not self._closed, False
                self._running = again
            if not again:
                return

    def _run_once(self) -> None:
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_report_to, args=(sender, self.path, self.model, self.question), daemon=True)
        with self._lock:
            if self._closed:
                return
            process.start()
            self._process = process
        sender.close()
        try:
            ok, payload = receiver.recv()
        except (EOFError, OSError):
            ok, payload = False, f"the worker process ended without a report (exit code {process.exitcode})"
        finally:
            receiver.close()
            process.join()
        if self._closed:
            return
        if ok:
            self.on_result(payload)
        else:
            self.on_error(f"background retraining failed: {payload}")

    def close(self) -> None:
        """Stop: end a run that is going (its ranking is stored whole or not at all)."""
        with self._lock:
            self._closed = True
            process = self._process
        if process is not None and process.is_alive():
            process.terminate()
            process.join(5)
