"""Duplicate groups on real-looking search exports (titles taken from the shared benchmark)."""

import random
import sqlite3
import time

import pytest

from prioritiser import dedupe
from prioritiser.dedupe import (
    DedupeKey,
    find_duplicate_groups,
    find_duplicates,
    normalise_doi,
    normalise_pmid,
    normalise_title,
)
from prioritiser.records import Record

ALLHAT = (
    "Major outcomes in high-risk hypertensive patients randomized to angiotensin-converting enzyme "
    "inhibitor or calcium channel blocker vs diuretic: The Antihypertensive and Lipid-Lowering Treatment "
    "to Prevent Heart Attack Trial (ALLHAT)."
)
NARATRIPTAN = "Naratriptan is effective and well tolerated in the acute treatment of migraine. Results of a double-blind, placebo-controlled, parallel-group study."


def test_doi_variants_are_one_paper_whatever_the_titles():
    keys = [
        DedupeKey("Some title", 2003, "https://doi.org/10.1001/JAMA.288.23.2981", ""),
        DedupeKey("Quite another title", 2003, "doi: 10.1001/jama.288.23.2981.", ""),
        DedupeKey("", None, " http://dx.doi.org/10.1001/jama.288.23.2981 ", ""),
        DedupeKey("Unrelated", 2003, "10.1001/jama.288.23.2982", ""),
    ]
    assert find_duplicate_groups(keys) == [0, 0, 0, 3]


def test_a_doi_field_without_a_doi_merges_nothing():
    keys = [DedupeKey(f"Paper number {w}", 2001, "N/A", "") for w in ("one", "two")]
    assert normalise_doi("N/A") == ""
    assert find_duplicate_groups(keys) == [0, 1]


def test_same_pmid_merges():
    keys = [DedupeKey("A", None, "", "PMID: 12748317"), DedupeKey("B", None, "", "12748317"), DedupeKey("C", None, "", "12230638")]
    assert find_duplicate_groups(keys) == [0, 0, 2]
    assert normalise_pmid("0012748317 [pubmed]") == "12748317"


def test_title_case_punctuation_accents_and_trailing_period():
    keys = [
        DedupeKey(NARATRIPTAN, 1998),
        DedupeKey(NARATRIPTAN.upper().rstrip("."), 1998),
        DedupeKey(NARATRIPTAN.replace("-", " ").replace(",", "").replace("é", "e"), 1998),
        DedupeKey("Efficacité du naratriptan : étude en double aveugle", 1998),
        DedupeKey("EFFICACITE DU NARATRIPTAN - ETUDE EN DOUBLE AVEUGLE.", 1998),
    ]
    assert find_duplicate_groups(keys) == [0, 0, 0, 3, 3]


def test_ovid_translated_title_brackets_and_medline_notes():
    plain = "Evaluation of the efficacy of oral sumatriptan in the management of migraine attacks"
    keys = [DedupeKey(plain, 1996), DedupeKey(f"[{plain}].", 1996), DedupeKey(f"{plain} [Article in French]", 1996)]
    assert find_duplicate_groups(keys) == [0, 0, 0]
    assert normalise_title("[No title available]") == ""


def test_markup_and_greek_letters_from_embase_and_scopus():
    a = "Design and synthesis of novel arylpiperazine derivatives targeting 5-HT<inf>2A</inf> receptor"
    b = "Design and synthesis of novel arylpiperazine derivatives targeting 5-HT2A receptor"
    c = "Effect of &beta;-blockers on heart rate variability after myocardial infarction"
    d = "Effect of β-blockers on heart rate variability after myocardial infarction"
    e = "Effect of beta-blockers on heart rate variability after myocardial infarction"
    assert find_duplicate_groups([DedupeKey(t, 2011) for t in (a, b, c, d, e)]) == [0, 0, 2, 2, 2]


def test_year_off_by_one_merges_two_apart_does_not():
    keys = [DedupeKey(NARATRIPTAN, 1998), DedupeKey(NARATRIPTAN, 1999), DedupeKey(NARATRIPTAN, 2001), DedupeKey(NARATRIPTAN, None)]
    assert find_duplicate_groups(keys) == [0, 0, 2, 0]


def test_years_do_not_chain_across_a_group():
    keys = [DedupeKey(NARATRIPTAN, y) for y in (1997, 1998, 1999)]
    assert find_duplicate_groups(keys) == [0, 0, 2]


def test_near_identical_titles_merge_typo_plural_spelling_spacing():
    keys = [
        DedupeKey(ALLHAT, 2002),
        DedupeKey(ALLHAT.replace("inhibitor or", "inhibitors or"), 2003),
        DedupeKey(NARATRIPTAN, 1998),
        DedupeKey(NARATRIPTAN.replace("migraine", "migriane"), 1998),
        DedupeKey("Tolerability of sumatriptan: clinical trials and post-marketing experience", 2001),
        DedupeKey("Tolerability of sumatriptan: clinical trials and postmarketing experience", 2002),
        DedupeKey("Randomised trial of paediatric anaesthesia in day surgery", 2005),
        DedupeKey("Randomized trial of pediatric anaesthesia in day surgery", 2005),
    ]
    assert find_duplicate_groups(keys) == [0, 0, 2, 2, 4, 4, 6, 6]


def test_near_identical_titles_of_different_papers_stay_apart():
    pairs = [
        ("Lansoprazole versus omeprazole in the treatment of reflux esophagitis",
         "Pantoprazole versus omeprazole in the treatment of reflux esophagitis"),
        ("Left ventricular systolic dysfunction and ischemic cardiomyopathy",
         "Left ventricular systolic dysfunction and nonischemic cardiomyopathy"),
        ("Effects of candesartan cilexetil in patients with severe systemic hypertension",
         "Effects of candesartan cilexetil in patients with systemic hypertension"),
        ("ICTV Virus Taxonomy Profile: Birnaviridae", "ICTV Virus Taxonomy Profile: Picornaviridae"),
        ("Chronic pain after spinal cord injury: a survey of practice in UK spinal injury units",
         "Chronic pain after spinal cord injury: a survey of practice in spinal injury units in the USA"),
    ]
    for a, b in pairs:
        assert find_duplicate_groups([DedupeKey(a, 2001), DedupeKey(b, 2001)]) == [0, 1], (a, b)


def test_numbered_parts_are_different_papers():
    base = "Long-term outcomes of beta-blocker therapy after myocardial infarction: part"
    keys = [DedupeKey(f"{base} 1", 2004), DedupeKey(f"{base} 2", 2004), DedupeKey(f"{base} I", 2004), DedupeKey(f"{base} II", 2004)]
    assert find_duplicate_groups(keys) == [0, 1, 2, 3]


def test_title_rules_never_join_different_dois_or_pmids():
    keys = [
        DedupeKey(ALLHAT, 2002, "10.1001/jama.288.23.2981", ""),
        DedupeKey(ALLHAT, 2002, "10.1001/jama.289.2.178", ""),  # the erratum
        DedupeKey(ALLHAT, 2002, "", "12479763"),
        DedupeKey(ALLHAT, 2002, "", "12509429"),
    ]
    groups = find_duplicate_groups(keys)
    assert groups[0] != groups[1] and groups[2] != groups[3]
    # the record with only a DOI and the one with only a PMID may be the same paper
    assert groups == [0, 1, 0, 1]


def test_a_group_never_holds_two_dois_through_titles():
    keys = [DedupeKey(ALLHAT, 2002, "10.1000/a", ""), DedupeKey(ALLHAT, 2002), DedupeKey(ALLHAT.upper(), 2002, "10.1000/b", "")]
    assert find_duplicate_groups(keys) == [0, 0, 2]


def test_short_titles_need_the_same_known_year_and_are_never_fuzzy():
    keys = [
        DedupeKey("Editorial", None), DedupeKey("Editorial", None),
        DedupeKey("Heart failure.", 2002), DedupeKey("Heart failure", 2003),
        DedupeKey("Rabeprazole", 1998), DedupeKey("RABEPRAZOLE.", 1998), DedupeKey("Rabeprazole", 1998, "10.1000/x", ""),
        DedupeKey("Ulcer and gastritis", 2001), DedupeKey("Ulcers and gastritis", 2001),
    ]
    assert find_duplicate_groups(keys) == [0, 1, 2, 3, 4, 4, 4, 7, 8]


def test_records_without_title_doi_or_pmid_stand_alone():
    keys = [DedupeKey("", 2001), DedupeKey(None, 2001, None, None), DedupeKey("  ", None), DedupeKey("[No title available]", 2001)]
    assert find_duplicate_groups(keys) == [0, 1, 2, 3]
    assert find_duplicate_groups([]) == []


def test_transitive_group_takes_the_smallest_index():
    keys = [
        DedupeKey("Unrelated paper on proton pump inhibitors in children", 2001),
        DedupeKey(NARATRIPTAN.upper(), None, "", ""),        # C: same title as B
        DedupeKey("Naratriptan study", 1998, "10.1016/x", ""),  # A: same DOI as B
        DedupeKey(NARATRIPTAN, 1998, "doi:10.1016/X", ""),     # B
    ]
    assert find_duplicate_groups(keys) == [0, 1, 1, 1]


def test_records_rows_and_tuples_are_accepted():
    records = [Record(title=NARATRIPTAN, year=1998, pmid="9809354"), Record(title="Other", doi="10.1000/b")]
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE r (title TEXT, year INTEGER, doi TEXT, pmid TEXT)")
    con.executemany("INSERT INTO r VALUES (?, ?, ?, ?)", [(NARATRIPTAN.upper(), None, None, None), ("x", None, "10.1000/B", None)])
    rows = con.execute("SELECT title, year, doi, pmid FROM r").fetchall()
    assert find_duplicate_groups(records + rows) == [0, 1, 0, 1]


def test_report_counts_groups_duplicates_and_rules():
    keys = [
        DedupeKey("A title long enough to be matched approximately", 2001, "10.1000/a"),
        DedupeKey("A title long enough to be matched approximatly", 2001),
        DedupeKey("x", None, "10.1000/A"),
        DedupeKey("Second paper, which has a pmid and a different title", 2001, "", "1"),
        DedupeKey("y", None, "", "1"),
        DedupeKey("Second paper which has a PMID and a different title", None),
        DedupeKey("A lone record", 2001),
    ]
    report = find_duplicates(keys)
    assert report.groups == [0, 0, 0, 3, 3, 3, 6]
    assert (report.n_records, report.n_groups, report.n_duplicate_groups, report.n_duplicates) == (7, 3, 2, 4)
    assert report.merges == {"doi": 1, "pmid": 1, "title": 1, "fuzzy": 1}


def test_threshold_is_the_fuzzy_score_needed():
    a = "Effect of propranolol on circadian variation of myocardial ischemia in elderly patients"
    b = "Effect of propranolol on circadian variaton of myocardial ischaemia in elderly patients"
    assert find_duplicate_groups([DedupeKey(a, 2000), DedupeKey(b, 2000)]) == [0, 0]
    assert find_duplicate_groups([DedupeKey(a, 2000), DedupeKey(b, 2000)], threshold=99.5) == [0, 1]
    with pytest.raises(ValueError, match="between 0 and 100"):
        find_duplicate_groups([DedupeKey(a, 2000)], threshold=150)


def test_oversized_blocks_are_scored_in_windows_not_skipped(monkeypatch):
    monkeypatch.setattr(dedupe, "MAX_BLOCK", 2)
    stem = "Effect of propranolol on circadian variation of"
    titles = [f"{stem} myocardial ischemia in elderly patients", f"{stem} myocardial ischaemia in elderly patients",
              f"{stem} ventricular arrhythmias in elderly patients", f"{stem} blood pressure in elderly patients"]
    assert find_duplicate_groups([DedupeKey(t, 1990) for t in titles]) == [0, 0, 2, 3]


@pytest.mark.slow
def test_scales_to_a_hundred_thousand_records():
    rng = random.Random(1)
    vocabulary = [f"{rng.choice('bcdfgklmnprstv')}{rng.choice('aeiou')}{w}" for w in ("rapine", "lofen", "nidine", "statin", "cillin", "mycin", "tidine", "zolam", "pramine", "sartan")]
    vocabulary += "effect of in on and with patients trial randomized study outcome therapy versus placebo chronic acute".split()
    keys, truth = [], []
    for paper in range(75_000):
        words = [rng.choice(vocabulary) for _ in range(9)] + [str(paper)]
        title = " ".join(words)
        year = rng.randrange(1980, 2025)
        for copy in range(rng.choice([1, 1, 2])):
            variant = title.upper() if copy else title
            keys.append(DedupeKey(variant + "." * copy, year + copy, f"10.{1000 + paper % 97}/{paper}" if rng.random() < 0.5 else "", ""))
            truth.append(paper)
    start = time.perf_counter()
    groups = find_duplicate_groups(keys)
    elapsed = time.perf_counter() - start
    first = {}
    expected = [first.setdefault(p, i) for i, p in enumerate(truth)]
    assert groups == expected
    assert elapsed < 60, elapsed
