"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def machine_cache(tmp_path_factory):
    """A machine-wide cache folder of the test session's own, so that tests never read or fill
    the user's (``XDG_CACHE_HOME`` points into a temporary folder)."""
    root = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(root))
        yield root / "prioritiser"


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
def example_project(tmp_path):
    """A project of the bundled example search with its first 20 decisions (3 includes)."""
    from prioritiser.importing import create_project
    from prioritiser.labels import import_labels
    from prioritiser.package_data import data_dir

    directory = tmp_path / "review"
    project, _ = create_project(directory, [data_dir() / "example_search.ris"])
    with project:
        import_labels(project, data_dir() / "example_first_decisions.csv")
    return directory

