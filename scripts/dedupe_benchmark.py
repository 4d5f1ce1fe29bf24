"""Measure duplicate grouping on the shared benchmark titles.

1. False merges: distinct papers (the Cohen reviews' records deduplicated by PMID, plus every row
   of the reviews without PMIDs) grouped by title and year alone, at several thresholds, with
   and without the differing-words check.
2. A 100,000-record set: those papers plus injected export variants (case, punctuation,
   trailing period, one typo, article dropped, Ovid brackets, accents, two at once), titles and
   years only: pairwise precision/recall, recall per variant kind, and time.
3. Time and peak memory for N records (default 1,000,000) with DOIs and PMIDs.

    python scripts/dedupe_benchmark.py [BENCHMARK_DIR] [N]
"""
import glob
import random
import resource
import sys
import time
from collections import Counter

import pandas as pd

from prioritiser import dedupe
from prioritiser.dedupe import DedupeKey, find_duplicates

BENCH = sys.argv[1] if len(sys.argv) > 1 else "../shared/benchmark"
N_BIG = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
rng = random.Random(0)


def load_papers():
    papers, seen_pmids = [], set()
    for path in sorted(glob.glob(f"{BENCH}/datasets/*.csv.gz")):
        df = pd.read_csv(path, dtype={"pubmed_id": str})
        for r in df.itertuples():
            title = r.title if isinstance(r.title, str) else ""
            year = int(r.year) if r.year == r.year else None
            if isinstance(r.pubmed_id, str):
                if r.pubmed_id in seen_pmids:
                    continue
                seen_pmids.add(r.pubmed_id)
            papers.append((title, year))
    return papers


def pair_counts(truth, pred):
    c2 = lambda n: n * (n - 1) // 2
    tp = sum(c2(n) for n in Counter(zip(truth, pred)).values())
    return tp, sum(c2(n) for n in Counter(pred).values()), sum(c2(n) for n in Counter(truth).values())


def typo(t):
    letters = [i for i, c in enumerate(t) if c.isalpha()]
    i = rng.choice(letters)
    kind = rng.randrange(4)
    if kind == 0:
        return t[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + t[i + 1:]
    if kind == 1:
        return t[:i] + t[i + 1:]
    if kind == 2:
        return t[:i] + rng.choice("aeiost") + t[i:]
    i = min(i, len(t) - 2)
    return t[:i] + t[i + 1] + t[i] + t[i + 2:]


ACCENTS = str.maketrans("aeiouc", "áéíöüç")
VARIANTS = {
    "case": lambda t: rng.choice([t.upper(), t.lower(), t.title()]),
    "punctuation": lambda t: t.replace("-", " ").replace(",", "").replace(":", " -").replace("(", "").replace(")", ""),
    "period": lambda t: t[:-1] if t.endswith(".") else t + ".",
    "typo": typo,
    "article": lambda t: t[4:] if t.lower().startswith("the ") else "The " + t[0].lower() + t[1:],
    "brackets": lambda t: f"[{t.rstrip('.')}].",
    "accents": lambda t: t.translate(ACCENTS) if rng.random() < 0.1 else t[:5] + t[5:].translate(str.maketrans("e", "é")),
}


def variant(title, kind):
    if kind != "two":
        return VARIANTS[kind](title)
    a, b = rng.sample(sorted(VARIANTS), 2)
    return VARIANTS[b](VARIANTS[a](title))


def jitter(year):
    u = rng.random()
    return None if u < 0.1 or year is None else year + 1 if u < 0.3 else year


def main():
    papers = [p for p in load_papers() if dedupe.normalise_title(p[0])]
    keys = [DedupeKey(t, y) for t, y in papers]
    print(f"{len(papers)} distinct papers with a title")

    print("\n1. distinct papers grouped together (pairs / papers in a group of several), title + year only")
    check = dedupe._differ_by_typos
    for guard in (True, False):
        dedupe._differ_by_typos = check if guard else (lambda a, b: True)
        for th in (85, 88, 90, 92, 95, 97, 99, 100):
            rep = find_duplicates(keys, threshold=th)
            tp, pred, _ = pair_counts(range(len(keys)), rep.groups)
            members = sum(n for n in Counter(rep.groups).values() if n > 1)
            print(f"  words check {'on ' if guard else 'off'} threshold {th:>3}: {pred:4d} pairs, {members:4d} papers; merges {rep.merges}")
    dedupe._differ_by_typos = check

    print("\n2. 100,000 records: papers + injected variants, title + year only")
    kinds = list(VARIANTS) + ["two"]
    records, truth, kind_of = list(keys), list(range(len(keys))), ["original"] * len(keys)
    while len(records) < 100_000:
        i = rng.randrange(len(papers))
        kind = rng.choice(kinds)
        records.append(DedupeKey(variant(papers[i][0], kind), jitter(papers[i][1])))
        truth.append(i)
        kind_of.append(kind)
    for th in (88, 90, 92, 95, 100):
        t0, c0 = time.perf_counter(), time.process_time()
        rep = find_duplicates(records, threshold=th)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        tp, pred, true = pair_counts(truth, rep.groups)
        print(f"  threshold {th}: {dt:.1f} s wall, {cpu:.1f} s CPU; pairwise precision {tp / pred:.4f} recall {tp / true:.4f}; merges {rep.merges}")
        if th == dedupe.FUZZY_THRESHOLD:
            best = rep
    found, total = Counter(), Counter()
    for j in range(len(keys), len(records)):
        total[kind_of[j]] += 1
        found[kind_of[j]] += best.groups[j] == best.groups[truth[j]]
    print("  variant found with its paper, by kind:", {k: f"{found[k]}/{total[k]}" for k in kinds})
    missed = [j for j in range(len(keys), len(records)) if best.groups[j] != best.groups[truth[j]] and kind_of[j] in ("typo", "two")]
    for j in missed[:8]:
        print("   missed:", kind_of[j], repr(records[j].title[:90]), "|", repr(papers[truth[j]][0][:90]), records[j].year, papers[truth[j]][1])

    print(f"\n3. {N_BIG:,} records with identifiers")
    titles = [t.split() for t, _ in papers if len(t.split()) >= 4]
    big, p = [], 0
    while len(big) < N_BIG:
        p += 1
        a, b = rng.choice(titles), rng.choice(titles)
        title = " ".join(a[: len(a) // 2] + b[len(b) // 2:])
        year = rng.randrange(1990, 2025)
        doi, pmid = f"10.{1000 + p % 9000}/x{p}", str(10_000_000 + p)
        for _ in range(rng.choice([1, 1, 2, 3, 5])):
            if len(big) == N_BIG:
                break
            big.append(DedupeKey(
                variant(title, rng.choice(kinds)) if rng.random() < 0.5 else title, jitter(year),
                rng.choice(["", doi, "https://doi.org/" + doi.upper()]), rng.choice(["", pmid])))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    rep = find_duplicates(big)
    print(f"  {len(big):,} records in {time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB"
          f" (before {rss0 / 2**20:.1f}); {rep.n_duplicate_groups:,} groups with duplicates, {rep.n_duplicates:,} duplicates; merges {rep.merges}")


if __name__ == "__main__":
    main()
