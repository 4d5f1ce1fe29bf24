"""``embed --ray`` where Ray is not installed: one error line saying how to install it, exit
status 2, nothing written. Runs with or without Ray (the import is made to fail)."""

from __future__ import annotations

import sys

from typer.testing import CliRunner

from prioritiser.cli import app
from prioritiser.importing import create_project


def test_embed_on_ray_without_ray_says_how_to_install_it(tmp_path, monkeypatch):
    (tmp_path / "search.csv").write_text("title,abstract\nRamipril in older adults,Blood pressure fell.\n", encoding="utf-8")
    create_project(tmp_path / "review", [tmp_path / "search.csv"])[0].close()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    result = CliRunner().invoke(app, ["embed", str(tmp_path / "review"), "--model", "minilm", "--ray", "auto"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --ray needs Ray: pip install 'prioritiser[ray]'"
    assert not (tmp_path / "cache").exists()


def test_rank_on_ray_without_ray_says_how_to_install_it(example_project, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    result = CliRunner().invoke(app, ["rank", str(example_project), "--ray", "auto"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --ray needs Ray: pip install 'prioritiser[ray]'"
    assert not (example_project / "batches").exists()
