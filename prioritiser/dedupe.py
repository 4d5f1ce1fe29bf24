"""Duplicate groups across search exports.

Rules, applied in this order and closed transitively with a union-find:

1. the same normalised DOI (lowercased, ``https://doi.org/`` / ``doi:`` prefixes and
   trailing punctuation removed; a field without a ``10.NNNN/…`` DOI counts as no DOI);
2. the same PMID (its first run of digits, leading zeros dropped);
3. the same normalised title (see :func:`normalise_title`) with compatible years;
4. near-identical titles: rapidfuzz ``fuzz.ratio`` ≥ ``threshold`` (0–100) on normalised
   titles of at least ``MIN_FUZZY_LENGTH`` characters, with compatible years, the same
   numbers (digits and roman numerals, so "Part 1" / "Part II" stay apart), and the words
   that differ — articles aside — at most one character edit apart per word (OSA distance,
   ``MAX_WORD_EDITS`` in all), so a typo, a plural or British/American spelling merges but
   "lansoprazole" vs "pantoprazole" or an added "severe" does not.

Years are compatible when the group a title rule would form has known years at most one
year apart (epub and print years differ) or no known year; so the years of a group do not
chain (1997, 1998, 1999 give two groups). Title rules never join two groups that both hold a
DOI, or both a PMID: after rules 1–2 such groups necessarily hold *different* identifiers
(errata, comments, companion papers). Titles shorter than ``MIN_FUZZY_LENGTH`` characters
("Editorial", "Heart failure", "Rabeprazole") are never fuzzy-merged and exact-merged only
when both groups have the same known year. A record with no title, DOI or PMID stands
alone. Title merges are greedy, smallest index first; a group's id is its smallest index.

Evidence, from ``scripts/dedupe_benchmark.py`` on the shared benchmark (19,913 distinct
papers: the 14 Cohen reviews pooled and deduplicated by PMID, plus every row of the three
reviews without PMIDs; titles and years only):

- distinct papers joined by rule 4 at threshold 85/88/90/92/95/97/99: 9/9/9/9/9/7/4 pairs
  with the differing-words check, 140/91/70/44/27/14/4 without it. The 9 differ by a plural,
  an article, "post marketing"/"postmarketing" or "5-HT(2A)"/"5-HT<inf>2A</inf>" — the same
  paper indexed twice or indistinguishable by title — while the pairs the check refuses
  include "lansoprazole"/"pantoprazole", "ischemic"/"nonischemic" and "children"/"chile".
- 100,000 records (those papers plus 80,087 injected variants: case, punctuation, trailing
  period, one typo, article dropped, Ovid brackets, accents, or two of these; year +1 for
  a fifth, missing for a tenth): pairwise precision 0.9942 and recall 0.9806 at threshold
  88–92, recall 0.9755 at 95 and 0.5518 without rule 4 (precision 0.9947: the benchmark's
  own same-title pairs). Of the variants missed at 90, 1,366 belong to the 423 papers with a
  short title and 55 to the 19,490 others.
- short titles: of 14 same-title pairs of distinct papers among 410 short titles, 12 have
  years within one or missing, none the same known year; among 19,448 longer titles 40 of
  44 such pairs have compatible years.

Hence threshold 90: no more false merges than 95 and the typo/transposition recall of
30–60 character titles that 95 loses. Cost, in CPU seconds on a shared 2-core machine:
3.3 s for those 100,000 records; 47 s and 0.6 GiB above the input for 1,000,000 synthetic
records with DOIs and PMIDs (titles recombined from benchmark halves, 1–5 copies each).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Levenshtein

FUZZY_THRESHOLD = 90.0  # fuzz.ratio score, 0-100
MIN_FUZZY_LENGTH = 30  # characters of the normalised title
MAX_WORD_EDITS = 2  # character edits between the differing words of two titles, in all
BLOCK_CHARS = 16  # characters of the title that a fuzzy candidate must share, at its start or end
MAX_BLOCK = 2000  # titles scored all against all; a larger block is scored in sorted windows

ARTICLES = frozenset({"a", "an", "the"})
ROMAN = frozenset("ii iii iv v vi vii viii ix x xi xii xiii xiv xv".split())
PLACEHOLDER_TITLES = frozenset({"no title available", "no title", "untitled", "title not available", "not available"})

_CHARS = str.maketrans({
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "κ": "kappa",
    "λ": "lambda", "μ": "mu", "ω": "omega", "&": " and ", "æ": "ae", "œ": "oe", "ø": "o",
    "ł": "l", "đ": "d", "ı": "i",
})
_TAG = re.compile(r"</?[a-z][a-z0-9]*\s*/?>", re.IGNORECASE)
_NOTE = re.compile(
    r"\s*(?:\[(?:article in [^\]]*|in [a-z]+|in process citation|see comments?|published erratum[^\]]*)\]"
    r"|\(author'?s transl\))[\s.]*$"
)
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_BRACKETED = re.compile(r"^\[(.*)\][\s.]*$")
_NON_WORD = re.compile(r"[\W_]+")
_DOI = re.compile(r"10\.\d{4,9}/\S+")
_DIGITS = re.compile(r"\d+")


class DedupeKey(NamedTuple):
    """The fields duplicate detection reads; a ``(title, year, doi, pmid)`` row is one too."""

    title: str | None = ""
    year: int | None = None
    doi: str | None = ""
    pmid: str | None = ""


@dataclass
class DuplicateReport:
    """Outcome of :func:`find_duplicates`.

    ``groups[i]`` is the smallest input index of record ``i``'s group; ``merges`` counts the
    unions each rule made (``doi``, ``pmid``, ``title``, ``fuzzy``), so it sums to
    ``n_duplicates``.
    """

    groups: list[int]
    merges: dict[str, int] = field(default_factory=dict)

    @property
    def n_records(self) -> int:
        return len(self.groups)

    @property
    def n_groups(self) -> int:
        """Distinct groups, singletons included."""
        return sum(1 for i, g in enumerate(self.groups) if g == i)

    @property
    def n_duplicates(self) -> int:
        """Records that are not the first of their group."""
        return self.n_records - self.n_groups

    @property
    def n_duplicate_groups(self) -> int:
        """Groups with more than one member."""
        return len({g for i, g in enumerate(self.groups) if g != i})


def normalise_doi(value: str | None) -> str:
    """The DOI in ``value`` in lower case without URL prefix or trailing punctuation; ``""`` if none."""
    match = _DOI.search((value or "").replace("%2F", "/").replace("%2f", "/").lower())
    doi = match.group().rstrip(".,;:") if match else ""
    while doi.endswith(")") and doi.count(")") > doi.count("("):
        doi = doi[:-1].rstrip(".,;:")
    return doi


def normalise_pmid(value: str | int | None) -> str:
    """The first run of digits in ``value`` without leading zeros; ``""`` if none."""
    match = _DIGITS.search(str(value or ""))
    return match.group().lstrip("0") if match else ""


def normalise_title(value: str | None) -> str:
    """Casefolded words (letters and digits of any script, accents stripped) joined by one space.

    HTML entities and tags are decoded and dropped, Greek letters spelled out ("β" → "beta"),
    "&" read as "and"; an Embase/Ovid ``[translated title]`` loses its brackets and MEDLINE
    notes such as ``[Article in German]`` or ``(author's transl)`` are removed. Placeholders
    such as "[No title available]" become ``""``.
    """
    value = value or ""
    if "&" in value:
        value = html.unescape(value)
    if "<" in value:
        value = _TAG.sub("", value)
    if not value.isascii():
        value = _COMBINING.sub("", unicodedata.normalize("NFKD", value))
    value = value.casefold().translate(_CHARS).strip()
    if value.endswith(("]", ")", "].", ").")):
        value = _NOTE.sub("", _NOTE.sub("", value))
    if value.startswith("["):
        value = _BRACKETED.sub(r"\1", value)
    value = _NON_WORD.sub(" ", value).strip()
    return "" if value in PLACEHOLDER_TITLES else value


def _numbers(title: str) -> tuple[str, list[str]]:
    """The title's digits run together ("1,25-" and "125" agree) and its roman numerals but "i"
    (so "Part I" differs from "Part II" while a typo "i seffective" does not count)."""
    return "".join(_DIGITS.findall(title)), [w for w in title.split() if w in ROMAN]


def _differ_by_typos(a: str, b: str) -> bool:
    """True when the titles align word by word except for runs of articles and runs of words
    at most one character edit (OSA) per word apart, ``MAX_WORD_EDITS`` in all: "infection"
    vs "infections", "post marketing" vs "postmarketing", "5 ht 2a" vs "5 ht2a", "othe" vs
    "the", but not "lansoprazole" vs "pantoprazole" (two edits in one word) nor an added word."""
    budget = MAX_WORD_EDITS
    for run_a, run_b in _differing_runs(a.split(), b.split()):
        edits = _run_edits(run_a, run_b, budget)
        if edits is None:
            return False
        budget -= edits
    return True


def _differing_runs(words_a: list[str], words_b: list[str]) -> list[tuple[list[str], list[str]]]:
    """The maximal runs of words that a word-level edit script changes, as (run in a, run in b)."""
    spans: list[list[int]] = []
    for op in Levenshtein.opcodes(words_a, words_b):
        if op.tag == "equal":
            continue
        if spans and spans[-1][1] == op.src_start and spans[-1][3] == op.dest_start:
            spans[-1][1], spans[-1][3] = op.src_end, op.dest_end
        else:
            spans.append([op.src_start, op.src_end, op.dest_start, op.dest_end])
    return [(words_a[a0:a1], words_b[b0:b1]) for a0, a1, b0, b1 in spans]


def _run_edits(run_a: list[str], run_b: list[str], budget: int) -> int | None:
    """Character edits between two runs of words, with or without their articles, if at most one
    per word of the shorter run and at most ``budget``; else ``None``."""
    bare_a = [w for w in run_a if w not in ARTICLES]
    bare_b = [w for w in run_b if w not in ARTICLES]
    if not bare_a and not bare_b:
        return 0
    found = []
    for x, y in ((run_a, run_b), (bare_a, bare_b)):
        allowed = min(len(x), len(y), budget)
        if allowed:
            edits = OSA.distance(" ".join(x), " ".join(y), score_cutoff=allowed)
            if edits <= allowed:
                found.append(edits)
    return min(found, default=None)


def _as_year(value) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class _Groups:
    """Union-find whose root is the smallest index, with what a title rule must check per root:
    whether the group holds a DOI (bit 1) or a PMID (bit 2), and its smallest and largest year."""

    def __init__(self, flags: list[int], years: list[int | None]):
        self.parent = list(range(len(flags)))
        self.flags = flags
        self.ymin = list(years)
        self.ymax = list(years)

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def may_join(self, a: int, b: int, same_year: bool = False) -> bool:
        """Whether roots ``a`` and ``b`` may be joined by a title rule."""
        if self.flags[a] & self.flags[b]:
            return False
        lo, hi = self._span(a, b)
        if same_year:
            return lo is not None and lo == hi
        return lo is None or hi - lo <= 1

    def _span(self, a: int, b: int) -> tuple[int | None, int | None]:
        lows = [y for y in (self.ymin[a], self.ymin[b]) if y is not None]
        highs = [y for y in (self.ymax[a], self.ymax[b]) if y is not None]
        return (min(lows), max(highs)) if lows else (None, None)

    def union(self, a: int, b: int) -> bool:
        a, b = self.find(a), self.find(b)
        if a == b:
            return False
        a, b = min(a, b), max(a, b)
        self.ymin[a], self.ymax[a] = self._span(a, b)
        self.flags[a] |= self.flags[b]
        self.parent[b] = a
        return True


def find_duplicates(records: Sequence, threshold: float = FUZZY_THRESHOLD) -> DuplicateReport:
    """Group duplicate records; see the module docstring for the rules.

    ``records`` hold ``title``, ``year``, ``doi`` and ``pmid`` — as attributes
    (:class:`~prioritiser.records.Record`, :class:`DedupeKey`) or as a 4-tuple in that order
    (an SQLite row). ``threshold`` is the ``fuzz.ratio`` score (0–100) rule 4 needs.
    """
    if not 0 <= threshold <= 100:
        raise ValueError(f"threshold must be a fuzz.ratio score between 0 and 100, not {threshold}")
    rows = [(r.title, r.year, r.doi, r.pmid) if hasattr(r, "title") else tuple(r) for r in records]
    titles = [normalise_title(t) for t, _, _, _ in rows]
    dois = [normalise_doi(d) for _, _, d, _ in rows]
    pmids = [normalise_pmid(p) for _, _, _, p in rows]
    flags = [bool(d) | bool(p) << 1 for d, p in zip(dois, pmids)]
    groups = _Groups(flags, [_as_year(y) for _, y, _, _ in rows])
    merges = dict.fromkeys(("doi", "pmid", "title", "fuzzy"), 0)

    for rule, keys in (("doi", dois), ("pmid", pmids)):
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key:
                merges[rule] += groups.union(first.setdefault(key, i), i)

    by_title: dict[str, list[int]] = defaultdict(list)
    for i, title in enumerate(titles):
        if title:
            by_title[title].append(i)
    for title, members in by_title.items():
        if len(members) > 1:
            merges["title"] += _join_greedily(groups, members, same_year=len(title) < MIN_FUZZY_LENGTH)

    long_titles = [t for t in by_title if len(t) >= MIN_FUZZY_LENGTH]
    for a, b in _similar_pairs(long_titles, threshold):
        merges["fuzzy"] += _join_greedily(groups, by_title[long_titles[b]], by_title[long_titles[a]])
    return DuplicateReport([groups.find(i) for i in range(len(rows))], merges)


def find_duplicate_groups(records: Sequence, threshold: float = FUZZY_THRESHOLD) -> list[int]:
    """For each record, the smallest input index of its duplicate group (itself when alone)."""
    return find_duplicates(records, threshold).groups


def _join_greedily(groups: _Groups, new: list[int], old: list[int] | None = None, same_year: bool = False) -> int:
    """Join each group of the records ``new``, smallest index first, to a group it may join:
    one of the groups of the records ``old`` or, without ``old``, of ``new`` met before it.
    Returns the number of unions made."""
    kept = _Kept(groups)
    for root in sorted({groups.find(i) for i in old or ()}):
        kept.add(root)
    n = 0
    for root in sorted({groups.find(i) for i in new}):
        root = groups.find(root)
        if root in kept:
            continue
        other = kept.pop_joinable(root, same_year)
        if other is not None:
            n += groups.union(other, root)
            kept.add(groups.find(root))
        elif old is None:
            kept.add(root)
    return n


class _Kept:
    """Group roots a title rule may join to, filed by (DOI/PMID flags, smallest year) so that a
    generic title shared by thousands of records with different identifiers costs a few
    look-ups per record, not a scan."""

    def __init__(self, groups: _Groups):
        self.groups = groups
        self.files: dict[tuple[int, int | None], dict[int, None]] = {}

    def __contains__(self, root: int) -> bool:
        return root in self.files.get((self.groups.flags[root], self.groups.ymin[root]), ())

    def add(self, root: int) -> None:
        self.files.setdefault((self.groups.flags[root], self.groups.ymin[root]), {})[root] = None

    def pop_joinable(self, root: int, same_year: bool) -> int | None:
        """Remove and return the first filed root that ``root`` may join, if any."""
        flags, low = self.groups.flags[root], self.groups.ymin[root]
        if low is None:
            keys = [key for key in self.files if not key[0] & flags]
        else:
            keys = [(g, y) for g in range(4) if not g & flags for y in (None, low - 1, low, low + 1)]
        for key in keys:
            for other in self.files.get(key, ()):
                if self.groups.may_join(other, root, same_year):
                    del self.files[key][other]
                    return other
        return None


def _similar_pairs(titles: list[str], threshold: float) -> list[tuple[int, int]]:
    """Index pairs of ``titles`` that rule 4 accepts, best score first.

    Candidates share the first or the last ``BLOCK_CHARS`` characters of the title without
    articles. A block of more than ``MAX_BLOCK`` titles is scored in half-overlapping windows
    of ``MAX_BLOCK`` titles in alphabetical order (of the reversed titles for end blocks), so
    each title still meets the ``MAX_BLOCK // 2`` titles next to it and time stays linear.
    """
    bare = [" ".join(w for w in t.split() if w not in ARTICLES) for t in titles]
    step = max(MAX_BLOCK // 2, 1)
    scored: dict[tuple[int, int], float] = {}
    for side in (1, -1):
        blocks: dict[str, list[int]] = defaultdict(list)
        for i, t in enumerate(bare):
            blocks[t[:BLOCK_CHARS] if side == 1 else t[-BLOCK_CHARS:]].append(i)
        for block in blocks.values():
            if len(block) < 2:
                continue
            block.sort(key=lambda i: bare[i][::side])
            for start in range(0, max(len(block) - step, 1), step):
                scored.update(_score_block(titles, block[start:start + MAX_BLOCK], threshold))
    pairs = sorted(scored, key=lambda p: (-scored[p], p))
    return [(a, b) for a, b in pairs if _numbers(titles[a]) == _numbers(titles[b]) and _differ_by_typos(titles[a], titles[b])]


def _score_block(titles: list[str], block: list[int], threshold: float) -> Iterable[tuple[tuple[int, int], float]]:
    texts = [titles[i] for i in block]
    scores = process.cdist(texts, texts, scorer=fuzz.ratio, score_cutoff=threshold, workers=1)
    for x, y in zip(*np.nonzero(np.triu(scores, k=1))):
        a, b = block[x], block[y]
        yield (min(a, b), max(a, b)), float(scores[x, y])
