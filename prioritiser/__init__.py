"""prioritiser: machine-learning assisted abstract prioritisation for systematic reviews."""

__version__ = "0.1.0"
