"""The active-learning engine: features → balance → fit classifier(s) → score → query.

:class:`Ranker` is the one model that ``rank``, ``simulate`` and ``reproduce`` share; its
components are registered by name in :mod:`prioritiser.learning.registry` and its presets are
read by :mod:`prioritiser.learning.presets`.
"""

from prioritiser.learning.presets import load_preset, preset_names
from prioritiser.learning.ranker import Ranker

__all__ = ["Ranker", "load_preset", "preset_names"]
