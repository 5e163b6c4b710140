"""The execution-statistics page: the course's runtime dashboard.

``course run`` records, for every chapter it executes, the wall time, the peak
memory of the kernel (and of any JVM it started), the status and the time it
finished, in ``build/executed/<profile>/stats.json``. This module turns that
file into a page of the book: a table, a bar chart, the total against the
profile's time budget, and the chapter that is the bottleneck.

Example
-------
>>> stats = {"00_getting_started": {"wall_s": 12.0, "peak_rss_mb": 700.0,
...          "status": "ok", "finished_at": "2026-01-01T10:00:00+00:00"}}
>>> rows = stats_rows(stats, ["00_getting_started"], "ci")
>>> rows[0]["wall_s"], rows[0]["status"]
(12.0, 'ok')
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import psutil

#: Time budget of a whole-course run, seconds, on the course's 2-core machine.
BUDGET_S = {"ci": 10 * 60, "book": 45 * 60}

#: A chapter taking more than this share of the total is called the bottleneck.
BOTTLENECK_SHARE = 0.25


def load_stats(stats_file: Path) -> dict[str, dict[str, Any]]:
    """Read ``stats.json``; an absent file is an empty dict."""
    if not stats_file.exists():
        return {}
    try:
        return json.loads(stats_file.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{stats_file}: not valid JSON ({exc}); delete it and run "
                         "`course run` again to rewrite it") from None


def stats_rows(stats: dict[str, dict[str, Any]], chapters: list[str],
               profile: str) -> list[dict[str, Any]]:
    """One row per chapter of the book, in reading order.

    A chapter without a record gets status ``"not run"`` and no numbers.
    """
    rows = []
    for chapter in chapters:
        run = stats.get(chapter, {})
        rows.append({
            "chapter": chapter,
            "profile": run.get("profile", profile),
            "wall_s": run.get("wall_s"),
            "peak_rss_mb": run.get("peak_rss_mb"),
            "status": run.get("status", "not run"),
            "finished_at": run.get("finished_at", ""),
        })
    return rows


def bottleneck(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The slowest chapter if it takes more than :data:`BOTTLENECK_SHARE` of the total."""
    timed = [r for r in rows if r["wall_s"] is not None]
    total = sum(r["wall_s"] for r in timed)
    if len(timed) < 2 or total <= 0:
        return None
    slowest = max(timed, key=lambda r: r["wall_s"])
    return slowest if slowest["wall_s"] / total > BOTTLENECK_SHARE else None


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def machine_line() -> str:
    """The machine that builds the book, in words (cores, memory)."""
    memory_gib = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} CPU cores and {memory_gib:.0f} GiB of memory"


def chart(rows: list[dict[str, Any]], target: Path) -> bool:
    """Save a horizontal bar chart of wall time per chapter; False when nothing ran."""
    timed = [r for r in rows if r["wall_s"] is not None]
    if not timed:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["chapter"] for r in timed][::-1]
    walls = [r["wall_s"] for r in timed][::-1]
    colors = ["#c0392b" if r["status"] != "ok" else "#2c7fb8" for r in timed][::-1]
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * len(timed) + 1.2), dpi=100)
    ax.barh(names, walls, color=colors)
    ax.set_xlabel("wall time (s)")
    ax.set_title("Execution time per chapter")
    ax.grid(axis="x", alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target)
    plt.close(fig)
    return True


def stats_page(rows: list[dict[str, Any]], profile: str, links: dict[str, tuple[str, str]],
               chart_file: str | None) -> str:
    """The page's MyST markdown.

    Parameters
    ----------
    rows
        From :func:`stats_rows`.
    profile
        The profile the book was built at.
    links
        Chapter name → (link text, document path) for the chapters in the book.
    chart_file
        Path of the chart image relative to the page, or ``None``.
    """
    timed = [r for r in rows if r["wall_s"] is not None]
    total = sum(r["wall_s"] for r in timed)
    peak = max((r["peak_rss_mb"] or 0 for r in timed), default=0)
    lines = [
        "# Execution statistics",
        "",
        f"Every chapter of this book was executed by papermill (`course run --profile "
        f"{profile}`) before the book was built; the book shows the stored outputs and "
        "executes nothing itself. This page is generated from that run's "
        f"`build/executed/{profile}/stats.json`. Memory is the peak resident memory of "
        "the chapter's kernel and every process it started (a Spark JVM included).",
        "",
        f"This book was built at the **`{profile}`** profile on a machine with "
        f"{machine_line()}.",
        "",
        "| chapter | profile | wall time (s) | peak memory (MB) | status | finished (UTC) |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        name = r["chapter"]
        cell = f"[{links[name][0]}]({links[name][1]})" if name in links else f"`{name}`"
        finished = r["finished_at"].replace("T", " ").split("+")[0]
        lines.append(f"| {cell} | {r['profile']} | {_fmt(r['wall_s'])} | "
                     f"{_fmt(r['peak_rss_mb'], 0)} | {r['status']} | {finished} |")
    lines.append(f"| **total** | | **{_fmt(total)}** | **{_fmt(peak, 0)}** (max) | | |")
    lines.append("")
    if chart_file:
        lines += [f"```{{figure}} {chart_file}", ":name: fig-execution-times",
                  ":alt: Bar chart of the wall time of every chapter", "",
                  f"Wall time of every chapter at the `{profile}` profile"
                  + (" (red: the run failed)." if any(r["status"] != "ok" for r in timed)
                     else "."), "```", ""]
    lines += _budget_paragraph(rows, profile, total)
    return "\n".join(lines) + "\n"


def _budget_paragraph(rows: list[dict[str, Any]], profile: str, total: float) -> list[str]:
    out = ["## Against the time budget", ""]
    budget = BUDGET_S.get(profile)
    if budget is None:
        out.append(f"The `{profile}` profile has no time budget: it is meant for a large "
                   f"machine or a cluster. The whole course took {_minutes(total)}.")
    else:
        verdict = "within" if total <= budget else "**over**"
        out.append(f"The whole course at the `{profile}` profile must execute in under "
                   f"{budget // 60} minutes on 2 cores. This run took {_minutes(total)}, "
                   f"{verdict} the budget ({100 * total / budget:.0f} % of it).")
    slow = bottleneck(rows)
    out.append("")
    if slow is not None:
        share = 100 * slow["wall_s"] / total
        out.append(f"**Bottleneck:** `{slow['chapter']}` takes {_fmt(slow['wall_s'])} s, "
                   f"{share:.0f} % of the total; it is the chapter to make faster first.")
    else:
        out.append("No single chapter dominates the total "
                   f"(none takes more than {100 * BOTTLENECK_SHARE:.0f} % of it).")
    not_ok = [r["chapter"] for r in rows if r["status"] != "ok"]
    if not_ok:
        out += ["", "Not executed successfully: " + ", ".join(f"`{c}`" for c in not_ok) + "."]
    return out
