"""``rank --ray`` at an address where no cluster answers: one error line, nothing stored.
Skipped, with the reason, when Ray is not installed (``tests/test_ray_missing.py`` covers that)."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

pytest.importorskip("ray", reason="Ray is not installed (pip install 'prioritiser[ray]')")

from prioritiser.cli import app  # noqa: E402
from prioritiser.store import Project  # noqa: E402

pytestmark = pytest.mark.slow  # imports Ray


def test_rank_on_ray_at_a_bad_address_says_so_in_one_line_and_stores_nothing(example_project):
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{free.getsockname()[1]}"
    result = CliRunner().invoke(app, ["rank", str(example_project), "--ray", address, "--cluster-from", "1"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot join the Ray cluster at '{address}'")
    with Project(example_project) as project:
        assert project.iterations() == [] and project.batches() == []
    assert not (example_project / "batches").exists()
