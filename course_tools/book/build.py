"""Build the book: execute (or reuse) the chapters, check them, run Jupyter Book.

``course book --profile book`` runs these steps in order, and stops with a
message that says what to fix at the first one that fails:

1. execute every chapter with papermill (:mod:`course_tools.runner`) — or, with
   ``--no-execute``, reuse ``build/executed/<profile>/`` as it is;
2. refuse chapters that failed or are older than their source, and scan the
   stored outputs (:func:`course_tools.book.check.scan_notebook`);
3. install MathJax 3 from the npm registry into ``build/node/`` (once);
4. assemble ``build/book_src/<profile>/`` (:mod:`course_tools.book.assemble`);
5. ``jupyter-book build`` with ``-W -n --keep-going``: any warning fails;
6. check that no page needs a file from another host
   (:func:`course_tools.book.check.scan_html`).

It returns (and the command prints) the path of the book's ``index.html``.

Example
-------
>>> html_dir("ci").parts[-4:]
('book', 'ci', '_build', 'html')
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import nbformat

from course_utils import paths
from course_tools.book.assemble import (Assembly, BookError, Chapter, assemble,
                                        find_chapters)
from course_tools.book.check import Problem, fix_hint, scan_html, scan_notebook
from course_utils.config import resolve_profile_name

#: The MathJax release served with the book (npm package ``mathjax``, es5 build).
MATHJAX_VERSION = "3.2.2"

EXECUTE_MODES = ("all", "stale", "none")


def node_dir() -> Path:
    """Where the book's npm packages are installed (``build/node``)."""
    return paths.build_dir() / "node"


def output_dir(profile: str) -> Path:
    """Jupyter Book's output folder for a profile."""
    return paths.build_dir() / "book" / profile


def html_dir(profile: str) -> Path:
    """The built HTML site of a profile."""
    return output_dir(profile) / "_build" / "html"


# ------------------------------------------------------------------------- MathJax

def ensure_mathjax(echo: Callable[..., None] = print) -> Path:
    """Install the pinned MathJax into ``build/node`` if needed; return its es5 folder."""
    package = node_dir() / "node_modules" / "mathjax"
    manifest = package / "package.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("version") == MATHJAX_VERSION:
        return package / "es5"
    npm = shutil.which("npm")
    if npm is None:
        raise BookError("npm is not installed, and the book needs it once to install "
                        f"MathJax {MATHJAX_VERSION} for offline math: install Node.js "
                        "(Debian/Ubuntu: `apt-get install nodejs npm`; macOS: "
                        "`brew install node`) and run the command again")
    echo(f"installing MathJax {MATHJAX_VERSION} into {node_dir()} (npm) ...", flush=True)
    node_dir().mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(node_dir()), "--no-audit", "--no-fund",
         "--loglevel=error", f"mathjax@{MATHJAX_VERSION}"],
        capture_output=True, text=True)
    if done.returncode != 0 or not (package / "es5" / "tex-mml-chtml.js").exists():
        raise BookError(f"npm could not install mathjax@{MATHJAX_VERSION}:\n"
                        f"{done.stdout}{done.stderr}\nIs the npm registry reachable?")
    return package / "es5"


# -------------------------------------------------------------------------- checks

def stale_chapters(chapters: list[Chapter], profile: str) -> list[Chapter]:
    """Chapters whose executed notebook is missing, failed, or older than the source."""
    stats_file = paths.executed_dir(profile) / "stats.json"
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    stale = []
    for chapter in chapters:
        run = stats.get(chapter.name, {})
        if (not chapter.executed.exists() or run.get("status") != "ok"
                or chapter.executed.stat().st_mtime < chapter.source.stat().st_mtime):
            stale.append(chapter)
    return stale


def check_executed(chapters: list[Chapter], profile: str) -> list[Problem]:
    """Everything in the executed chapters that keeps them out of the book."""
    problems = []
    stats_file = paths.executed_dir(profile) / "stats.json"
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    for chapter in chapters:
        fix = f"run `course run {chapter.name} --profile {profile}`"
        run = stats.get(chapter.name, {})
        if not chapter.executed.exists():
            problems.append(Problem(chapter.name, 0, "not executed", fix))
            continue
        if run.get("status") != "ok":
            reason = run.get("error") or "no record in stats.json"
            problems.append(Problem(chapter.name, 0, "failed", f"{reason} ({fix})"))
            continue
        if chapter.executed.stat().st_mtime < chapter.source.stat().st_mtime:
            problems.append(Problem(chapter.name, 0, "stale",
                                    f"the source changed after it was executed; {fix}"))
            continue
        nb = nbformat.read(chapter.executed, as_version=4)
        problems += scan_notebook(nb, chapter.name)
    return problems


def format_problems(title: str, problems: list[Problem]) -> str:
    """A readable report: one line per problem, then how to fix each kind."""
    lines = [title] + [f"  {p}" for p in problems]
    hints = fix_hint(p for p in problems if p.cell)
    return "\n".join(lines) + ("\n" + hints if hints else "")


# ------------------------------------------------------------------------ building

def run_jupyter_book(source: Path, output: Path) -> tuple[int, str]:
    """``jupyter-book build`` with warnings as errors; return (exit code, log)."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book) if jupyter_book.exists() else "jupyter-book", "build",
               str(source), "--path-output", str(output), "--builder", "html",
               "-W", "-n", "--keep-going", "--all"]
    done = subprocess.run(command, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def _warnings(log: str) -> list[str]:
    return [line.strip() for line in log.splitlines()
            if "WARNING:" in line or "ERROR:" in line or "CRITICAL:" in line]


def build_book(profile: str | None = None, execute: str = "all",
               echo: Callable[..., None] = print) -> Path:
    """Execute, check, assemble and build the book; return its ``index.html``.

    Parameters
    ----------
    profile
        ``ci``, ``book`` or ``full`` (default: ``$COURSE_PROFILE`` or ``book``).
    execute
        ``"all"``: execute every chapter first; ``"stale"``: only those missing,
        failed or older than their source; ``"none"``: use the executed
        notebooks as they are.

    Raises
    ------
    BookError
        With a message naming the chapter, cell or page, and the fix.
    """
    profile = resolve_profile_name(profile)
    if execute not in EXECUTE_MODES:
        raise ValueError(f"execute must be one of {EXECUTE_MODES}, not {execute!r}")
    chapters = find_chapters(profile)
    if not chapters:
        raise BookError(f"no chapter found: the book needs notebooks/NN_name.md files "
                        f"in {paths.notebooks_dir()}")

    to_run = {"all": chapters, "stale": stale_chapters(chapters, profile),
              "none": []}[execute]
    if to_run:
        from course_tools.runner import format_table, run_chapters

        runs = run_chapters([c.name for c in to_run], profile, echo=echo)
        echo(format_table(runs), flush=True)

    problems = check_executed(chapters, profile)
    if problems:
        raise BookError(format_problems(
            f"{len(problems)} problem(s) keep the executed chapters out of the book:",
            problems))

    es5 = ensure_mathjax(echo)
    assembly = assemble(profile, chapters, es5)
    _report_assembly(assembly, echo)

    output = output_dir(profile)
    if output.exists():
        shutil.rmtree(output)  # no page of an earlier build may survive
    echo(f"building the book with Jupyter Book into {output} ...", flush=True)
    code, log = run_jupyter_book(assembly.source_dir, output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "build.log").write_text(log)
    warnings = _warnings(log)
    index = html_dir(profile) / "index.html"
    if code != 0 or warnings or not index.exists():
        shown = "\n".join(f"  {w}" for w in warnings[:40]) or log[-3000:]
        raise BookError(f"jupyter-book build failed (exit status {code}, "
                        f"{len(warnings)} warning(s)); full log: {output / 'build.log'}\n"
                        f"{shown}")

    missing = [p for p in assembly.pages if not (html_dir(profile) / f"{p}.html").exists()]
    if missing:
        raise BookError(f"pages missing from the built book: {', '.join(missing)}")
    external = scan_html(html_dir(profile))
    if external:
        raise BookError(format_problems(
            "pages of the built book load files from other hosts (they must work "
            "offline):", external))
    return index


def _report_assembly(assembly: Assembly, echo: Callable[..., None]) -> None:
    echo(f"assembled {len(assembly.chapters)} chapter(s) into {assembly.source_dir}",
         flush=True)
    if assembly.injected_install_cell:
        echo("  added the hidden install cell (missing in the source) to: "
             + ", ".join(assembly.injected_install_cell), flush=True)
    if assembly.noise_lines_removed:
        echo(f"  dropped {assembly.noise_lines_removed} unavoidable stderr line(s) "
             "(see course_tools.book.check.UNAVOIDABLE_STDERR)", flush=True)
