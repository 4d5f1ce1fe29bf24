"""prioritiser: machine-learning assisted abstract prioritisation for systematic reviews.

The Python API: each command of the command line is one function here, the very function
the command calls (so the two cannot drift apart). Names load on first use, so that
``import prioritiser`` and the console script's start stay light.

- :class:`Project` (a project directory, opened; use it in a ``with`` block),
  :func:`create_project` (``init``: returns the open project and an import summary),
  :func:`add_records` (``add``);
- :func:`label` (``label``; :func:`prioritiser.labels.import_labels`);
- :func:`rank` (``rank``; :func:`prioritiser.screening.rank_project`): retrain, rank, hand out
  the next batch; :class:`Ranker` is the model itself;
- :func:`status` and :func:`stop` (``status``, ``stop``; :mod:`prioritiser.status`);
- :func:`simulate` (``simulate``; :func:`prioritiser.simulate.run_simulation`) and
  :func:`example_dataset` (the labelled example ``demo`` simulates); :func:`example_data_dir`;
- :func:`audit` and :func:`reproduce` (``audit``, ``reproduce``), :func:`draw_qa_sample`;
- :func:`export` (``export``; :func:`prioritiser.export.export_records`).

The longer names (``import_labels``, ``rank_project``, ``project_status``, ``decide_stop``,
``run_simulation``, ``write_audit``, ``export_records``) stay available.
"""

from __future__ import annotations

import importlib
import sys
import types

__version__ = "0.1.0"

_API = {
    "Project": ("prioritiser.store", "Project"), "create_project": ("prioritiser.importing", "create_project"),
    "add_records": ("prioritiser.importing", "add_records"), "Ranker": ("prioritiser.learning", "Ranker"),
    "label": ("prioritiser.labels", "import_labels"), "rank": ("prioritiser.screening", "rank_project"),
    "status": ("prioritiser.status", "project_status"), "stop": ("prioritiser.status", "decide_stop"),
    "simulate": ("prioritiser.simulate", "run_simulation"),
    "example_dataset": ("prioritiser.simulate", "example_dataset"),
    "example_data_dir": ("prioritiser.package_data", "data_dir"),
    "audit": ("prioritiser.audit", "write_audit"), "reproduce": ("prioritiser.audit", "reproduce"),
    "draw_qa_sample": ("prioritiser.audit", "draw_qa_sample"), "export": ("prioritiser.export", "export_records"),
    "import_labels": ("prioritiser.labels", "import_labels"), "rank_project": ("prioritiser.screening", "rank_project"),
    "project_status": ("prioritiser.status", "project_status"), "decide_stop": ("prioritiser.status", "decide_stop"),
    "run_simulation": ("prioritiser.simulate", "run_simulation"), "write_audit": ("prioritiser.audit", "write_audit"),
    "export_records": ("prioritiser.export", "export_records"),
}
__all__ = ["__version__", *_API]


def _load(name: str):
    module, attribute = _API[name]
    return getattr(importlib.import_module(module), attribute)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'prioritiser' has no attribute {name!r}")
    return _load(name)


class _ApiModule(types.ModuleType):
    """The package module, whose API names that are also submodule names (``status``,
    ``simulate``, ``audit``, ``export``) stay the functions: importing a submodule sets the
    package attribute of its name to the module, which would hide the function. The modules
    stay reachable with ``from prioritiser.status import ...`` and ``sys.modules``."""

    def __getattribute__(self, name: str):
        if name in _SHADOWED:
            return _load(name)
        return super().__getattribute__(name)


_SHADOWED = frozenset(name for name in _API if name in ("status", "simulate", "audit", "export"))
sys.modules[__name__].__class__ = _ApiModule
