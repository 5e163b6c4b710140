"""Assemble the book's source folder from the front matter and the executed chapters.

Jupyter Book reads ``build/book_src/<profile>/``, which this module writes from

- ``book/``: the configuration, the landing page, the bibliography, the
  instructor page (when it exists) and any other front-matter page;
- ``book/errata.md`` followed by every fragment ``book/errata/*.md``;
- the chapters as papermill executed them, ``build/executed/<profile>/NN_name.ipynb``
  (one per ``notebooks/NN_name.md``: a new chapter needs no configuration);
- a generated ``_toc.yml`` and execution-statistics page.

On the way, each chapter gets what the book needs and the run did not: the
papermill ``injected-parameters`` cell is hidden, the install cell (the
chapter's first cell, hidden in the book; see :func:`install_cell_source`) is
checked or added, and unavoidable JVM noise is dropped
(:func:`course_tools.book.check.strip_noise`). In the front-matter pages, a
chapter's file name in backticks (`` `03_evaluation` ``) becomes a link to it.

Example
-------
>>> print(install_cell_source("https://github.com/org/repo").splitlines()[-1].strip())
"git+https://github.com/org/repo.git"], check=True)
"""
from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

from course_utils import paths
from course_tools.book import stats as stats_page
from course_tools.book.check import strip_noise

#: The tag that hides a cell (input and output) in Jupyter Book.
HIDDEN_TAG = "remove-cell"
#: The line by which an install cell is recognised.
INSTALL_MARKER = 'importlib.util.find_spec("course_utils") is None'
#: Front-matter pages with a fixed place in the table of contents.
FIXED_PAGES = ("index", "errata", "execution_stats", "bibliography")
#: Files of book/ that are not copied as they are.
NOT_COPIED = {"errata", "errata.md", "_toc.yml", "README.md", "__pycache__"}


class BookError(RuntimeError):
    """The book cannot be assembled or built; the message says what to do."""


@dataclass
class Chapter:
    """One chapter as the book sees it."""

    name: str  # "03_evaluation"
    source: Path  # notebooks/03_evaluation.md
    executed: Path  # build/executed/<profile>/03_evaluation.ipynb
    title: str = ""

    @property
    def docname(self) -> str:
        """Its document name in the book (no suffix)."""
        return f"notebooks/{self.name}"

    @property
    def label(self) -> str:
        """``"03 Evaluating recommenders"``: number and title, for links."""
        number = self.name.split("_", 1)[0]
        return f"{number} {self.title}" if self.title else self.name


@dataclass
class Assembly:
    """What :func:`assemble` wrote."""

    source_dir: Path
    chapters: list[Chapter]
    pages: list[str]
    injected_install_cell: list[str] = field(default_factory=list)
    noise_lines_removed: int = 0


# ----------------------------------------------------------------- configuration

def book_dir() -> Path:
    """The front matter and configuration: ``book/`` in the repository."""
    return paths.repo_root() / "book"


def source_dir(profile: str) -> Path:
    """Where the assembled sources of a profile's book go."""
    return paths.build_dir() / "book_src" / profile


#: The publisher's settings: the book's repository and an institution's JupyterHub.
REPOSITORY_ENV = "COURSE_REPOSITORY_URL"
JUPYTERHUB_ENV = "COURSE_JUPYTERHUB_URL"
_GITHUB = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+")


def load_config(book: Path | None = None) -> dict[str, Any]:
    """``book/_config.yml`` as a dict, with the repository URL checked where one is set."""
    config_file = (book or book_dir()) / "_config.yml"
    if not config_file.exists():
        raise BookError(f"{config_file} is missing: the book's configuration lives there")
    config = yaml.safe_load(config_file.read_text()) or {}
    url = str((config.get("repository") or {}).get("url") or "")
    if url and not _GITHUB.fullmatch(url.rstrip("/")):
        raise BookError(f"{config_file}: repository.url must be a GitHub repository "
                        f"URL like https://github.com/owner/name, or empty (got {url!r})")
    return config


def github_url(remote: str) -> str | None:
    """``https://github.com/owner/name`` for a GitHub remote (HTTPS or SSH), else None.

    >>> github_url("git@github.com:owner/name.git")
    'https://github.com/owner/name'
    >>> github_url("https://github.com/owner/name.git"), github_url("/srv/git/course")
    ('https://github.com/owner/name', None)
    """
    remote = remote.strip()
    ssh = re.fullmatch(r"(?:ssh://)?git@github\.com[:/]([\w.-]+)/([\w.-]+?)(?:\.git)?/?", remote)
    if ssh:
        return f"https://github.com/{ssh.group(1)}/{ssh.group(2)}"
    https = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", remote)
    return f"https://github.com/{https.group(1)}/{https.group(2)}" if https else None


def _origin_url() -> str | None:
    """The checkout's ``origin`` remote, when it is on GitHub."""
    try:
        done = subprocess.run(["git", "-C", str(paths.repo_root()), "remote", "get-url",
                               "origin"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return github_url(done.stdout) if done.returncode == 0 else None


def repository_url(config: dict[str, Any]) -> str | None:
    """The book's repository: the one setting the buttons and install cell derive from.

    In order: ``$COURSE_REPOSITORY_URL`` (the publisher's setting), ``repository.url``
    in ``book/_config.yml``, the checkout's ``origin`` remote when it is on GitHub.
    None when there is none of these: the book is then built without repository and
    launch buttons, rather than with buttons that point at a repository that does
    not exist.
    """
    setting = os.environ.get(REPOSITORY_ENV, "").strip()
    if setting:
        if not _GITHUB.fullmatch(setting.rstrip("/")):
            raise BookError(f"${REPOSITORY_ENV} must be a GitHub repository URL like "
                            f"https://github.com/owner/name (got {setting!r})")
        return setting.rstrip("/")
    url = str((config.get("repository") or {}).get("url") or "").rstrip("/")
    return url or _origin_url()


def install_cell_source(url: str) -> str:
    """The first cell of every chapter: install course_utils outside the repository.

    Inside a checkout (the repository's virtual environment, or a Binder or
    JupyterHub image built from it) ``course_utils`` is importable and the cell
    does nothing. Elsewhere (Colab, a bare Jupyter) it installs the package from
    the repository. It is tagged ``remove-cell``, so the book does not show it.
    """
    return (
        "# Outside the course's repository (Colab, a bare Jupyter), install its helper\n"
        "# package course_utils; inside the repository this cell does nothing.\n"
        "import importlib.util, subprocess, sys\n"
        "\n"
        f"if {INSTALL_MARKER}:\n"
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",\n'
        f'                    "git+{url}.git"], check=True)'
    )


# ---------------------------------------------------------------------- chapters

def chapter_title(nb: nbformat.NotebookNode) -> str:
    """The text of the notebook's first ``# `` heading ("" when there is none)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def find_chapters(profile: str, names: list[str] | None = None) -> list[Chapter]:
    """The chapters of the book: every ``notebooks/NN_name.md``, in reading order."""
    from course_tools.runner import resolve_chapters

    return [Chapter(src.stem, src, paths.executed_dir(profile) / f"{src.stem}.ipynb")
            for src in resolve_chapters(names)]


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return cell.setdefault("metadata", {}).setdefault("tags", [])


def ensure_install_cell(nb: nbformat.NotebookNode, url: str | None, chapter: str) -> bool:
    """Make sure the install cell is present, hidden and names ``url``.

    Returns True when the cell had to be added (the chapter's source lacks it).
    A cell naming another repository is an error: the URL has one home
    (:func:`repository_url`). Without a repository there is nothing to install
    from, and no cell is added.
    """
    if url is None:
        return False
    for cell in nb.cells:
        if cell.cell_type == "code" and INSTALL_MARKER in cell.source:
            if f"git+{url}.git" not in cell.source:
                raise BookError(
                    f"{chapter}: its install cell does not install from {url} "
                    "(repository.url in book/_config.yml); copy the cell text from "
                    "course_tools.book.assemble.install_cell_source")
            if HIDDEN_TAG not in _tags(cell):
                _tags(cell).append(HIDDEN_TAG)
            return False
    cell = nbformat.v4.new_code_cell(install_cell_source(url))
    cell.metadata["tags"] = [HIDDEN_TAG]
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        cell.pop("id", None)  # cell ids exist from format 4.5 on
    nb.cells.insert(0, cell)
    return True


_MD_CHAPTER_LINK = re.compile(r"\]\((?:\./)?(\d\d_[A-Za-z0-9_]+)\.md(#[^)\s]*)?\)")


def retarget_chapter_links(text: str) -> str:
    """Point links between chapters at the notebooks the book renders.

    In the sources, a chapter links to another as ``[text](04_matrix_factorization.md)``
    (which works in JupyterLab); in the book that chapter is an ``.ipynb``.

    >>> retarget_chapter_links("see [MF](04_mf.md#als) and [x](https://a.org/b.md)")
    'see [MF](04_mf.ipynb#als) and [x](https://a.org/b.md)'
    """
    return _MD_CHAPTER_LINK.sub(lambda m: f"]({m.group(1)}.ipynb{m.group(2) or ''})", text)


_ERRATA_LINK = re.compile(r"\[([^\]]+)\]\(\.\./book/errata/([A-Za-z0-9_-]+)\.md\)")


def retarget_errata_links(text: str) -> str:
    """Point a chapter's links to an errata fragment at its section of the errata page.

    In the sources a chapter links to ``[text](../book/errata/ndcg.md)`` (the file,
    which JupyterLab opens); in the book that is a section of one errata page, labelled
    ``errata-<fragment>`` by :func:`errata_page`.

    >>> retarget_errata_links("see [the erratum](../book/errata/ndcg.md).")
    'see {ref}`the erratum <errata-ndcg>`.'
    """
    return _ERRATA_LINK.sub(lambda m: f"{{ref}}`{m.group(1)} <errata-{m.group(2)}>`", text)


def prepare_chapter(nb: nbformat.NotebookNode, url: str | None, chapter: str) -> tuple[bool, int]:
    """Adapt an executed notebook for the book, in place.

    Returns (install cell injected?, stderr noise lines removed).
    """
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = retarget_errata_links(retarget_chapter_links(cell.source))
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            if HIDDEN_TAG not in _tags(cell):
                _tags(cell).append(HIDDEN_TAG)
    injected = ensure_install_cell(nb, url, chapter)
    removed = strip_noise(nb)
    return injected, removed


# -------------------------------------------------------------------- front matter

_CODE_SPAN = re.compile(r"`(\d\d_[A-Za-z0-9_]+)`")


def link_chapters(text: str, chapters: list[Chapter], prefix: str = "") -> str:
    """Turn `` `NN_name` `` into a link to that chapter, outside code fences.

    >>> ch = Chapter("03_evaluation", Path("x.md"), Path("x.ipynb"), "Evaluation")
    >>> link_chapters("see `03_evaluation` and `09_rnn`", [ch])
    'see [03 Evaluation](notebooks/03_evaluation.ipynb) and `09_rnn`'
    """
    by_name = {c.name: c for c in chapters}

    def replace(match: re.Match) -> str:
        chapter = by_name.get(match.group(1))
        if chapter is None:
            return match.group(0)
        return f"[{chapter.label}]({prefix}{chapter.docname}.ipynb)"

    out, fence = [], None
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        marker = re.match(r"(`{3,}|~{3,})", stripped)
        if marker:
            if fence is None:
                fence = marker.group(1)
            elif stripped.startswith(fence):
                fence = None
            out.append(line)
            continue
        out.append(line if fence else _CODE_SPAN.sub(replace, line))
    return "".join(out)


def errata_page(book: Path) -> str:
    """``book/errata.md`` followed by every fragment in ``book/errata/`` (sorted)."""
    head = (book / "errata.md").read_text().rstrip() + "\n"
    parts = [head]
    for fragment in sorted((book / "errata").glob("*.md")):
        if fragment.name.startswith(("_", ".")) or fragment.name == "README.md":
            continue
        text = fragment.read_text().strip()
        if not text.startswith("## "):
            raise BookError(f"{fragment}: an errata fragment must start with a "
                            "'## Title' heading (it becomes a section of the errata page)")
        parts.append(f"\n% --- from book/errata/{fragment.name}\n\n"
                     f"(errata-{fragment.stem})=\n{text}\n")
    return "".join(parts)


def _copy_front_matter(book: Path, target: Path) -> list[str]:
    """Copy book/ into target (except what is generated); return extra page names."""
    extra = []
    for item in sorted(book.iterdir()):
        if item.name in NOT_COPIED or item.name.startswith("."):
            continue
        if item.is_dir():
            shutil.copytree(item, target / item.name,
                            ignore=shutil.ignore_patterns(".*", "__pycache__"))
        else:
            shutil.copy2(item, target / item.name)
            if item.suffix == ".md" and item.stem not in FIXED_PAGES:
                extra.append(item.stem)
    return extra


def _copy_chapter_assets(target: Path) -> None:
    """Folders beside the chapters (images a chapter's markdown shows)."""
    for item in sorted(paths.notebooks_dir().iterdir()):
        if item.is_dir() and not item.name.startswith((".", "_")) \
                and item.name not in ("__pycache__", ".ipynb_checkpoints"):
            shutil.copytree(item, target / item.name,
                            ignore=shutil.ignore_patterns(".*", "__pycache__", "*.ipynb"))


def toc(chapters: list[Chapter], about: list[str]) -> dict[str, Any]:
    """The ``_toc.yml`` structure: the chapters, then the pages about the book."""
    return {
        "format": "jb-book",
        "root": "index",
        "parts": [
            {"caption": "Chapters", "chapters": [{"file": c.docname} for c in chapters]},
            {"caption": "About this book",
             "chapters": [{"file": page} for page in about]},
        ],
    }


def book_config(config: dict[str, Any], url: str | None) -> dict[str, Any]:
    """The configuration Jupyter Book gets: buttons only for what is configured.

    With a repository, its URL, the repository and issue buttons, Binder and Colab, and
    a JupyterHub button when ``$COURSE_JUPYTERHUB_URL`` is set. Without one, none of
    these: no button points at a host nobody configured.

    >>> plain = book_config({"html": {"use_repository_button": True},
    ...                      "launch_buttons": {"binderhub_url": "https://mybinder.org"}}, None)
    >>> plain["repository"]["url"], plain["html"]["use_repository_button"], plain["launch_buttons"]
    ('', False, {'binderhub_url': '', 'jupyterhub_url': '', 'colab_url': ''})
    """
    config = copy.deepcopy(config)
    launch = config.setdefault("launch_buttons", {})
    html = config.setdefault("html", {})
    config.setdefault("repository", {})["url"] = url or ""
    hub = os.environ.get(JUPYTERHUB_ENV, "").strip()
    launch["jupyterhub_url"] = hub if (hub and url) else ""
    if not url:
        for key in ("use_repository_button", "use_issues_button", "use_edit_page_button"):
            html[key] = False
        launch["binderhub_url"] = launch["colab_url"] = ""
    return config


def _write_config(config: dict[str, Any], target: Path) -> None:
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    target.write_text("# Generated from book/_config.yml by course_tools.book; "
                      "edit that file instead.\n" + text)


# ------------------------------------------------------------------------ assemble

def assemble(profile: str, chapters: list[Chapter], mathjax_es5: Path | None = None,
             target: Path | None = None) -> Assembly:
    """Write the book's source folder for ``profile`` and return what it holds.

    Parameters
    ----------
    profile
        The profile whose executed notebooks the book shows.
    chapters
        From :func:`find_chapters`; each must have been executed successfully.
    mathjax_es5
        The ``es5`` folder of the ``mathjax`` npm package, copied to the site's
        ``mathjax/`` folder (``None``: no offline MathJax, for tests).
    target
        The folder to write (default :func:`source_dir`); it is emptied first.
    """
    book = book_dir()
    config = load_config(book)
    url = repository_url(config)
    target = target or source_dir(profile)
    if target.exists():
        shutil.rmtree(target)
    (target / "notebooks").mkdir(parents=True)

    extra_pages = _copy_front_matter(book, target)
    _write_config(book_config(config, url), target / "_config.yml")
    _copy_chapter_assets(target / "notebooks")
    assembly = Assembly(target, chapters, [])

    for chapter in chapters:
        if not chapter.executed.exists():
            raise BookError(f"{chapter.name} has not been executed at this profile "
                            f"({chapter.executed} is missing): run `course run "
                            f"{chapter.name} --profile {profile}`")
        nb = nbformat.read(chapter.executed, as_version=4)
        chapter.title = chapter_title(nb)
        if not chapter.title:
            raise BookError(f"{chapter.source}: a chapter needs a '# Title' heading "
                            "(its title in the book)")
        injected, removed = prepare_chapter(nb, url, chapter.name)
        if injected:
            assembly.injected_install_cell.append(chapter.name)
        assembly.noise_lines_removed += removed
        nbformat.write(nb, target / "notebooks" / f"{chapter.name}.ipynb")

    (target / "errata.md").write_text(errata_page(book))
    _write_stats_page(profile, chapters, target)

    about = [p for p in ("instructors",) if p in extra_pages]
    about += sorted(p for p in extra_pages if p not in about)
    about += ["errata", "execution_stats", "bibliography"]
    for page in ["index", *about]:
        path = target / f"{page}.md"
        path.write_text(link_chapters(path.read_text(), chapters))
    (target / "_toc.yml").write_text(
        "# Generated by course_tools.book from the chapters in notebooks/.\n"
        + yaml.safe_dump(toc(chapters, about), sort_keys=False))
    if mathjax_es5 is not None:
        copy_mathjax(mathjax_es5, target / "_extra" / "mathjax")
    assembly.pages = ["index", *[c.docname for c in chapters], *about]
    return assembly


def _write_stats_page(profile: str, chapters: list[Chapter], target: Path) -> None:
    stats_file = paths.executed_dir(profile) / "stats.json"
    rows = stats_page.stats_rows(stats_page.load_stats(stats_file),
                                 [c.name for c in chapters], profile)
    has_chart = stats_page.chart(rows, target / "images" / "execution_times.png")
    links = {c.name: (c.label, f"{c.docname}.ipynb") for c in chapters}
    page = stats_page.stats_page(rows, profile, links,
                                 "images/execution_times.png" if has_chart else None)
    (target / "execution_stats.md").write_text(page)


# MathJax's es5 folder holds several combined builds; the book loads one.
_MATHJAX_SKIP = re.compile(r"^(?!tex-mml-chtml\.js$)[^/]+\.js$|^output/svg(\.js|/)")


def copy_mathjax(es5: Path, target: Path) -> None:
    """Copy the parts of MathJax's es5 build that ``tex-mml-chtml.js`` loads."""
    if not (es5 / "tex-mml-chtml.js").exists():
        raise BookError(f"{es5} is not MathJax 3's es5 folder (no tex-mml-chtml.js)")
    for path in sorted(es5.rglob("*")):
        rel = path.relative_to(es5).as_posix()
        if path.is_dir() or _MATHJAX_SKIP.match(rel):
            continue
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / rel)
    for name in ("LICENSE", "package.json"):
        if (es5.parent / name).exists():
            shutil.copy2(es5.parent / name, target / name)
