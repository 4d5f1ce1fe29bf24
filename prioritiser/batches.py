"""Handing a batch to reviewers: the one routine for every kind of batch.

A batch is recorded in the project and written to a file (``.csv``, ``.tsv``, ``.xlsx`` or
``.ris``) whose empty ``label`` column goes back to ``prioritiser label``. Everything the batch
comes with (the iteration that ranked it) is stored in the same transaction, and the file is written to a temporary sibling inside that transaction and renamed
into place once it has committed: a failure leaves neither a recorded batch without its file
nor a file at ``out`` for a batch that was not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

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


@dataclass
class HandOut:
    """What :func:`hand_out` stored and wrote."""

    batch_id: int | None
    iteration_id: int | None
    frame: pd.DataFrame


def hand_out(
    project: Project,
    kind: str,
    frame: pd.DataFrame,
    seed: int,
    out: Path | None = None,
    *,
    iteration: Iteration | None = None,
    iteration_id: int | None = None,
) -> HandOut:
    """Record the batch ``frame`` (rows of :func:`batch_frame`) of ``kind`` (``ranked``,
    ``random`` or ``qa``) and write it to ``out`` when given, in one transaction.

    ``iteration`` is a new ranking to store with it (the batch then belongs to it);
    ``iteration_id`` names an earlier one. Handing a batch out closes the one before it (a
    certification sample counts only what was decided while it was open). An empty ``frame``
    records no batch (the rest is still stored)."""
    from prioritiser.io import write_table

    def store_and_write(tmp: Path | None) -> HandOut:
        with project.write():
            it_id = project.add_iteration(iteration) if iteration is not None else iteration_id
            batch_id = None
            if len(frame):
                batch_id = project.add_batch(kind, frame["record_id"].to_numpy(dtype=np.int64), seed=seed,
                                             iteration_id=it_id)
            if tmp is not None:
                write_table(frame, tmp)
        return HandOut(batch_id, it_id, frame)

    if out is None:
        return store_and_write(None)
    with replacing(out) as tmp:
        return store_and_write(tmp)
