"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest


@pytest.fixture
def count_calls(monkeypatch):
    """Texts whose tf-idf term counts were computed for the count cache, batch by batch."""
    from prioritiser.features.cache import CountCache

    calls: list[list[str]] = []
    real = CountCache.get_or_count

    def spy(self, texts, count, **kwargs):
        def counting(batch):
            calls.append(list(batch))
            return count(batch)

        return real(self, texts, counting, **kwargs)

    monkeypatch.setattr(CountCache, "get_or_count", spy)
    return calls


@pytest.fixture
def project_dir(tmp_path):
    """A project of the bundled example with its first decisions (3 includes, 17 excludes),
    made through the command line."""
    from typer.testing import CliRunner

    from prioritiser.cli import app
    from prioritiser.package_data import data_dir

    directory = tmp_path / "review"
    for args in (["init", directory, "--records", data_dir() / "example_search.ris"],
                 ["label", directory, data_dir() / "example_first_decisions.csv"]):
        result = CliRunner().invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
    return directory
