"""Duplicate groups across search exports.

Two records are duplicates when any of these holds (and groups are closed transitively):

1. the same normalised DOI;
2. the same PMID;
3. the same normalised title (casefolded, accents stripped, punctuation and Embase/Ovid
   ``[translated title]`` brackets removed) with compatible years;
4. near-identical titles: rapidfuzz ``ratio`` ≥ ``FUZZY_THRESHOLD`` on normalised titles of at
   least ``MIN_FUZZY_LENGTH`` characters, with compatible years, the same numbers in the title
   (so "Part 1" and "Part 2" stay apart), and the words that differ (stop words aside) being
   at most ``MAX_TYPO_EDITS`` character edits apart — so "guanfacine" vs "lofexidine", or an
   added "severe", keep two papers apart while a typo does not.

Years are compatible when equal, within one year (epub and print years differ) or missing.
Rules 3 and 4 never merge two records whose DOIs are both present and differ, nor records
with conflicting PMIDs. Records without title, DOI and PMID are never merged.

Threshold, measured on the shared benchmark (17 reviews, 25,000 titles): pairs of distinct
titles within one review scoring ≥ 90/93/95/97 numbered 85/44/30/17, and reading them showed
both true duplicates (singular/plural, "executive summary" added) and different papers
("guanfacine" vs "lofexidine" in an otherwise equal title, at 95). Hence 95 plus the word
check above. On 18,935 distinct benchmark titles with 2,000 injected variants (upper case,
trailing period, a one-letter typo, punctuation changes) 1,924 variants were grouped with
their original and 11 distinct originals were grouped with another, in 0.4 s
(``scripts/dedupe_benchmark.py``).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

FUZZY_THRESHOLD = 95.0
MIN_FUZZY_LENGTH = 30
BLOCK_CHARS = 16
MAX_BLOCK = 5000
MAX_TYPO_EDITS = 2
STOP_WORDS = frozenset("a an the of and or in on for with to from by at as vs versus".split())


@dataclass(frozen=True)
class DedupeKey:
    """The fields duplicate detection looks at."""

    title: str = ""
    year: int | None = None
    doi: str = ""
    pmid: str = ""


def normalise_doi(value: str) -> str:
    value = (value or "").strip().lower()
    value = re.sub(r"^(https?://)?(dx\.)?doi\.org/", "", value)
    value = re.sub(r"^doi:\s*", "", value)
    return value.rstrip(" .;,")


def normalise_pmid(value: str) -> str:
    digits = re.sub(r"\D", "", str(value or ""))
    return digits.lstrip("0")


def normalise_title(value: str) -> str:
    """Casefolded ASCII letters and digits separated by single spaces."""
    value = unicodedata.normalize("NFKD", value or "")
    value = "".join(c for c in value if not unicodedata.combining(c)).casefold()
    value = re.sub(r"^\[(.*)\]\.?$", r"\1", value.strip())
    value = re.sub(r"[^a-z0-9]+", " ", value)
    return value.strip()


def _only_typos(a: str, b: str) -> bool:
    """True when the words of one title missing from the other (stop words aside) differ from
    the other's missing words by at most ``MAX_TYPO_EDITS`` character edits."""
    words_a, words_b = set(a.split()), set(b.split())
    only_a = " ".join(w for w in a.split() if w not in words_b and w not in STOP_WORDS)
    only_b = " ".join(w for w in b.split() if w not in words_a and w not in STOP_WORDS)
    return Levenshtein.distance(only_a, only_b, score_cutoff=MAX_TYPO_EDITS) <= MAX_TYPO_EDITS


def _years_compatible(a: int | None, b: int | None) -> bool:
    return a is None or b is None or abs(a - b) <= 1


class _UnionFind:
    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def find_duplicate_groups(records: Sequence, threshold: float = FUZZY_THRESHOLD) -> list[int]:
    """For each record, the index of the first record of its duplicate group.

    ``records`` are objects with ``title``, ``year``, ``doi`` and ``pmid`` attributes
    (:class:`DedupeKey` or :class:`~prioritiser.records.Record`).
    """
    n = len(records)
    dois = [normalise_doi(r.doi) for r in records]
    pmids = [normalise_pmid(r.pmid) for r in records]
    titles = [normalise_title(r.title) for r in records]
    years = [r.year for r in records]
    uf = _UnionFind(n)

    def may_merge(i: int, j: int) -> bool:
        return (
            _years_compatible(years[i], years[j])
            and not (dois[i] and dois[j] and dois[i] != dois[j])
            and not (pmids[i] and pmids[j] and pmids[i] != pmids[j])
            and re.findall(r"\d+", titles[i]) == re.findall(r"\d+", titles[j])
        )

    for keys in (dois, pmids):
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key:
                uf.union(first.setdefault(key, i), i)

    by_title: dict[str, list[int]] = defaultdict(list)
    for i, title in enumerate(titles):
        if title:
            by_title[title].append(i)
    for members in by_title.values():
        for a, i in enumerate(members):
            for j in members[:a]:
                if may_merge(i, j):
                    uf.union(i, j)
                    break

    # Fuzzy rule within blocks sharing the first or the last characters of the title.
    distinct = [t for t in by_title if len(t) >= MIN_FUZZY_LENGTH]
    for block_key in (lambda t: t[:BLOCK_CHARS], lambda t: t[-BLOCK_CHARS:]):
        blocks: dict[str, list[str]] = defaultdict(list)
        for title in distinct:
            blocks[block_key(title)].append(title)
        for block in blocks.values():
            if len(block) < 2 or len(block) > MAX_BLOCK:
                continue
            scores = process.cdist(block, block, scorer=fuzz.ratio, score_cutoff=threshold, workers=1)
            for a, b in zip(*np.nonzero(np.triu(scores, k=1))):
                if not _only_typos(block[a], block[b]):
                    continue
                for i in by_title[block[a]]:
                    for j in by_title[block[b]]:
                        if may_merge(i, j):
                            uf.union(i, j)
    return [int(uf.find(i)) for i in range(n)]
