"""Leave-one-review-out choice among configurations benchmarked by ``scripts/benchmark.py --out``.

    python scripts/loro.py default=/tmp/a.csv minilm-0.5=/tmp/b.csv minilm-1=/tmp/c.csv

Each CSV holds the runs of one configuration (all reviews and seeds) beside the peer's rows.
For every review r, the configuration with the lowest mean loss ratio to elas_u4 over the other
reviews is chosen, and r's own ratio under that choice is its held-out figure: the mean of the
held-out figures estimates how the selection procedure does on a review it has not seen, and
their spread shows how evenly. A review's ratio is its mean loss over seeds divided by the
peer's mean loss over the same seeds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def review_table(path: Path) -> pd.DataFrame:
    """Per review: our mean loss and wss95, the peer's, and the loss ratio."""
    runs = pd.read_csv(path)
    ours = runs[runs.tool.str.startswith("prioritiser")].groupby("dataset")[["loss", "wss95", "seconds"]].mean()
    peer = runs[runs.tool.str.startswith("asreview")].groupby("dataset")[["loss", "wss95"]].mean()
    table = ours.join(peer.add_suffix("_peer"))
    table["ratio"] = table["loss"] / table["loss_peer"]
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="+", help="NAME=CSV, one per configuration")
    args = parser.parse_args()
    tables = {name: review_table(Path(path)) for name, path in (c.split("=", 1) for c in args.configs)}
    reviews = sorted(set.intersection(*(set(t.index) for t in tables.values())))
    ratios = pd.DataFrame({name: t.loc[reviews, "ratio"] for name, t in tables.items()})
    print("Loss ratio to elas_u4 per review (mean over seeds):")
    print(ratios.round(3).to_string())
    print("\nPer configuration over all reviews:")
    for name, t in tables.items():
        t = t.loc[reviews]
        print(f"  {name:<24} mean loss ratio {t.loss.mean() / t.loss_peer.mean():.3f}  mean of ratios "
              f"{t.ratio.mean():.3f}  worst {t.ratio.max():.3f}  wss95 diff {(t.wss95 - t.wss95_peer).mean():+.4f}  "
              f"mean seconds {t.seconds.mean():.1f}")
    held_out = []
    for review in reviews:
        others = ratios.drop(index=review)
        chosen = others.mean().idxmin()
        held_out.append((review, chosen, ratios.loc[review, chosen]))
    frame = pd.DataFrame(held_out, columns=["review", "chosen", "held_out_ratio"])
    print("\nLeave-one-review-out: configuration chosen on the other reviews, ratio on the held-out one")
    print(frame.round(3).to_string(index=False))
    loss_held = sum(tables[c].loc[r, "loss"] for r, c, _ in held_out)
    loss_peer = sum(tables[c].loc[r, "loss_peer"] for r, c, _ in held_out)
    print(f"\nLORO: mean held-out ratio {frame.held_out_ratio.mean():.3f} (median {frame.held_out_ratio.median():.3f}, "
          f"min {frame.held_out_ratio.min():.3f}, max {frame.held_out_ratio.max():.3f}); "
          f"ratio of mean losses {loss_held / loss_peer:.3f}; chosen: {frame.chosen.value_counts().to_dict()}")


if __name__ == "__main__":
    main()
