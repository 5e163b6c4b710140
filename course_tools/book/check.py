"""Check what the book will show: no warnings, no tracebacks, no outside URLs.

Two checks, both run by ``course book`` (and by ``course book check``):

:func:`scan_notebook`
    looks at the stored outputs of an executed chapter. A cell's output fails
    the check when it is an error (unless the cell is tagged
    ``raises-exception``), when anything is written to stderr (warnings,
    tracebacks, framework log lines), when it carries a progress bar (``\\r`` or
    backspaces in the text) or a widget (which needs JavaScript from a CDN).
    A few stderr lines that no setting can turn off are listed in
    :data:`UNAVOIDABLE_STDERR`; the book drops them (see :func:`strip_noise`)
    instead of failing.
:func:`scan_html`
    looks at the built site: a page must not need anything from another host
    (scripts, stylesheets, images, fonts, frames). Plain links to other sites
    (a paper's DOI, the repository) are fine: the page renders without them.

Example
-------
>>> import nbformat
>>> nb = nbformat.v4.new_notebook()
>>> cell = nbformat.v4.new_code_cell("import warnings; warnings.warn('x')")
>>> cell.outputs = [nbformat.v4.new_output("stream", name="stderr",
...                                        text="<ipython>:1: UserWarning: x\\n")]
>>> nb.cells.append(cell)
>>> [p.kind for p in scan_notebook(nb, "03_evaluation")]
['warning']
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable

import nbformat

#: Tag of a cell that raises on purpose (its error output is part of the lesson).
RAISES_TAG = "raises-exception"

#: stderr lines that cannot be switched off; the book drops them (regex, reason).
UNAVOIDABLE_STDERR: tuple[tuple[str, str], ...] = (
    (r"^WARNING: Using incubator modules: jdk\.incubator\.vector\s*$",
     "printed by the JVM that Spark 4 starts with the Vector API module; no "
     "Spark or Java setting removes it (see shared STACK_NOTES, Spark)"),
)
_UNAVOIDABLE = [re.compile(pattern) for pattern, _ in UNAVOIDABLE_STDERR]

_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class Problem:
    """One output that must not appear in the book."""

    chapter: str
    cell: int  # 1-based position of the cell in the notebook
    kind: str  # error, traceback, warning, stderr, progress-bar, widget, external-url
    excerpt: str

    def __str__(self) -> str:
        where = f"{self.chapter}, cell {self.cell}" if self.cell else self.chapter
        return f"{where}: {self.kind}: {self.excerpt}"


def _text(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _excerpt(text: str, limit: int = 160) -> str:
    text = _ANSI.sub("", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # The most telling line: a warning's or error's own line, else the first.
    for line in lines:
        if re.search(r"warn|error|exception|traceback", line, re.IGNORECASE):
            return line[:limit]
    return (lines[0] if lines else repr(text))[:limit]


def is_unavoidable(line: str) -> bool:
    """True for a stderr line listed in :data:`UNAVOIDABLE_STDERR`."""
    return any(p.search(line) for p in _UNAVOIDABLE)


def classify_stderr(text: str) -> str | None:
    """The kind of problem a stderr text is, or ``None`` when it is only unavoidable noise."""
    remaining = "\n".join(line for line in text.splitlines()
                          if line.strip() and not is_unavoidable(line))
    if not remaining:
        return None
    if "Traceback (most recent call last)" in remaining:
        return "traceback"
    if re.search(r"warn", remaining, re.IGNORECASE):
        return "warning"
    return "stderr"


def scan_notebook(nb: nbformat.NotebookNode, chapter: str) -> list[Problem]:
    """Problems in the stored outputs of one executed notebook.

    Parameters
    ----------
    nb
        The executed notebook (as read by :func:`nbformat.read`).
    chapter
        Its name, used in the messages (e.g. ``"03_evaluation"``).

    Returns
    -------
    list of Problem
        Empty when the notebook may go into the book.
    """
    problems = []
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        for output in cell.get("outputs", []):
            kind, text = None, ""
            if output.output_type == "error":
                if RAISES_TAG not in tags:
                    kind = "error"
                    text = f"{output.get('ename', '')}: {output.get('evalue', '')}"
            elif output.output_type == "stream":
                text = _text(output.get("text", ""))
                if output.get("name") == "stderr":
                    kind = classify_stderr(text)
                elif "\r" in text.rstrip("\n") or "\x08" in text:
                    kind = "progress-bar"
            elif _WIDGET_MIME in output.get("data", {}):
                kind, text = "widget", "an ipywidgets output (a tqdm.auto bar?)"
            if kind:
                problems.append(Problem(chapter, index, kind, _excerpt(text)))
    return problems


def strip_noise(nb: nbformat.NotebookNode) -> int:
    """Drop :data:`UNAVOIDABLE_STDERR` lines from ``nb`` in place; return how many."""
    removed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.get("name") == "stderr":
                lines = _text(output.text).splitlines(keepends=True)
                clean = [line for line in lines if not is_unavoidable(line)]
                removed += len(lines) - len(clean)
                if not "".join(clean).strip():
                    continue
                output.text = "".join(clean)
            kept.append(output)
        cell.outputs = kept
    return removed


def fix_hint(problems: Iterable[Problem]) -> str:
    """What to do about a list of problems, one line per kind present."""
    kinds = {p.kind for p in problems}
    hints = {
        "error": "a cell raised: fix it, or tag it `raises-exception` if it raises on purpose",
        "traceback": "a traceback was printed to stderr: fix the cause",
        "warning": "fix the cause of the warning; if a library's warning cannot be "
                   "fixed, filter that exact warning in the module, with a comment saying why",
        "stderr": "something wrote to stderr (framework logs?): quiet it "
                  "(course_utils.hygiene, Keras verbose=0/2, course_tools.spark_session)",
        "progress-bar": "a progress bar was stored: use verbose=0 or 2 in Keras fit, "
                        "disable tqdm bars in stored outputs",
        "widget": "a widget was stored: widgets need JavaScript from the internet; "
                  "print text instead (tqdm: use the plain tqdm, or disable it)",
        "external-url": "a page loads something from another host: serve it from the site",
    }
    return "\n".join(f"  fix ({kind}): {hints[kind]}" for kind in sorted(kinds))


# --------------------------------------------------------------------------- HTML

# Elements and attributes that make a browser fetch something to render a page.
_RESOURCE_ATTRS = {
    "script": ("src",), "img": ("src", "srcset"), "iframe": ("src",),
    "source": ("src", "srcset"), "video": ("src", "poster"), "audio": ("src",),
    "embed": ("src",), "object": ("data",), "input": ("src",), "track": ("src",),
}
# <link rel=...> values that are fetched (stylesheet, icon, preload, ...).
_FETCHED_LINK_RELS = {"stylesheet", "icon", "shortcut", "preload", "modulepreload",
                      "prefetch", "preconnect", "dns-prefetch", "manifest",
                      "apple-touch-icon", "mask-icon"}
_EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*['"]?((?:https?:)?//[^'")\s]+)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+['"]((?:https?:)?//[^'"]+)""", re.IGNORECASE)


class _ResourceFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.external: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: (v or "") for k, v in attrs}
        names = _RESOURCE_ATTRS.get(tag, ())
        if tag == "link":
            rels = set(values.get("rel", "").lower().split())
            if rels & _FETCHED_LINK_RELS:
                names = ("href",)
        for name in names:
            for url in values.get(name, "").split(","):
                url = url.strip().split(" ")[0]
                if url and _EXTERNAL.match(url):
                    self.external.append(f"<{tag} {name}={url}>")
        if "style" in values:
            self.external += [f"style url({u})" for u in _CSS_URL.findall(values["style"])]
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.external += [f"<style> url({u})" for u in external_css_urls(data)]


def external_css_urls(css: str) -> list[str]:
    """URLs on other hosts that a stylesheet's ``url(...)``/``@import`` would fetch."""
    return _CSS_URL.findall(css) + _CSS_IMPORT.findall(css)


def external_resources(html: str) -> list[str]:
    """Resources on other hosts that an HTML page needs to render.

    >>> external_resources('<script src="https://cdn.example.org/x.js"></script>'
    ...                    '<a href="https://doi.org/10.1/x">paper</a>')
    ['<script src=https://cdn.example.org/x.js>']
    """
    finder = _ResourceFinder()
    finder.feed(html)
    return finder.external


def scan_html(html_dir: Path) -> list[Problem]:
    """Every page or stylesheet of a built site that needs another host."""
    problems = []
    for path in sorted(html_dir.rglob("*")):
        if path.suffix not in (".html", ".css") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found = external_resources(text) if path.suffix == ".html" else external_css_urls(text)
        rel = path.relative_to(html_dir).as_posix()
        problems += [Problem(rel, 0, "external-url", url) for url in sorted(set(found))]
    return problems
