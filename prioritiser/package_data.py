"""Files shipped inside the package (found with :mod:`importlib.resources`, so they are there in
an installed wheel as in a clone): model presets, the bundled static encoder and the example
data (with its licence in ``data/README.md``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _package_dir(name: str) -> Path:
    # Wheels install as plain directories, so the package's files have real paths.
    return Path(str(resources.files("prioritiser").joinpath(name)))


def presets_dir() -> Path:
    """Directory of the preset TOML files (``default``, ``fast``, ``minilm``)."""
    return _package_dir("presets")


def static_model_dir() -> Path:
    """Directory of the bundled static MiniLM encoder (rebuilt by scripts/build_static_model.py)."""
    return _package_dir("models") / "static-minilm"


def data_dir() -> Path:
    """Directory of the example data: ``example.csv`` (fully labelled), ``example_search.ris``
    (the same records as a search export) and ``example_first_decisions.csv``."""
    return _package_dir("data")
