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
