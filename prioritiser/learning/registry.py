"""Every learning component by name, in one place: the names a preset may use.

A component's parameters are the keyword arguments of its function (after the positional ones
the engine passes), with their defaults; :func:`parameters` lists them for validation.
Feature extractors are registered in :data:`prioritiser.features.EXTRACTORS`.
"""

from __future__ import annotations

import inspect

from prioritiser.learning import balance, classifiers, query

#: Name of the classifier that blends several registered classifiers (``classifier_params.members``).
ENSEMBLE = "ensemble"

#: ``name -> factory(class_weight, seed, **params)`` giving an unfitted estimator.
CLASSIFIERS = {"logistic": classifiers.logistic, "svm": classifiers.svm, "nb": classifiers.nb,
               "nearest": classifiers.nearest}
#: ``name -> balancer(idx, y, seed, **params)`` giving ``(rows, labels, class_weight)``.
BALANCERS = {"none": balance.none, "balanced": balance.balanced, "undersample": balance.undersample}
#: ``name -> querier(scores)`` giving pool positions in the order to screen them.
QUERIERS = {"max": query.max_score, "uncertainty": query.uncertainty}


def parameters(component, skip: int) -> dict[str, object]:
    """Keyword parameters of a component function and their defaults, after ``skip`` leading ones."""
    listed = list(inspect.signature(component).parameters.values())[skip:]
    return {p.name: p.default for p in listed}
