"""Handing a batch to reviewers: the one routine for every kind of batch.

A batch is recorded in the project and written to a file (``.csv``, ``.tsv``, ``.xlsx`` or
``.ris``) whose empty ``label`` column goes back to ``prioritiser label``. Everything the batch
comes with (the iteration that ranked it) is stored in the same transaction, and the file is written to a temporary sibling inside that transaction and renamed
into place once it has committed: a failure leaves neither a recorded batch without its file
nor a file at ``out`` for a batch that was not recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prioritiser.errors import UserError
from prioritiser.files import replacing
from prioritiser.store import Iteration, Project

BATCH_COLUMNS = ["record_id", "title", "abstract", "authors", "year", "doi", "score", "rank", "label"]


def batch_frame(project: Project, group_ids, scores=None, ranks=None) -> pd.DataFrame:
    """Rows for a batch file: the group's representative record, its score and rank when
    given, and an empty label column."""
    frame = project.batch_records(group_ids)
    if frame.empty:
        return pd.DataFrame(columns=BATCH_COLUMNS)
    frame["year"] = frame["year"].astype("Int64")
    frame["score"] = np.round(scores, 6) if scores is not None else np.nan
    frame["rank"] = ranks if ranks is not None else pd.NA
    frame["label"] = ""
    return frame[BATCH_COLUMNS]


def check_output(out: Path) -> None:
    """A one-line :class:`UserError` unless a batch can be written to ``out`` (a known format,
    not a folder): checked before anything is stored."""
    from prioritiser.io.writers import FORMATS

    out = Path(out)
    if out.is_dir():
        raise UserError(f"{out}: is a folder; name a file such as {out / 'next.csv'}")
    if out.suffix.lower() not in FORMATS:
        raise UserError(f"{out}: unknown output format {out.suffix or '(no extension)'}; use one of {', '.join(FORMATS)}")
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise UserError(f"{out}: {parent} is a file, not a folder")


def default_batch_file(project: Project, batch_id: int) -> Path:
    """Where a batch goes when no file is named: ``DIR/batches/batch-0007.csv`` (by batch id)."""
    return project.path / "batches" / f"batch-{batch_id:04d}.csv"


@dataclass
class HandOut:
    """What :func:`hand_out` stored and wrote (``path``: the batch file, None when none was written)."""

    batch_id: int | None
    iteration_id: int | None
    frame: pd.DataFrame
    path: Path | None = None


def hand_out(
    project: Project,
    kind: str,
    frame: pd.DataFrame,
    seed: int,
    out: Path | Callable[[int], Path] | None = None,
    *,
    iteration: Iteration | None = None,
    iteration_id: int | None = None,
) -> HandOut:
    """Record the batch ``frame`` (rows of :func:`batch_frame`) of ``kind`` (``ranked``,
    ``random`` or ``qa``) and write it to ``out`` when given, in one transaction.

    ``out`` is a path, or a function of the new batch's id giving one (such as
    :func:`default_batch_file`). ``iteration`` is a new ranking to store with it (the batch
    then belongs to it); ``iteration_id`` names an earlier one. Handing a batch out closes the
    one before it (a certification sample counts only what was decided while it was open). An
    empty ``frame`` records no batch (the rest is still stored)."""
    from prioritiser.io import write_table

    if out is not None and not callable(out):
        check_output(out)

    with ExitStack() as renames:  # each file is renamed into place once the transaction has committed
        with project.write():
            it_id = project.add_iteration(iteration) if iteration is not None else iteration_id
            batch_id = path = None
            if len(frame):
                batch_id = project.add_batch(kind, frame["record_id"].to_numpy(dtype=np.int64), seed=seed,
                                             iteration_id=it_id)
            if out is not None and (batch_id is not None or not callable(out)):
                path = Path(out(batch_id) if callable(out) else out)
                write_table(frame, renames.enter_context(replacing(path)))
    return HandOut(batch_id, it_id, frame, path)
