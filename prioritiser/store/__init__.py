"""The project store: every SQL statement of prioritiser lives in this package.

- :mod:`~prioritiser.store.schema`: tables and migrations;
- :mod:`~prioritiser.store.connection`: opening, building a new project out of sight, the write lock;
- :mod:`~prioritiser.store.records`, :mod:`~prioritiser.store.labels`,
  :mod:`~prioritiser.store.iterations`, :mod:`~prioritiser.store.batches`: the queries, by job;
- :mod:`~prioritiser.store.project`: :class:`Project`, which holds them all.

Reading search exports into records (:mod:`prioritiser.importing`) and handing out batch files
(:mod:`prioritiser.batches`) sit above the store and reach the database only through it.
"""

from prioritiser.store.batches import BATCH_KINDS
from prioritiser.store.connection import building, now_iso, remove_stale_builds
from prioritiser.store.iterations import Iteration, config_hash
from prioritiser.store.labels import ADJUDICATION
from prioritiser.store.project import Project
from prioritiser.store.schema import DB_NAME

__all__ = ["ADJUDICATION", "BATCH_KINDS", "DB_NAME", "Iteration", "Project", "building", "config_hash", "now_iso",
           "remove_stale_builds"]
