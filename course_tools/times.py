"""How long a chapter takes: the time box at the top of every chapter, generated.

A student planning an evening and an instructor planning a lab both need two figures:
how long the reading and the exercises take, and how long the computer needs. The first
is estimated from the chapter's text; the second is measured — ``course run`` records
every chapter's wall time in ``build/executed/<profile>/stats.json``.

``course times --save`` copies the latest measured wall times of the ``ci`` and ``book``
profiles into ``book/chapter_times.json`` (committed, so every checkout has them);
``course times --write`` writes the box, between two marker comments, right under each
chapter's title. A test checks that every chapter's box is what ``--write`` would write
from the committed figures, so nobody types a time by hand.

Reading estimate: 150 words a minute for prose (technical reading is slow), and ten lines
a minute for code cells. Exercise estimate: ten minutes per exercise plus half a minute
per line of its reference solution. Both are rounded up to five minutes.

Example
-------
>>> box = render_box("04_x", "Title\\n\\nSome words.", {"04_x": {"ci": 7.2, "book": 51.5}})
>>> "7 s at `ci`" in box and "52 s at `book`" in box
True
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
from pathlib import Path

from course_utils import paths

BEGIN = "<!-- time-estimate: written by `course times --write` from book/chapter_times.json -->"
END = "<!-- /time-estimate -->"
PROFILES = ("ci", "book")
WORDS_PER_MINUTE = 150
CODE_LINES_PER_MINUTE = 10
MINUTES_PER_EXERCISE = 10
MINUTES_PER_SOLUTION_LINE = 0.5

_FENCE = re.compile(r"^```\{?([\w-]*)\}?.*?$(.*?)^```\s*$", re.S | re.M)
_BOX = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", re.S)


def _round5(minutes: float) -> int:
    return max(5, 5 * math.ceil(minutes / 5))


def effort(text: str) -> dict[str, int]:
    """Minutes of reading and of exercises for a chapter's MyST source.

    Example
    -------
    >>> effort("word " * 300 + "\\n```{code-cell} ipython3\\nx = 1\\n```\\n")
    {'reading': 5, 'exercises': 0, 'n_exercises': 0}
    """
    text = _BOX.sub("", text)
    code_lines, solution_lines, n_exercises = 0, 0, 0
    in_solution = False
    prose = []
    last = 0
    for match in _FENCE.finditer(text):
        prose.append(text[last:match.start()])
        last = match.end()
        kind, body = match.group(1), match.group(2)
        lines = [ln for ln in body.splitlines() if ln.strip() and not ln.startswith(":")]
        if kind == "exercise-start":
            n_exercises += 1
        elif kind == "solution-start":
            in_solution = True
        elif kind == "solution-end":
            in_solution = False
        elif kind == "code-cell":
            if in_solution:
                solution_lines += len(lines)
            else:
                code_lines += len(lines)
        else:  # a fenced block of text (math, a shown snippet): read as prose
            prose.append(body)
    prose.append(text[last:])
    words = sum(len(re.findall(r"\w+", p)) for p in prose)
    reading = words / WORDS_PER_MINUTE + code_lines / CODE_LINES_PER_MINUTE
    exercises = n_exercises * MINUTES_PER_EXERCISE + solution_lines * MINUTES_PER_SOLUTION_LINE
    return {"reading": _round5(reading), "exercises": _round5(exercises) if n_exercises else 0,
            "n_exercises": n_exercises}


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def render_box(chapter: str, text: str, times: dict[str, dict[str, float]]) -> str:
    """The time box for one chapter (markdown, between the two markers)."""
    est = effort(text)
    parts = [f"about {est['reading']} min of reading"]
    if est["n_exercises"]:
        noun = "exercise" if est["n_exercises"] == 1 else "exercises"
        parts.append(f"about {est['exercises']} min for its {est['n_exercises']} {noun}")
    measured = times.get(chapter, {})
    runs = [f"{_duration(measured[p])} at `{p}`" for p in PROFILES if p in measured]
    compute = (f" Running it takes {' and '.join(runs)} on two CPU cores (measured; the "
               "book's execution statistics page has the latest run)." if runs
               else " Its running time has not been measured yet (`course times --save`).")
    return (f"{BEGIN}\n> **Time.** A student needs {' and '.join(parts)}.{compute}\n{END}\n")


def write_box(path: Path, times: dict[str, dict[str, float]]) -> bool:
    """Put the box under the chapter's ``# Title`` (replacing an old one); True if changed."""
    text = path.read_text()
    box = render_box(path.stem, text, times)
    if BEGIN in text:
        new = _BOX.sub(lambda _: box, text, count=1)
    else:
        title = re.search(r"^# .*\n", text, re.M)
        if title is None:
            raise ValueError(f"{path}: no '# Title' line to put the time box under")
        new = text[:title.end()] + "\n" + box + text[title.end():]
    if new == text:
        return False
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(new)
    os.replace(tmp, path)
    return True


def times_file() -> Path:
    """``book/chapter_times.json``: the committed wall times."""
    return paths.repo_root() / "book" / "chapter_times.json"


def load_times(path: Path | None = None) -> dict[str, dict[str, float]]:
    """The committed wall times: ``{chapter: {profile: seconds}}``."""
    path = path or times_file()
    return json.loads(path.read_text()) if path.exists() else {}


def save_times(path: Path | None = None) -> dict[str, dict[str, float]]:
    """Merge the latest successful runs of each profile into ``path`` and return it."""
    path = path or times_file()
    times = load_times(path)
    for profile in PROFILES:
        stats_file = paths.executed_dir(profile) / "stats.json"
        if not stats_file.exists():
            continue
        for chapter, run in json.loads(stats_file.read_text()).items():
            if run.get("status") == "ok" and run.get("source", "synthetic") == "synthetic":
                times.setdefault(chapter, {})[profile] = round(float(run["wall_s"]), 1)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(dict(sorted(times.items())), indent=2) + "\n")
    os.replace(tmp, path)
    return times


def _cmd_times(args: argparse.Namespace) -> int:
    times = save_times() if args.save else load_times()
    if args.save:
        print(f"wall times of {len(times)} chapters saved in {times_file()}")
    if args.write:
        changed = [p.stem for p in paths.chapters() if write_box(p, times)]
        print(f"time box rewritten in {len(changed)} chapter(s): {', '.join(changed) or '-'}")
    if not (args.save or args.write):
        for p in paths.chapters():
            print(render_box(p.stem, p.read_text(), times).splitlines()[1])
    return 0


def register(subparsers) -> None:
    """Add ``course times`` to the ``course`` command."""
    cmd = subparsers.add_parser("times", help="the time box at the top of every chapter")
    cmd.add_argument("--save", action="store_true",
                     help="copy the latest ci/book wall times into book/chapter_times.json")
    cmd.add_argument("--write", action="store_true", help="rewrite every chapter's time box")
    cmd.set_defaults(func=_cmd_times)
