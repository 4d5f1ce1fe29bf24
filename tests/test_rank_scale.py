"""What keeps ``rank`` fast on large projects: the text each group is ranked on, and the term
counts cached in the project, so that ranking again tokenises nothing and adding records
tokenises only the new ones (``scripts/rank_benchmark.py`` times it at 100,000 records)."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from prioritiser.importing import create_project, add_records
from prioritiser.labels import import_labels
from prioritiser.package_data import data_dir
from prioritiser.screening import rank_project

DATA = data_dir()


def test_group_text_is_the_longest_member_first_on_ties(tmp_path):
    ramipril, trials = "Ramipril lowers blood pressure in older adults", "Mapping studies of test automation"
    rows = pd.DataFrame({
        "title": [ramipril, ramipril, trials, trials, "Alone"],
        "abstract": ["", "A longer abstract.", "Version one", "Version two", "Text"],
        "doi": ["10.1/a", "10.1/a", "10.1/b", "10.1/b", ""],
    })
    rows.to_csv(tmp_path / "search.csv", index=False)
    with create_project(tmp_path / "review", [tmp_path / "search.csv"])[0] as project:
        group_ids, texts = project.group_texts()
    assert group_ids.tolist() == [1, 3, 5]
    assert texts == [f"{ramipril}\nA longer abstract.", f"{trials}\nVersion one", "Alone\nText"]


def test_ranking_again_tokenises_nothing_and_new_records_only_themselves(tmp_path, count_calls):
    example = pd.read_csv(DATA / "example.csv").drop(columns="label_included")
    example.iloc[:400].to_csv(tmp_path / "first.csv", index=False)
    example.iloc[400:].to_csv(tmp_path / "update.csv", index=False)
    with create_project(tmp_path / "review", [tmp_path / "first.csv"])[0] as project:
        import_labels(project, DATA / "example_first_decisions.csv")
        first = rank_project(project, model="fast", progress=False)
        assert sum(map(len, count_calls)) == 400
        count_calls.clear()
        second = rank_project(project, model="fast", progress=False)
        assert count_calls == []
        a, b = project.iteration(first.iteration_id), project.iteration(second.iteration_id)
        assert np.array_equal(a.group_ids, b.group_ids) and np.array_equal(a.scores, b.scores)
        assert len(b.group_ids) == second.n_ranked == 400 - b.n_labelled

        add_records(project, [tmp_path / "update.csv"])
        rank_project(project, model="fast", progress=False)
        assert sum(map(len, count_calls)) == 100
