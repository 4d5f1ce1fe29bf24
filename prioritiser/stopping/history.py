"""The screening history every estimator and stopping rule reads.

Units are screening units (duplicate groups): ``n_total`` counts the pool, ``labels`` the
screened units in screening order. Everything here is a pure function of these arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ScreeningHistory:
    """What has been screened, in order, and how each record was chosen.

    ``labels``: 0/1 per screened record in screening order, priors first (1 = relevant;
    'maybe' counts as relevant). ``sampled_randomly``: True where the record was drawn
    uniformly at random from the records unscreened at the time (a certification sample);
    all False when omitted. ``scores``: the latest model's scores of the unscreened records,
    when known (higher = more likely relevant; any scale). ``screened_scores``: per screened
    record, the score the model in force gave it when the ranking chose it (NaN for priors,
    random draws and where unknown). Only :func:`~prioritiser.stopping.scores.scaled_remaining`
    reads the two; the estimates and window bounds rest on the screening order alone.
    ``n_prior``: how many of the first records were prior knowledge rather than chosen by the
    ranking; rules that read the ranking leave them out.
    """

    n_total: int
    labels: np.ndarray
    sampled_randomly: np.ndarray | None = None
    scores: np.ndarray | None = None
    n_prior: int = 0
    screened_scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if self.sampled_randomly is None:
            self.sampled_randomly = np.zeros(len(self.labels), dtype=bool)
        self.sampled_randomly = np.asarray(self.sampled_randomly, dtype=bool).reshape(-1)
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if self.screened_scores is not None:
            self.screened_scores = np.asarray(self.screened_scores, dtype=np.float64).reshape(-1)
            if len(self.screened_scores) != len(self.labels):
                raise ValueError(f"screened_scores has {len(self.screened_scores)} entries for {len(self.labels)} labels")
        self.n_total = int(self.n_total)
        self.n_prior = int(self.n_prior)
        if len(self.sampled_randomly) != len(self.labels):
            raise ValueError(f"sampled_randomly has {len(self.sampled_randomly)} entries for {len(self.labels)} labels")
        if len(self.labels) > self.n_total:
            raise ValueError(f"{len(self.labels)} records screened out of a pool of {self.n_total}")
        if not np.isin(self.labels, (0, 1)).all():
            raise ValueError("labels must be 0 or 1")
        if not 0 <= self.n_prior <= len(self.labels):
            raise ValueError(f"n_prior {self.n_prior} outside 0..{len(self.labels)}")

    @property
    def n_screened(self) -> int:
        return len(self.labels)

    @property
    def n_unscreened(self) -> int:
        return self.n_total - len(self.labels)

    @property
    def found(self) -> int:
        """Relevant records screened so far."""
        return int(self.labels.sum())

    @property
    def sample_size(self) -> int:
        """Length of the certification sample: the trailing run of randomly drawn records.

        Drawn one batch after another from what was unscreened, with nothing else screened
        in between, the run is one simple random sample of the records unscreened when it
        began. Ranked screening after a sample ends it; the next sample starts afresh.
        """
        ranked = np.flatnonzero(~self.sampled_randomly)
        return self.n_screened - (int(ranked[-1]) + 1 if len(ranked) else 0)

    @property
    def ranked_labels(self) -> np.ndarray:
        """Labels of the records the ranking chose, in order (priors and samples left out)."""
        return self.labels[self.n_prior:][~self.sampled_randomly[self.n_prior:]]
