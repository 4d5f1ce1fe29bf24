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


def recall_figure(stopping: dict, screened: pd.DataFrame) -> str:
    """Includes found against records screened, each ranking's estimate of the total with its
    interval (from ``stopping["by_iteration"]``, then the estimate at audit time; too-early
    estimates left out), the number of includes the target asks for at the estimate at audit
    time, and where the default rule first said stop."""
    x, found = recall_curve(screened)
    fig = Figure(figsize=(9, 4.2))
    ax = fig.subplots()
    ax.step(x, found, where="post", color="#1f4e9c", label="includes found")
    rows = [h for h in [*stopping.get("by_iteration", []), stopping["estimate"]] if not h["too_early"]]
    top = max(found.max(initial=0), 1) * 1.5 + 1
    clipped = False
    if rows:
        n = np.array([h["screened"] for h in rows] + [max(len(x), rows[-1]["screened"])])
        point = np.array([h["includes_found"] + h["estimated_remaining"] for h in rows])
        low = np.array([h["includes_found"] for h in rows], dtype=float)
        high = np.array([h["includes_found"] + h["remaining_upper_95"] for h in rows], dtype=float)
        point, low, high = (np.append(a, a[-1]) for a in (point, low, high))  # the last estimate holds to the end
        top = max(top, point.max() * 1.2 + 1)
        clipped = high.max() > top
        ax.fill_between(n, low, np.minimum(high, top), step="post", color="#e69f00", alpha=0.25,
                        label=f"estimated total includes ({stopping['confidence']:.0%} upper bound)")
        ax.step(n, point, where="post", color="#e69f00", linestyle="--", label="estimated total includes")
        goal = stopping["target_recall"] * point[-1]
        ax.axhline(goal, color="#2e7d32", linestyle=":", label=f"{stopping['target_recall']:.0%} of the estimated total")
    first_stop = next((h for h in stopping.get("by_iteration", []) if h["stop"]), None)
    if first_stop is not None:
        ax.axvline(first_stop["screened"], color="#b00020", linestyle="-.",
                   label=f"default rule first said stop (iteration {first_stop['iteration_id']})")
    ax.set_ylim(0, top)
    ax.set_xlabel("records screened (a duplicate group counts once)")
    ax.set_ylabel("includes")
    ax.set_xlim(0, max(len(x), 1))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return _figure(fig, "Recall curve", "Includes found against records screened, in screening order; the band runs "
                   "from the includes found to each ranking's upper bound on the total (the last step: now), the dashed "
                   "line is its point estimate (rankings too early to estimate are left out)"
                   + (f"; upper bounds above {top:.0f} are cut off (see stopping.json)." if clipped else "."))


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
    shown = "latest ranking" if latest.stored_in_full else \
        f"latest ranking's first {len(latest.group_ids):,} of {latest.n_ranked:,}"
    ranked = last_rankings(project, screened["group_id"])
    by_group = screened.set_index("group_id")["decision"]
    fig = Figure(figsize=(9, 3.8))
    ax = fig.subplots()
    series = [
        (f"unscreened ({shown})", latest.scores[keep], "#888888"),
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


def _stopping_section(stopping: dict, directory: str) -> str:
    """The verdict evaluated at audit time with the rule, target, confidence, assumption,
    estimate, evidence and forecast; every rule on the same decisions; the default rule at
    each ranking; and the certification samples with what of each counts."""
    from prioritiser.status import forecast_text, percent

    verdict = stopping["decision"]
    overruled = (" The rule alone would say stop, but the quality-control sample reopened screening."
                 if stopping["rule_stop"] and stopping["reopened_by_qa"] else "")
    parts = [
        "<h2>Stopping decision</h2>",
        f'<p><span class="verdict {"stop" if stopping["stop"] else "continue"}">{verdict}</span> '
        f'by the default rule <b>{escape(str(stopping["rule"]))}</b> at target recall '
        f'{stopping["target_recall"]:.0%} and confidence {stopping["confidence"]:.0%}, evaluated when this audit was '
        f'written ({escape(stopping["evaluated_at"])}) on the decisions up to label event '
        f'{stopping["last_event_id"]:,}; the latest ranking is iteration {stopping["latest_iteration_id"]}.'
        f"{overruled}</p>",
        f"<p><b>Assumption.</b> {escape(stopping['assumption'])}</p>",
        f"<p>{escape(stopping['estimate_text'])}</p>",
        *[f"<p>{escape(line)}</p>" for line in forecast_text(stopping["forecast"], directory)],
        _table(["parameter", "value"], [[k, v] for k, v in (stopping["parameters"] or {}).items()]),
        _table(["evidence", "value"], [[k, v] for k, v in (stopping["evidence"] or {}).items()], numeric={1}),
    ]
    rules = stopping.get("rules") or []
    if rules:
        parts.append(f"<p>Every rule on the same decisions (up to label event {stopping['last_event_id']:,}):</p>")
        parts.append(_table(
            ["rule", "verdict", "parameters", "evidence"],
            [[r["rule"] + (" (default)" if r.get("default") else ""), "stop" if r["stop"] else "continue",
              ", ".join(f"{k}={_fmt(v)}" for k, v in r.get("parameters", {}).items()),
              ", ".join(f"{k}={_fmt(v)}" for k, v in r.get("evidence", {}).items())] for r in rules],
            css="wide", widths=[22, 10, 30, 38],
        ))
    history = stopping.get("by_iteration") or []
    if history:
        parts.append("<p>The default rule at each ranking, recomputed now from the decisions up to that ranking's "
                     "last label event:</p>")
        parts.append(_table(
            ["iteration", "decisions up to event", "screened", "includes", "estimated recall", "lower bound",
             "verdict"],
            [[h["iteration_id"], h["last_event_id"], h["screened"], h["includes_found"],
              "too early" if h["too_early"] else percent(h["estimated_recall"]), percent(h["recall_lower_95"]),
              "stop" if h["stop"] else "continue"] for h in history],
            numeric={0, 1, 2, 3},
        ))
    samples = stopping.get("certification_samples") or []
    counted = [c for c in samples if not c["void"] and c["screened"]]
    if counted:
        parts.append("<p>Random certification samples screened (only records first decided while their sample "
                     "was the open batch count as randomly sampled):</p>")
    else:
        parts.append("<p>No random certification sample was screened: the verdict rests on the ranked screening "
                     "and the assumption above.</p>")
    if samples:
        parts.append(_table(
            ["batch", "drawn", "records", "screened while open", "includes", "status"],
            [[c["batch_id"], c["drawn_at"], c["records"], c["screened"], c["includes"],
              f"void: {c['void']}" if c["void"] else "counted" + (" (still the open batch)" if c["open"] else "")]
             for c in samples],
            numeric={0, 2, 3, 4}, css="wide", widths=[8, 18, 10, 12, 10, 42],
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
    rows = [[r["batch_id"], r["created_at"], r["seed"], r["sampled"], r["pool"], r["screened"], len(r["includes"]),
             ", ".join(map(str, r["includes"]))] for r in rounds]
    html = "<h2>Quality control</h2>" + _table(
        ["batch", "drawn", "seed", "sampled", "drawn from", "screened", "includes", "record ids of includes"], rows,
        numeric={0, 2, 3, 4, 5, 6})
    html += "".join(f'<p{" class=note" if r["detection"]["weak"] and not r["includes"] else ""}>Batch {r["batch_id"]}: '
                    f'{escape(r["detection"]["statement"])}</p>' for r in rounds)
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


def _methods_section(project: Project, prisma: dict, stopping: dict, manifest: dict) -> str:
    """A methods paragraph a review team can paste into its paper (PRISMA 2020 item 8: how
    automation was used in the selection process), with the flow-diagram counts for it."""
    events = project.label_events()
    people = events[events["reviewer"] != "import"]
    reviewers = sorted({r for r in people["reviewer"] if r})
    dates = sorted(d[:10] for d in people["decided_at"] if d)
    records = prisma["records"]
    question = manifest.get("research_question")
    who = (f"{len(reviewers)} reviewer(s) ({', '.join(reviewers)})" if reviewers
           else "the review team (reviewer names were not recorded)")
    when = "" if not dates else f" on {dates[0]}" if dates[0] == dates[-1] else f" between {dates[0]} and {dates[-1]}"
    retrain = ("after each batch of decisions the model was retrained and the unscreened records re-ranked so "
               "that likely includes were screened first.")
    start = (f"Screening started from records ranked by similarity to the research question "
             f"(\u201c{question}\u201d); {retrain}" if question else retrain[:1].upper() + retrain[1:])
    rule = (f"the {stopping['rule']} rule at target recall {stopping['target_recall']:.0%} with "
            f"{stopping['confidence']:.0%} confidence")
    stop = (f"Screening stopped under {rule}." if stopping["stop"] else
            f"The stopping criterion, {rule}, was not yet met when this audit was written.")
    text = (
        f"Titles and abstracts were screened with machine-learning prioritisation in prioritiser "
        f"{manifest['prioritiser']} (preset \u201c{manifest['preset']}\u201d, configuration "
        f"{manifest['iteration']['config_hash']}, seed {manifest['iteration']['seed']}). {start} "
        f"{who[:1].upper() + who[1:]} screened {records['screened_by_humans']:,} of {records['identified']:,} "
        f"records{when} ({prisma['duplicates_removed']:,} duplicates grouped); {records['included']:,} were included. "
        f"{stop} Its assumption: {stopping['assumption']} {stopping['estimate_text']} The remaining "
        f"{records['excluded_by_model']:,} records were excluded by the model without human screening; each is "
        f"listed with its score and rank in excluded_by_model.csv, and the ranking can be recomputed from the "
        f"stored decisions with prioritiser reproduce.")
    counts = [["Records identified", records["identified"]], ["Duplicates grouped", prisma["duplicates_removed"]],
              ["Screened by humans", records["screened_by_humans"]], ["Included", records["included"]],
              ["Excluded by humans", records["excluded_by_humans"]],
              ["Excluded by the model (automation tool, not screened)", records["excluded_by_model"]]]
    return ("<h2>Methods paragraph</h2><p class=meta>For PRISMA 2020 item 8 (automation tools in the selection "
            "process) and the flow diagram's 'records excluded by automation tools'; edit as needed.</p>"
            f"<blockquote>{escape(text)}</blockquote>" + _table(["PRISMA flow (records)", "count"], counts, {1}))


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
    if it.get("note"):
        alerts.append(f'<div class="note">The latest ranking: {escape(it["note"])}.</div>')
    if stopping["labels_since_latest_iteration"]:
        alerts.append(
            f'<div class="note">{stopping["labels_since_latest_iteration"]:,} decision(s) were recorded after the '
            "latest ranking: the stopping verdict below counts them, the model-excluded list is ranked by that "
            "earlier ranking.</div>")
    sections = [
        f"<h1>Screening audit: {escape(project.path.name)}</h1>",
        f'<p class="meta">Written {escape(manifest["created_at"])} by prioritiser {escape(manifest["prioritiser"])}; '
        f"ranking of iteration {it['iteration_id']} ({escape(it['created_at'])}), preset "
        f"{escape(str(manifest['preset']))}, configuration {escape(it['config_hash'])}, seed {it['seed']}.</p>",
        *alerts,
        *([f"<p><b>Research question</b> (ranked by similarity before the first include): "
           f"{escape(manifest['research_question'])}</p>"] if manifest.get("research_question") else []),
        _methods_section(project, prisma, stopping, manifest),
        _prisma_section(prisma),
        _stopping_section(stopping, project.path.name),
        "<h2>Screening progress</h2>",
        recall_figure(stopping, screened),
        batches_figure(screened) if len(screened) else "",
        scores_figure(project, screened),
        _excluded_section(excluded),
        _qa_section(project),
        _manifest_section(manifest),
    ]
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>Screening audit: {escape(project.path.name)}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(sections)}</main></body></html>")
