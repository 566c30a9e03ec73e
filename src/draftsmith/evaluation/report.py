"""An evaluation run as one self-contained HTML file: figures, plots (embedded PNG) and the worst examples.

Plots are drawn with matplotlib's Agg backend (no display needed): the distribution of each per-item score,
one bar per category for each aggregate, and the worst items side by side with their references.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from pathlib import Path

from draftsmith.errors import DraftsmithError
from draftsmith.evaluation.compare import LOWER_IS_BETTER
from draftsmith.store.runs import ItemRecord, RunInfo

MAX_PLOTS = 6
# The per-item figure that ranks the worst examples, by task (the first one a run has).
PRIMARY = {
    "correct": ("gleu", "errant_f05", "chrf", "judge_mean"),
    "translate": ("chrf", "bleu", "judge_mean"),
    "rewrite": ("chrf", "bleu", "judge_mean", "chrf_vs_source"),
    "summarize": ("rougeL", "rouge1", "judge_mean"),
    "write": ("judge_mean", "perplexity", "distinct_2", "length_mean"),
    "continue": ("judge_mean", "perplexity", "distinct_2", "length_mean"),
}


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise DraftsmithError("the HTML report needs matplotlib: pip install 'draftsmith[eval]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    _pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def primary_metric(task: str, records: Sequence[ItemRecord]) -> str | None:
    present = {k for r in records for k in r.scores}
    for name in PRIMARY.get(task, ()):
        if name in present:
            return name
    return sorted(present)[0] if present else None


def worst_items(task: str, records: Sequence[ItemRecord], count: int = 10) -> tuple[str | None, list[ItemRecord]]:
    """The items with the lowest primary per-item score (highest, for perplexity), failed items first."""
    metric = primary_metric(task, records)
    if metric is None:
        return None, [r for r in records if r.error][:count]
    sign = -1 if metric in LOWER_IS_BETTER else 1

    def key(r: ItemRecord) -> tuple[int, float]:
        value = r.scores.get(metric)
        return (0 if r.error else 1, sign * value if value is not None else math.inf)

    return metric, sorted(records, key=key)[:count]


def distribution_plots(records: Sequence[ItemRecord]) -> list[tuple[str, str]]:
    plt = _pyplot()
    names = sorted({k for r in records for k in r.scores if not k.startswith("errant_")})[:MAX_PLOTS]
    out = []
    for name in names:
        values = [r.scores[name] for r in records if name in r.scores]
        if not values:
            continue
        fig, ax = plt.subplots(figsize=(4.2, 2.6))
        ax.hist(values, bins=min(20, max(5, len(values) // 3)), color="#4c72b0", edgecolor="white")
        ax.set_title(f"{name} per item (n={len(values)})", fontsize=10)
        ax.set_ylabel("items")
        out.append((name, _png(fig)))
    return out


def category_plots(run: RunInfo) -> list[tuple[str, str]]:
    by_category = (run.aggregates or {}).get("by_category") or {}
    if len(by_category) < 2:
        return []
    plt = _pyplot()
    categories = sorted(by_category)
    names = [m for m in (run.aggregates or {}).get("metrics", {}) if not m.startswith("errant_")][:MAX_PLOTS]
    out = []
    for name in names:
        values = [by_category[c].get(name, float("nan")) for c in categories]
        fig, ax = plt.subplots(figsize=(max(4.2, 0.6 * len(categories)), 2.8))
        ax.bar(categories, values, color="#55a868")
        ax.set_title(f"{name} by category", fontsize=10)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        out.append((name, _png(fig)))
    return out


def _table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table class='kv'>{body}</table>"


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def render_html(run: RunInfo, records: Sequence[ItemRecord], *, worst: int = 10) -> str:
    """The whole report as one HTML string (images inline)."""
    aggregates = run.aggregates or {}
    metrics = aggregates.get("metrics", {})
    overview = [
        ("run", run.id + (f" ({run.name})" if run.name else "")),
        ("task", run.task),
        ("status", run.status),
        ("model", run.model),
        ("template", f"{run.template or '-'} {run.template_version or ''}"),
        ("data", f"{run.data_path or '(in memory)'} {run.data_digest or ''}"),
        ("items", f"{run.items_done} done, {run.items_failed} failed, of {run.items_total}"),
        ("tokens", f"{run.prompt_tokens} prompt + {run.completion_tokens} completion"),
        ("time", f"{run.elapsed_s:.1f} s"),
    ]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>draftsmith eval {html.escape(run.id)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left}"
        ".kv th{background:#f4f4f4}.ex td{font-size:90%;white-space:pre-wrap;max-width:360px}"
        "img{margin:4px}.err{color:#b00}</style></head><body>",
        f"<h1>Evaluation run {html.escape(run.id)}</h1>",
        _table(overview),
        "<h2>Scores</h2>",
        _table([(k, _fmt(v)) for k, v in metrics.items()]) if metrics else "<p>No aggregates (run not finished).</p>",
    ]
    dists = distribution_plots(records)
    if dists:
        parts.append("<h2>Score distributions</h2>")
        parts.extend(f"<img alt='{html.escape(n)} distribution' src='{src}'>" for n, src in dists)
    bars = category_plots(run)
    if bars:
        parts.append("<h2>By category</h2>")
        parts.extend(f"<img alt='{html.escape(n)} by category' src='{src}'>" for n, src in bars)
    metric, rows = worst_items(run.task, records, worst)
    if rows:
        parts.append(f"<h2>Worst {len(rows)} items" + (f" by {html.escape(metric)}" if metric else "") + "</h2>")
        parts.append(
            "<table class='ex'><tr><th>item</th><th>score</th><th>source</th><th>output</th><th>references</th></tr>"
        )
        for r in rows:
            value = r.scores.get(metric) if metric else None
            shown = f"<span class='err'>failed: {html.escape(r.error)}</span>" if r.error else html.escape(r.output)
            refs = "<hr>".join(html.escape(ref) for ref in r.references) or "-"
            parts.append(
                f"<tr><td>{html.escape(r.item_id)}<br><small>{html.escape(r.category)}</small></td>"
                f"<td>{_fmt(value) if value is not None else '-'}</td><td>{html.escape(r.source)}</td>"
                f"<td>{shown}</td><td>{refs}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(run: RunInfo, records: Sequence[ItemRecord], path: str | Path, *, worst: int = 10) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_html(run, records, worst=worst), encoding="utf-8")
    tmp.replace(path)
    return path
