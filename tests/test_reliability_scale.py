"""Memory of ``prioritiser init`` on a large search export: the import streams, so peak
memory is a fixed base plus a small amount per record (the 1,000,000-record target of
4 GiB is 4 KiB a record; ``scripts/import_scale_benchmark.py`` measures that size)."""

from __future__ import annotations

import pytest

from helpers_reliability import measure_init, scale, state_of

N = 50_000
BASE_BYTES = 300 * 2**20  # interpreter, numpy, pandas, rapidfuzz, sqlite page cache
BYTES_PER_RECORD = 4 * 2**10


@pytest.mark.slow
def test_init_of_50000_records_stays_within_memory_bound(tmp_path):
    records = tmp_path / "search.csv"
    scale.write_search_export(records, N, seed=3)
    result = measure_init(tmp_path / "project", records, sample_s=0.5)  # from a fresh process: see measure_init
    assert result["peak_rss"] <= BASE_BYTES + BYTES_PER_RECORD * N, f"peak RSS {result['peak_rss'] / 2**20:.0f} MiB"
    info = state_of(tmp_path / "project").info
    assert info["records"] == N and info["sources"] == 1
