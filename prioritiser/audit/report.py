"""``report.html``: one self-contained page (inline CSS, plots as base64 PNG) summarising the audit.

Every text that comes from records, files or reviewers is passed through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import io
import math
from html import escape

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from prioritiser.audit.history import batch_yields, last_rankings, recall_curve, screened_groups
from prioritiser.audit.qa import qa_rounds
from prioritiser.records import EXCLUDE, INCLUDE
from prioritiser.store import Project

TOP_EXCLUDED = 20

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 0; background: #f6f6f4; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0ee; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.wide { width: 100%; table-layout: fixed; } table.wide td { overflow-wrap: anywhere; }
.alert { border: 2px solid #b00020; background: #fdecee; color: #7a0016; padding: 12px 16px; margin: 16px 0; border-radius: 4px; }
.note { border: 1px solid #d9a400; background: #fff8e1; padding: 10px 16px; margin: 16px 0; border-radius: 4px; }
.verdict { display: inline-block; padding: 4px 12px; border-radius: 4px; font-weight: bold; color: #fff; }
.stop { background: #2e7d32; } .continue { background: #555; }
figure { margin: 12px 0; } figure img { max-width: 100%; height: auto; display: block; }
table.prisma td:first-child { white-space: pre; }
figcaption { color: #555; font-size: 0.85em; margin-top: 4px; }
code { font-size: 0.85em; overflow-wrap: anywhere; }
"""


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(fig: Figure, alt: str, caption: str) -> str:
    return (f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{_png(fig)}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _fmt(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _table(header: list[str], rows: list[list], numeric: set[int] = frozenset(), css: str = "",
           widths: list[int] | None = None) -> str:
    """An HTML table of escaped cells; ``widths`` are column widths in percent."""
    cols = "".join(f'<col style="width:{w}%">' for w in widths) if widths else ""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{escape(_fmt(v))}</td>' for i, v in enumerate(row))
        + "</tr>" for row in rows
    )
    return f'<table{f" class={css}" if css else ""}>{cols}<tr>{head}</tr>{body}</table>'


def estimate_band(estimate: dict) -> tuple[float, float, float] | None:
    """Estimated total includes (point, low, high) from a stored estimate: the includes found plus
    the estimated remaining, between the includes found and found + the upper bound on the remaining."""
    if not estimate:
        return None
    found = float(estimate["includes_found"])
    return found + float(estimate["estimated_remaining"]), found, found + float(estimate["remaining_upper_95"])


def recall_figure(project: Project, screened: pd.DataFrame) -> str:
    x, found = recall_curve(screened)
    fig = Figure(figsize=(9, 4.2))
    ax = fig.subplots()
    ax.step(x, found, where="post", color="#1f4e9c", label="includes found")
    points, confidence = [], 0.95
    for it in project.iterations():
        estimate = it.estimates.get("estimate", {})
        band = estimate_band(estimate)
        if band is not None:
            points.append((it.n_labelled, *band))
            confidence = estimate.get("confidence", confidence)
    clipped = False
    if points:
        points.append((max(len(x), points[-1][0]), *points[-1][1:]))  # the last estimate holds to the end
        n, point, low, high = map(np.asarray, zip(*points))
        top = min(high.max(), 2 * max(found.max(initial=0), point.max()) + 5) * 1.1 + 1
        clipped = high.max() > top
        ax.fill_between(n, low, high, step="post", color="#e69f00", alpha=0.25,
                        label=f"estimated total includes ({confidence:.0%} interval)")
        ax.step(n, point, where="post", color="#e69f00", linestyle="--", label="estimated total includes")
        ax.set_ylim(0, top)
    ax.set_xlabel("records screened (a duplicate group counts once)")
    ax.set_ylabel("includes")
    ax.set_xlim(0, max(len(x), 1))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return _figure(fig, "Recall curve", "Includes found against records screened, in screening order; the band is "
                   "each iteration's estimate of the total number of includes with its interval"
                   + (f" (cut off at {top:.0f}; the latest upper bound is in stopping.json)." if clipped else "."))


def batches_figure(screened: pd.DataFrame) -> str:
    yields = batch_yields(screened)
    fig = Figure(figsize=(9, 0.9 + 0.32 * max(len(yields), 3)))
    ax = fig.subplots()
    pos = np.arange(len(yields))[::-1]
    ax.barh(pos, yields["screened"], color="#cccccc", label="screened")
    ax.barh(pos, yields["includes"], color="#1f4e9c", label="includes")
    for p, n, k in zip(pos, yields["screened"], yields["includes"]):
        ax.text(n, p, f"  {k}/{n}", va="center", fontsize=8)
    ax.set_yticks(pos, [b if len(b) <= 40 else b[:39] + "…" for b in yields["batch"]], fontsize=8)
    ax.set_xlabel("records first screened in the batch")
    ax.set_xlim(0, yields["screened"].max() * 1.15 + 1 if len(yields) else 1)
    ax.legend(loc="lower right")
    return _figure(fig, "Includes per batch", "Includes found per batch of decisions, in the order the batches were "
                   "recorded (includes / records first screened in it).")


def scores_figure(project: Project, screened: pd.DataFrame) -> str:
    latest = project.latest_iteration()
    decided = set(screened["group_id"].tolist())
    keep = np.array([g not in decided for g in latest.group_ids.tolist()], dtype=bool)
    ranked = last_rankings(project, screened["group_id"])
    by_group = screened.set_index("group_id")["decision"]
    fig = Figure(figsize=(9, 3.8))
    ax = fig.subplots()
    series = [
        ("unscreened (latest ranking)", latest.scores[keep], "#888888"),
        ("screened: exclude", ranked["score"][by_group.reindex(ranked.index).eq(EXCLUDE)].to_numpy(), "#d55e00"),
        ("screened: include", ranked["score"][by_group.reindex(ranked.index).eq(INCLUDE)].to_numpy(), "#1f4e9c"),
    ]
    values = np.concatenate([s for _, s, _ in series]) if any(len(s) for _, s, _ in series) else np.zeros(1)
    bins = np.histogram_bin_edges(values, bins=40)
    for name, scores, colour in series:
        if len(scores):
            ax.hist(scores, bins=bins, density=True, histtype="step", linewidth=1.8, color=colour,
                    label=f"{name} (n={len(scores):,})")
    ax.set_xlabel("model score (higher = more likely include)")
    ax.set_ylabel("density")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return _figure(fig, "Score distributions", "Score distributions: unscreened records as the latest ranking scored "
                   "them; screened records as scored by the last ranking before they were screened (records "
                   "screened before any ranking have no score).")


def _prisma_section(prisma: dict) -> str:
    rec, grp = prisma["records"], prisma["groups"]
    rows = [
        ["Records identified", rec["identified"], ""],
        *[[f"  from {s['file']}", s["records"], ""] for s in prisma["identified"]["per_source"]],
        ["Duplicates removed", prisma["duplicates_removed"], ""],
        ["Records after duplicates removed", "", grp["after_duplicates_removed"]],
        ["Screened by humans", rec["screened_by_humans"], grp["screened_by_humans"]],
        ["  included", rec["included"], grp["included"]],
        ["  excluded by humans", rec["excluded_by_humans"], grp["excluded_by_humans"]],
        ["  maybe", rec["maybe"], grp["maybe"]],
        ["Excluded by the model (never screened by a human)", rec["excluded_by_model"], grp["excluded_by_model"]],
    ]
    return "<h2>PRISMA counts</h2>" + _table(["", "records", "duplicate groups"], rows, numeric={1, 2}, css="prisma") + (
        '<p class="meta">A decision on a duplicate group counts for every record in it; the right column counts '
        "each group once.</p>") + _team_section(prisma["screening"])


def _team_section(screening: dict) -> str:
    """Reviewers per record, independence, exclusion reasons and agreement per reviewer pair."""
    fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    rows = [[f"  screened by {n} reviewer(s)", count] for n, count in screening["groups_by_number_of_reviewers"].items()]
    rows += [["Adjudicated conflicts", screening["adjudications"]], ["Open conflicts", screening["open_conflicts"]]]
    rows += [[f"  excluded: {reason}", count] for reason, count in screening["exclusion_reasons"].items()]
    section = (f"<h3>Reviewers</h3><p class=meta>Mode {escape(screening['mode'])}: {escape(screening['independence_note'])}."
               f" Reviewers: {escape(', '.join(screening['reviewers']) or 'none named')}.</p>"
               + _table(["", "duplicate groups"], rows, numeric={1}))
    if screening["agreement"]:
        pairs = [[f"{p['reviewer_a']} / {p['reviewer_b']}", p["n"], fmt(p["kappa"]), fmt(p["include_prevalence"]),
                  fmt(p["pabak"]), fmt(p["ac1"])] for p in screening["agreement"]]
        section += "<h3>Agreement on records both screened</h3>" + _table(
            ["reviewers", "both screened", "Cohen's kappa", "include prevalence", "PABAK", "Gwet's AC1"], pairs,
            numeric={1, 2, 3, 4, 5})
    return section


def _stopping_section(stopping: dict) -> str:
    verdict = "STOP" if stopping["stop"] else "CONTINUE"
    overruled = " A stop was recorded, but the quality-control sample reopened screening." if (
        stopping["recorded_stop"] and stopping["reopened_by_qa"]) else ""
    parts = [
        "<h2>Stopping decision</h2>",
        f'<p><span class="verdict {"stop" if stopping["stop"] else "continue"}">{verdict}</span> '
        f'by rule <b>{escape(str(stopping["rule"]))}</b>, from {escape(str(stopping["source"]))} '
        f'({escape(str(stopping["decided_at"]))}).{overruled}</p>',
        _table(["parameter", "value"], [[k, v] for k, v in (stopping["parameters"] or {}).items()]),
        _table(["evidence", "value"], [[k, v] for k, v in (stopping["evidence"] or {}).items()], numeric={1}),
    ]
    rules = stopping.get("rules_at_iteration") or []
    if rules:
        parts.append(f"<p>Every rule at iteration {stopping['iteration_id']}:</p>")
        parts.append(_table(
            ["rule", "verdict", "parameters", "evidence"],
            [[r["rule"] + (" (default)" if r.get("default") else ""), "stop" if r["stop"] else "continue",
              ", ".join(f"{k}={_fmt(v)}" for k, v in r.get("parameters", {}).items()),
              ", ".join(f"{k}={_fmt(v)}" for k, v in r.get("evidence", {}).items())] for r in rules],
            css="wide", widths=[22, 10, 30, 38],
        ))
    return "".join(parts)


def _excluded_section(excluded: pd.DataFrame) -> str:
    top = excluded.head(TOP_EXCLUDED)
    rows = [[r.record_id, r.group_id, r.title, r.score, r.rank] for r in top.itertuples()]
    return (f"<h2>Highest-ranked records excluded by the model</h2><p>The {len(top)} of {len(excluded):,} unscreened "
            "records the model ranked highest (all are listed in excluded_by_model.csv).</p>"
            + _table(["record id", "group", "title", "score", "rank"], rows, numeric={0, 1, 3, 4}, css="wide",
                     widths=[9, 8, 63, 11, 9]))


def _qa_section(project: Project) -> str:
    rounds = qa_rounds(project)
    if not rounds:
        return ("<h2>Quality control</h2><p>No quality-control sample of model-excluded records has been drawn "
                "(prioritiser audit --qa-sample N).</p>")
    rows = [[r["batch_id"], r["created_at"], r["seed"], r["sampled"], r["screened"], len(r["includes"]),
             ", ".join(map(str, r["includes"]))] for r in rounds]
    html = "<h2>Quality control</h2>" + _table(
        ["batch", "drawn", "seed", "sampled", "screened", "includes", "record ids of includes"], rows, numeric={0, 2, 3, 4, 5})
    found = [g for r in rounds for g in r["includes"]]
    if found:
        titles = project.titles(found)
        html += "<p>Includes found among model-excluded records:</p>" + _table(
            ["record id", "title"], [[g, titles[g]] for g in found], numeric={0}, css="wide", widths=[12, 88])
    return html


def _manifest_section(manifest: dict) -> str:
    it = manifest["iteration"]
    rows = [
        ["prioritiser", manifest["prioritiser"]], ["python", manifest["python"]],
        *[[name, version or "not installed"] for name, version in manifest["dependencies"].items()],
        ["preset", manifest["preset"]], ["iteration", it["iteration_id"]], ["configuration hash", it["config_hash"]],
        ["seed", it["seed"]], ["ranking sha256", it["ranking_sha256"]],
        ["label history sha256", f"{manifest['label_history']['sha256']} ({manifest['label_history']['events']} events)"],
        *[[f"source {s['path']}", s["sha256"]] for s in manifest["sources"]],
        *[[f"embedder {name}", identity] for name, identity in manifest["models"].items()],
    ]
    return "<h2>Reproducibility</h2>" + _table(["", "value"], rows, css="wide", widths=[32, 68]) + (
        "<p class=meta>Recompute the ranking and check these hashes with <code>prioritiser reproduce</code> "
        "(see manifest.json).</p>")


def render_report(project: Project, excluded: pd.DataFrame, prisma: dict, stopping: dict, manifest: dict) -> str:
    """The report page as one HTML string."""
    screened = screened_groups(project)
    it = manifest["iteration"]
    alerts = []
    if stopping["reopened_by_qa"]:
        ids = ", ".join(map(str, stopping["reopened_by_qa"]))
        alerts.append(
            f'<div class="alert"><b>Screening is reopened.</b> The quality-control sample of model-excluded records '
            f"holds {len(stopping['reopened_by_qa'])} include(s) (record ids {escape(ids)}). The model excluded "
            "relevant records: screen further ranked batches, then decide stopping and draw a new QA sample.</div>")
    if stopping["labels_since"]:
        alerts.append(
            f'<div class="note">{stopping["labels_since"]:,} decision(s) were recorded after the stopping verdict '
            "shown here; run 'prioritiser rank' or 'prioritiser stop' again for an up-to-date verdict.</div>")
    sections = [
        f"<h1>Screening audit: {escape(project.path.name)}</h1>",
        f'<p class="meta">Written {escape(manifest["created_at"])} by prioritiser {escape(manifest["prioritiser"])}; '
        f"ranking of iteration {it['iteration_id']} ({escape(it['created_at'])}), preset "
        f"{escape(str(manifest['preset']))}, configuration {escape(it['config_hash'])}, seed {it['seed']}.</p>",
        *alerts,
        _prisma_section(prisma),
        _stopping_section(stopping),
        "<h2>Screening progress</h2>",
        recall_figure(project, screened),
        batches_figure(screened) if len(screened) else "",
        scores_figure(project, screened),
        _excluded_section(excluded),
        _qa_section(project),
        _manifest_section(manifest),
    ]
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>Screening audit: {escape(project.path.name)}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(sections)}</main></body></html>")
