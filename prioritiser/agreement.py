"""Agreement between two reviewers who screened the same records: Cohen's kappa, PABAK, Gwet's AC1.

Decisions are collapsed to two categories before counting: *include* (``include`` or ``maybe``,
as the stopping rules count a maybe as relevant) and *exclude*. For ``n`` records both reviewers
decided, the 2x2 table is

    a = both include          b = A include, B exclude
    c = A exclude, B include  d = both exclude            (a + b + c + d = n)

with observed agreement ``p_o = (a + d) / n`` and the reviewers' include rates
``p_A = (a + b) / n`` and ``p_B = (a + c) / n``. Every coefficient has the form
``(p_o - p_e) / (1 - p_e)`` and differs only in the chance agreement ``p_e`` it assumes:

- Cohen's kappa: ``p_e = p_A p_B + (1 - p_A)(1 - p_B)``, each reviewer keeping their own
  include rate. Undefined (``None``) when ``p_e = 1`` (both reviewers put every record in the
  same single category). Kappa falls when includes are rare even if reviewers almost always
  agree (the prevalence paradox), so the include prevalence is reported beside it.
- Include prevalence: ``(p_A + p_B) / 2``, the share of decisions that were includes.
- PABAK (prevalence- and bias-adjusted kappa): ``p_e = 1/2``, so ``PABAK = 2 p_o - 1``.
- Gwet's AC1: with ``pi = (p_A + p_B) / 2``, ``p_e = 2 pi (1 - pi)``; since ``p_e <= 1/2`` it is
  always defined and is stable at low prevalence.

All functions are pure; they read no project.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations

INCLUDE_LIKE = frozenset({"include", "maybe"})


@dataclass(frozen=True)
class PairAgreement:
    """Agreement of reviewers ``a`` and ``b`` on the ``n`` records both decided."""

    reviewer_a: str
    reviewer_b: str
    n: int
    both_include: int
    a_only_include: int
    b_only_include: int
    both_exclude: int
    observed: float | None
    include_prevalence: float | None
    kappa: float | None
    pabak: float | None
    ac1: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def agreement_from_counts(a: int, b: int, c: int, d: int) -> dict:
    """Observed agreement, include prevalence, Cohen's kappa, PABAK and Gwet's AC1 of a 2x2
    table (``a`` both include, ``b`` only the first includes, ``c`` only the second, ``d`` both
    exclude); see the module docstring for the formulas. Every value is ``None`` when ``n = 0``;
    kappa is ``None`` when its chance agreement is 1."""
    n = a + b + c + d
    if n == 0:
        return {"observed": None, "include_prevalence": None, "kappa": None, "pabak": None, "ac1": None}
    p_o = (a + d) / n
    p_a, p_b = (a + b) / n, (a + c) / n
    p_e_cohen = p_a * p_b + (1 - p_a) * (1 - p_b)
    kappa = None if p_e_cohen >= 1 else (p_o - p_e_cohen) / (1 - p_e_cohen)
    pi = (p_a + p_b) / 2
    p_e_gwet = 2 * pi * (1 - pi)
    return {
        "observed": p_o,
        "include_prevalence": pi,
        "kappa": kappa,
        "pabak": 2 * p_o - 1,
        "ac1": (p_o - p_e_gwet) / (1 - p_e_gwet),
    }


def pair_agreement(name_a: str, decisions_a: dict, name_b: str, decisions_b: dict) -> PairAgreement:
    """Agreement of two reviewers' decisions (``{record: decision}``) on the records in both."""
    a = b = c = d = 0
    for record in decisions_a.keys() & decisions_b.keys():
        inc_a, inc_b = decisions_a[record] in INCLUDE_LIKE, decisions_b[record] in INCLUDE_LIKE
        a += inc_a and inc_b
        b += inc_a and not inc_b
        c += inc_b and not inc_a
        d += not inc_a and not inc_b
    return PairAgreement(name_a, name_b, a + b + c + d, a, b, c, d, **agreement_from_counts(a, b, c, d))


def pairwise_agreement(decisions: dict[str, dict]) -> list[PairAgreement]:
    """Agreement for every pair of reviewers (sorted by name) who decided at least one record in
    common; ``decisions`` maps a reviewer to ``{record: decision}``."""
    rows = []
    for name_a, name_b in combinations(sorted(decisions), 2):
        pair = pair_agreement(name_a, decisions[name_a], name_b, decisions[name_b])
        if pair.n:
            rows.append(pair)
    return rows
