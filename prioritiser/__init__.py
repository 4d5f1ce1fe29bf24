"""prioritiser: machine-learning assisted abstract prioritisation for systematic reviews.

The Python API the command line wraps. Names load on first use (so that ``import prioritiser``
and the console script's start stay light):

- :class:`Project` (``prioritiser.store``): open a project; :func:`create_project` and
  :func:`add_records` (``prioritiser.importing``) import search exports;
  :func:`import_labels` (``prioritiser.labels``) imports decisions;
- :class:`Ranker` (``prioritiser.learning``): the model; :func:`rank_project`
  (``prioritiser.screening``) runs one iteration and hands out the next batch;
- :func:`project_status` and :func:`decide_stop` (``prioritiser.status``);
- :func:`run_simulation` (``prioritiser.simulate``);
- :func:`write_audit`, :func:`draw_qa_sample` and :func:`reproduce` (``prioritiser.audit``);
  :func:`export_records` (``prioritiser.export``).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "Project": "prioritiser.store", "create_project": "prioritiser.importing",
    "add_records": "prioritiser.importing", "import_labels": "prioritiser.labels",
    "Ranker": "prioritiser.learning", "rank_project": "prioritiser.screening",
    "project_status": "prioritiser.status", "decide_stop": "prioritiser.status",
    "run_simulation": "prioritiser.simulate", "write_audit": "prioritiser.audit",
    "draw_qa_sample": "prioritiser.audit", "reproduce": "prioritiser.audit",
    "export_records": "prioritiser.export",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'prioritiser' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)
