"""Project records as a table: one row per record, with its group's decision, score and rank."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from prioritiser.store import Project

EXPORT_COLUMNS = [
    "record_id", "group_id", "title", "abstract", "authors", "year", "doi", "pmid", "keywords", "journal",
    "label", "score", "rank", "source_file", "source_position",
]


def records_table(project: Project) -> pd.DataFrame:
    """Every record (duplicates included) with ``label`` (the group's decision in force or ""),
    ``score`` and ``rank`` from the latest iteration (empty for groups it did not rank)."""
    frame = project.records_with_sources()
    decisions = project.group_decisions()
    frame["label"] = [decisions.get(g, "") for g in frame["group_id"].tolist()]
    frame["score"] = np.nan
    frame["rank"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    latest = project.latest_iteration()
    if latest is not None and len(latest.group_ids):
        position = pd.Series(np.arange(1, len(latest.group_ids) + 1), index=latest.group_ids)
        score = pd.Series(latest.scores, index=latest.group_ids)
        unlabelled = frame["label"].eq("")
        frame.loc[unlabelled, "score"] = frame.loc[unlabelled, "group_id"].map(score)
        frame.loc[unlabelled, "rank"] = frame.loc[unlabelled, "group_id"].map(position).astype("Int64")
    frame["year"] = frame["year"].astype("Int64")
    frame["source_file"] = frame["source_file"].map(lambda p: Path(p).name)
    return frame[EXPORT_COLUMNS]


def export_records(project: Project, out: Path) -> int:
    """Write :func:`records_table` to ``out`` (.csv, .tsv, .xlsx or .ris); returns the row count."""
    from prioritiser.io import write_table

    table = records_table(project)
    write_table(table, out)
    return len(table)
