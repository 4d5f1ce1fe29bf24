"""Build the bundled example in data/ from the Kwok et al. 2020 screening data (CC-BY 4.0).

A stratified slice: 40 included and 460 excluded records, renumbered 1..500 in a shuffled
order. Writes prioritiser/data/example.csv (fully labelled, for `prioritiser demo` and simulations),
prioritiser/data/example_search.ris (the same records as a search export, without decisions) and
prioritiser/data/example_first_decisions.csv (a first screened batch: 3 includes and 17 excludes).

    python scripts/make_example_data.py /path/to/benchmark/datasets/Kwok_2020.csv.gz
"""

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20201
#: Two-byte UTF-8 sequences that the source decoded as Latin-1 ("Â©" for "©", "Ã©" for "é").
MOJIBAKE = re.compile("[\xc2-\xdf][\x80-\xbf]")


def repair_mojibake(text: str) -> str:
    """Decode the source's doubly encoded characters back to the one they stand for."""
    return MOJIBAKE.sub(lambda m: m.group(0).encode("latin-1").decode("utf-8"), text)


def main(source: str) -> None:
    data = Path(__file__).resolve().parent.parent / "prioritiser" / "data"
    frame = pd.read_csv(source)
    rng = np.random.default_rng(SEED)
    included = frame[frame.label_included == 1].sample(40, random_state=SEED)
    excluded = frame[frame.label_included == 0].sample(460, random_state=SEED)
    slice_ = pd.concat([included, excluded]).sample(frac=1, random_state=SEED).reset_index(drop=True)
    slice_["record_id"] = np.arange(1, len(slice_) + 1)
    slice_ = slice_[["record_id", "title", "abstract", "label_included"]].fillna("")
    for column in ("title", "abstract"):
        slice_[column] = slice_[column].map(repair_mojibake)
    slice_.to_csv(data / "example.csv", index=False)
    with open(data / "example_search.ris", "w", encoding="utf-8", newline="\r\n") as ris:
        for row in slice_.itertuples():
            ris.write(f"TY  - JOUR\nID  - {row.record_id}\nTI  - {row.title}\n")
            if row.abstract:
                ris.write(f"AB  - {row.abstract}\n")
            ris.write("ER  - \n\n")
    first = pd.concat([
        slice_[slice_.label_included == 1].sample(3, random_state=rng.integers(1 << 31)),
        slice_[slice_.label_included == 0].sample(17, random_state=rng.integers(1 << 31)),
    ]).sort_values("record_id")
    first.rename(columns={"label_included": "label"})[["record_id", "title", "label"]].to_csv(
        data / "example_first_decisions.csv", index=False)


if __name__ == "__main__":
    main(sys.argv[1])
