"""Project records as a table: one row per record, with its group's decision, score and rank,
and why the latest ranking put it there (see :func:`prioritiser.screening.explain_iteration`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from prioritiser.store import Project

EXPORT_COLUMNS = [
    "record_id", "group_id", "title", "abstract", "authors", "year", "doi", "pmid", "keywords", "journal",
    "label", "score", "rank", "percentile", "top_terms", "similar_include_id", "similar_include_title",
    "source_file", "source_position",
]


def records_table(project: Project, progress: bool = False) -> pd.DataFrame:
    """Every record (duplicates included) with ``label`` (the group's decision in force or ""),
    and for groups the latest iteration ranked and still unscreened: ``score``, ``rank``,
    ``percentile``, and for the front of that ranking ``top_terms`` and the most similar
    include (empty elsewhere)."""
    from prioritiser.screening import EXPLANATION_COLUMNS, explain_iteration

    frame = project.records_with_sources()
    decisions = project.group_decisions()
    frame["label"] = [decisions.get(g, "") for g in frame["group_id"].tolist()]
    frame["score"] = np.nan
    frame["rank"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame["percentile"] = np.nan
    frame["top_terms"] = ""
    frame["similar_include_id"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame["similar_include_title"] = ""
    latest = project.latest_iteration()
    if latest is not None and len(latest.group_ids):
        position = pd.Series(np.arange(1, len(latest.group_ids) + 1), index=latest.group_ids)
        score = pd.Series(latest.scores, index=latest.group_ids)
        unlabelled = frame["label"].eq("")
        groups = frame.loc[unlabelled, "group_id"]
        frame.loc[unlabelled, "score"] = groups.map(score)
        frame.loc[unlabelled, "rank"] = groups.map(position).astype("Int64")
        explained = explain_iteration(project, latest, progress=progress)
        for column in EXPLANATION_COLUMNS:
            values = groups.map(explained[column])
            frame.loc[unlabelled, column] = values.fillna("") if column in ("top_terms", "similar_include_title") \
                else values
    frame["year"] = frame["year"].astype("Int64")
    frame["source_file"] = frame["source_file"].map(lambda p: Path(p).name)
    return frame[EXPORT_COLUMNS]


def export_records(project: Project, out: Path, progress: bool = False) -> int:
    """Write :func:`records_table` to ``out`` (.csv, .tsv, .xlsx or .ris); returns the row count.
    The format is checked before any work."""
    from prioritiser.batches import check_output
    from prioritiser.io import write_table

    check_output(out)
    table = records_table(project, progress=progress)
    write_table(table, out)
    return len(table)
