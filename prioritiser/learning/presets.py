"""Model presets: TOML files shipped in ``prioritiser/presets/`` (data, not code), plus
``--set KEY=VALUE`` overrides. :meth:`prioritiser.learning.Ranker.from_preset` builds a ranker
from one and checks every value.

A preset holds ``features`` (extractor spec), ``feature_params``, ``classifier`` and
``classifier_params``, ``balancer`` and ``balancer_params``, ``querier`` and
``random_share``, ``seed``, and the simulation ``retrain_every`` (share of the records
labelled so far that may be screened between two retrainings; 0 retrains after each).
Nested keys are overridden with dots: ``--set classifier_params.svm.C=0.5``.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

from prioritiser.errors import UserError
from prioritiser.package_data import presets_dir

KEYS = {
    "description": str, "features": str, "feature_params": dict, "classifier": str, "classifier_params": dict,
    "balancer": str, "balancer_params": dict, "querier": str, "random_share": float, "seed": int,
    "retrain_every": float,
}


def preset_names() -> list[str]:
    return sorted(p.stem for p in presets_dir().glob("*.toml"))


def load_preset(name_or_path: str, overrides: dict | None = None) -> dict:
    """The preset as a dict with overrides applied and the type of each top-level option
    checked (the values themselves are checked by the :class:`~prioritiser.learning.Ranker`)."""
    path = Path(name_or_path)
    if not path.suffix == ".toml":
        path = presets_dir() / f"{name_or_path}.toml"
    if not path.is_file():
        raise UserError(f"unknown model preset {name_or_path!r}: use one of {', '.join(preset_names())} or a .toml file")
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a valid preset ({exc})") from None
    for key, value in (overrides or {}).items():
        head, _, rest = key.partition(".")
        if head not in KEYS or (rest and KEYS[head] is not dict):
            raise UserError(f"unknown preset option {key!r}: options are {', '.join(KEYS)}")
        if rest:
            target = config.setdefault(head, {})
            *parents, leaf = rest.split(".")
            for parent in parents:
                target = target.setdefault(parent, {})
            target[leaf] = value
        else:
            config[head] = value
    for key, value in config.items():
        if key not in KEYS:
            raise UserError(f"{path}: unknown preset option {key!r}")
        kind = KEYS[key]
        if kind is float and isinstance(value, int):
            config[key] = value = float(value)
        if not isinstance(value, kind):
            raise UserError(f"preset option {key!r} must be a {kind.__name__}, not {value!r}")
    config.setdefault("seed", 42)
    config["preset"] = path.stem
    return copy.deepcopy(config)
