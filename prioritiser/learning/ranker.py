"""The ranker: the active-learning cycle's model as one scikit-learn style estimator.

It holds the feature extractor(s), the balancer, the classifier(s) and the querier, by name
and parameters (see :mod:`prioritiser.learning.registry`). ``rank``, ``simulate`` and
``reproduce`` all use it, so a batch ``rank`` hands out is the batch ``simulate`` would choose
from the same labels, and :meth:`Ranker.get_params` is the configuration an iteration stores
and the audit shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from prioritiser.errors import UserError
from prioritiser.learning.classifiers import relevance_scores
from prioritiser.learning.presets import load_preset
from prioritiser.learning.query import select_batch
from prioritiser.learning.registry import BALANCERS, CLASSIFIERS, ENSEMBLE, QUERIERS, parameters

#: Keys of ``classifier_params`` that configure the ensemble itself.
ENSEMBLE_KEYS = ("members", "weights")
DEFAULT_MEMBERS = ["logistic", "svm"]


def _classifier_of(member: str) -> str:
    """The registered classifier an ensemble member names (``svm@minilm`` -> ``svm``)."""
    return member.partition("@")[0]


def _check_value(where: str, value, default) -> None:
    """A parameter's value must be of the kind of its default (a number for a number)."""
    if isinstance(default, bool) or default is None:
        return
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, int) and not (number and float(value).is_integer()):
        raise UserError(f"{where} must be a whole number, not {value!r}")
    if isinstance(default, float) and not number:
        raise UserError(f"{where} must be a number, not {value!r}")


def _component_params(kind: str, name: str, params: dict, registry: dict, skip: int) -> dict:
    """The parameters of component ``name`` among ``params``: those it takes. A key no
    component of this kind takes is an error; one another component takes is left for it
    (so that ``--set classifier=nb`` works on a preset that sets the SVM's ``C``)."""
    takes = parameters(registry[name], skip)
    known = {key for component in registry.values() for key in parameters(component, skip)}
    chosen = {}
    for key, value in params.items():
        if key in takes:
            _check_value(f"{kind}_params.{key}", value, takes[key])
            chosen[key] = value
        elif key not in known:
            raise UserError(f"unknown {kind} parameter {key!r} for {kind} {name!r}: "
                            f"it takes {', '.join(takes) or 'no parameters'}")
    return chosen


class Ranker(BaseEstimator):
    """Features → balancer → classifier(s) → querier, configured by name and parameters.

    Parameters are a preset's options (see :mod:`prioritiser.learning.presets`): ``features``
    and ``feature_params``; ``classifier`` (a registered classifier, or ``"ensemble"``: the
    weighted mean of the standardised scores of ``classifier_params.members`` with
    ``classifier_params.weights``, equal by default) and ``classifier_params`` (flat keys for
    every classifier in use that takes them; ``classifier_params.<name>`` for one classifier,
    taking precedence); ``balancer`` and ``balancer_params``; ``querier`` and ``random_share``;
    ``seed`` (of the classifiers, the balancer and the random share); ``retrain_every`` (read
    by the simulation); ``preset`` and ``description`` (where the configuration came from).

    Build it with :meth:`from_preset` (every value checked); then :meth:`extract` the
    features of the pool's texts once, and :meth:`fit` / :meth:`rank` as labels arrive.
    Deterministic: the same features, labels, parameters and seed give the same ranking.
    """

    def __init__(self, features: str = "tfidf", feature_params: dict | None = None, classifier: str = "logistic",
                 classifier_params: dict | None = None, balancer: str = "balanced",
                 balancer_params: dict | None = None, querier: str = "max", random_share: float = 0.0,
                 seed: int = 42, retrain_every: float = 0.0, preset: str | None = None, description: str = ""):
        self.features = features
        self.feature_params = feature_params
        self.classifier = classifier
        self.classifier_params = classifier_params
        self.balancer = balancer
        self.balancer_params = balancer_params
        self.querier = querier
        self.random_share = random_share
        self.seed = seed
        self.retrain_every = retrain_every
        self.preset = preset
        self.description = description

    # ----------------------------------------------------------------- building
    @classmethod
    def from_preset(cls, name_or_path: str = "default", **overrides) -> Ranker:
        """The ranker of a preset (a name in ``prioritiser/presets`` or a ``.toml`` path) with
        dotted-key overrides (``**{"classifier_params.svm.C": 0.5}``), every value checked."""
        return cls.from_config(load_preset(name_or_path, overrides))

    @classmethod
    def from_config(cls, config: dict) -> Ranker:
        """The ranker of a stored configuration (:meth:`get_params` of an earlier ranker),
        every value checked; a ``query`` key (the research question of a query ranking) is
        not a ranker parameter and is left out."""
        params = {key: value for key, value in config.items() if key != "query"}
        unknown = sorted(set(params) - set(cls._get_param_names()))
        if unknown:
            raise UserError(f"unknown model option {unknown[0]!r}: options are {', '.join(cls._get_param_names())}")
        return cls(**params).check()

    def check(self) -> Ranker:
        """Check every name and parameter; a one-line :class:`UserError` for the first wrong one."""
        from prioritiser.features import make_extractor

        make_extractor(self.features, **(self.feature_params or {}))  # raises on unknown parts and parameters
        if self.balancer not in BALANCERS:
            raise UserError(f"unknown balancer {self.balancer!r}: use {', '.join(BALANCERS)}")
        self._balancer_params()
        if self.querier not in QUERIERS:
            raise UserError(f"unknown querier {self.querier!r}: use {', '.join(QUERIERS)}")
        if isinstance(self.random_share, bool) or not isinstance(self.random_share, (int, float)) \
                or not 0 <= self.random_share <= 1:
            raise UserError(f"random_share must be a number from 0 to 1, not {self.random_share!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise UserError(f"seed must be a whole number, not {self.seed!r}")
        if isinstance(self.retrain_every, bool) or not isinstance(self.retrain_every, (int, float)) \
                or self.retrain_every < 0:
            raise UserError(f"retrain_every must be a number of at least 0, not {self.retrain_every!r}")
        self._members()
        return self

    def _balancer_params(self) -> dict:
        return _component_params("balancer", self.balancer, dict(self.balancer_params or {}), BALANCERS, 3)

    def _members(self) -> list[tuple[str, float, dict]]:
        """``(classifier, weight, parameters)`` of each classifier in use (weights sum to 1)."""
        params = dict(self.classifier_params or {})
        groups = {name: params.pop(name) for name in list(params) if _classifier_of(name) in CLASSIFIERS}
        for name, group in groups.items():
            if not isinstance(group, dict):
                raise UserError(f"classifier_params.{name} must be a table of {name}'s parameters, not {group!r}")
        members = params.pop("members", None) or list(DEFAULT_MEMBERS)
        weights = params.pop("weights", None)
        if self.classifier == ENSEMBLE:
            if not isinstance(members, list) or any(_classifier_of(m) not in CLASSIFIERS for m in members):
                raise UserError(f"classifier_params.members must list classifiers among {', '.join(CLASSIFIERS)} "
                                f"(each may read one feature part, e.g. svm@minilm), not {members!r}")
            from prioritiser.features import parse_spec

            parts = parse_spec(self.features)
            for member in members:
                part = member.partition("@")[2]
                if part and part not in parts:
                    raise UserError(f"classifier_params.members: {member!r} reads feature part {part!r}, "
                                    f"which the features {self.features!r} do not have")
            weights = weights or [1.0] * len(members)
            if not isinstance(weights, list) or len(weights) != len(members) or not all(
                    isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights):
                raise UserError(f"classifier_params.weights must give one non-negative weight per member of {members}")
            weights = np.asarray(weights, dtype=np.float64)
            if (weights < 0).any() or not weights.any():
                raise UserError(f"classifier_params.weights must give one non-negative weight per member of {members}")
            weights = (weights / weights.sum()).tolist()
        elif self.classifier in CLASSIFIERS:
            members, weights = [self.classifier], [1.0]
        else:
            raise UserError(f"unknown classifier {self.classifier!r}: use {', '.join(CLASSIFIERS)} or {ENSEMBLE}")
        for name, group in groups.items():  # a typo in any classifier's table is an error, used or not
            _component_params("classifier", name, group, {name: CLASSIFIERS[_classifier_of(name)]}, 2)
        return [(name, weight, {**_component_params("classifier", _classifier_of(name), params, CLASSIFIERS, 2),
                                **groups.get(name, {})})
                for name, weight in zip(members, weights)]

    def _part(self, X, member: str):
        """The columns of ``X`` that ``member`` reads: all of them, or one feature part
        (``svm@minilm``: the MiniLM block; decision-level fusion)."""
        from prioritiser.features import feature_block

        part = member.partition("@")[2]
        return feature_block(X, self.features, part, self.feature_params) if part else X

    # ----------------------------------------------------------------- the cycle
    def extract(self, texts: list[str], cache_dir: Path | None = None, progress: bool = False):
        """The feature matrix of ``texts`` (the whole pool: tf-idf fits its vocabulary on it),
        one row per text; ``cache_dir`` keeps per-text work between runs. The fitted extractor
        is kept as ``extractor_`` (:meth:`explain` names terms with it)."""
        from prioritiser.features import fit_features

        self.extractor_, X = fit_features(self.features, texts, cache_dir=cache_dir, params=self.feature_params,
                                          progress=progress)
        return X

    def fit(self, X, labelled, y) -> Ranker:
        """Fit on the rows ``labelled`` of ``X`` with their 0/1 labels ``y`` (both classes needed).

        A member whose estimator would be built with the parameters of the one fitted last time
        refits that one (a refit starts afresh; a :class:`NearestInclude` keeps what it had
        computed for the same ``X`` and the includes it had, as a simulation refits it)."""
        labelled, y = np.asarray(labelled), np.asarray(y)
        rows, labels, class_weight = BALANCERS[self.balancer](labelled, y, self.seed, **self._balancer_params())
        last = {member: model for model, _, member in getattr(self, "models_", [])}
        models = []
        for member, weight, params in self._members():
            model = CLASSIFIERS[_classifier_of(member)](class_weight=class_weight, seed=self.seed, **params)
            before = last.get(member)
            if type(before) is type(model) and before.get_params() == model.get_params():
                model = before
            models.append((model.fit(self._part(X, member)[rows], labels), weight, member))
        self.models_ = models
        return self

    def decision_function(self, X) -> np.ndarray:
        """One score per row of ``X``, higher = more likely an include: :meth:`combine` of the
        members' scores with their mean and standard deviation over the rows of ``X``."""
        columns = self._member_columns(X)
        deviation = np.array([column.std() for column in columns])
        return self.combine(np.column_stack(columns), np.array([column.mean() for column in columns]),
                            np.where(deviation > 0, deviation, 1.0))

    def member_scores(self, X) -> np.ndarray:
        """The raw scores of each fitted member on the rows of ``X``, one column per member:
        with :meth:`combine`, what scoring a pool block by block needs (:mod:`prioritiser.distributed`)."""
        return np.column_stack(self._member_columns(X))

    def _member_columns(self, X) -> list[np.ndarray]:
        check_is_fitted(self, "models_")
        return [relevance_scores(model, self._part(X, member)) for model, _, member in self.models_]

    def combine(self, member_scores: np.ndarray, mean: np.ndarray, spread: np.ndarray) -> np.ndarray:
        """The score of each row from its members' raw scores (one column per member, as
        :meth:`member_scores` gives them) and each member's ``mean`` and ``spread`` (standard
        deviation, 1 where it is 0) over all the rows scored together: the single classifier's
        score, or an ensemble's weighted sum of ``(score - mean) / spread``, member by member in
        a fixed order, so that equal statistics give equal bits however the rows were split."""
        check_is_fitted(self, "models_")
        if self.classifier != ENSEMBLE:
            return member_scores[:, 0]
        total = np.zeros(len(member_scores))
        for j, (_, weight, _) in enumerate(self.models_):
            total += weight * ((member_scores[:, j] - mean[j]) / spread[j])
        return total

    def select(self, scores: np.ndarray, n: int, n_screened: int) -> np.ndarray:
        """Positions into ``scores`` (of the pool) of the next ``n`` records, in the order to
        screen them, chosen by the querier; the random share is drawn with seed
        ``seed + n_screened``, so each batch of a screening draws afresh."""
        return self.take(QUERIERS[self.querier](np.asarray(scores, dtype=np.float64)), n, n_screened)

    def take(self, order: np.ndarray, n: int, n_screened: int, n_pool: int | None = None) -> np.ndarray:
        """The next ``n`` positions from the querier's ``order`` of a pool of ``n_pool`` records
        (by default ``len(order)``; ``order`` then needs only its first ``n`` entries), as
        :meth:`select` chooses them."""
        return select_batch(order, n, self.random_share, self.seed + n_screened, n_pool)

    def rank(self, X, pool, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next batch from the rows ``pool`` of ``X``: the rows of ``X`` of the ``n``
        records to screen next, in order, and the scores of every row of ``pool``. Rows of
        ``X`` not in ``pool`` count as screened (they set the random share's seed)."""
        pool = np.asarray(pool)
        scores = self.decision_function(X)[pool]
        return pool[self.select(scores, n, X.shape[0] - len(pool))], scores

    def explain(self, X, rows, texts: list[str], labelled, y, n_terms: int = 5) -> dict:
        """Why the ``rows`` of ``X`` (with their ``texts``) score as they do, after :meth:`fit`
        on ``labelled``/``y`` (see :mod:`prioritiser.learning.explain`):

        - ``top_terms``: per row, up to ``n_terms`` terms with the largest positive tf-idf
          weight × coefficient of the linear member with the largest weight, as
          ``"term (contribution)"`` joined by ``"; "`` (empty when no member is linear, or
          tf-idf is not the first feature part: the coefficients of dense parts name no term);
        - ``similar_include``: per row, the row of ``X`` of the most similar labelled include;
        - ``similarity``: that cosine similarity.
        """
        from prioritiser.features import TfidfExtractor
        from prioritiser.learning.explain import most_similar, term_contributions, tfidf_term_names

        check_is_fitted(self, "models_")
        rows = np.asarray(rows, dtype=np.int64)
        includes = np.asarray(labelled)[np.asarray(y) == 1]
        best, similarity = most_similar(X, rows, includes)
        tfidf = getattr(self, "extractor_", None)
        if tfidf is not None and not isinstance(tfidf, TfidfExtractor):
            first = tfidf.transformer_list[0][1] if hasattr(tfidf, "transformer_list") else None
            tfidf = first if isinstance(first, TfidfExtractor) else None
        linear = sorted(((w, m) for (m, w, member) in self.models_ if hasattr(m, "coef_")
                         and member.partition("@")[2] in ("", "tfidf")), key=lambda p: -p[0])
        top_terms = [""] * len(rows)
        if tfidf is not None and linear:
            coef = np.asarray(linear[0][1].coef_, dtype=np.float64).ravel()[: len(tfidf.buckets_)]
            names = tfidf_term_names(tfidf, texts)
            top_terms = ["; ".join(f"{names[c]} ({v:.2g})" for c, v in row if c in names)
                         for row in term_contributions(X[rows], coef, n_terms)]
        return {"top_terms": top_terms, "similar_include": includes[best] if len(includes) else best,
                "similarity": similarity}

    def similarity_scores(self, question: str, texts: list[str]) -> np.ndarray:
        """Cosine similarity of each text to a research question, with the ranker's dense
        embedder when it has one, else tf-idf (used before any include/exclude pair exists)."""
        from prioritiser.features import EMBEDDERS, embed, parse_spec
        from prioritiser.features.tfidf import make_tfidf

        dense = [p for p in parse_spec(self.features) if p in EMBEDDERS]
        if dense:
            vectors = embed(dense[0], [question, *texts], progress=False)
            return vectors[1:] @ vectors[0]
        matrix = make_tfidf(stop_words="english").fit_transform([question, *texts])
        return np.asarray((matrix[1:] @ matrix[0].T).todense()).ravel()
