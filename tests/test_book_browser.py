"""The course's book, built at the ci profile, checked page by page in Chromium.

The book is built (``course book --profile ci --execute-stale``: only chapters
not yet executed at ci run) unless the one in ``build/book/ci`` is newer than
everything it is made from. Every page is then loaded in headless Chromium
(Debian's package; see tests/browser/book_harness.py) from a server on
127.0.0.1, and must pass tests/browser/check_book.mjs: title and heading,
images loaded, math typeset offline, no error output, internal links that
resolve, solutions collapsed, download and launch buttons on chapters.
Screenshots of two pages are saved under build/screenshots/ci/.

`make test` checks the ci book; to check the book `make book` built, run
``COURSE_BROWSER_PROFILE=book .venv/bin/pytest tests -m book``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

import course_tools.book
from course_utils import paths
from course_tools.book.assemble import (JUPYTERHUB_ENV, book_dir, load_config,
                                        repository_url, source_dir)
from course_tools.book.build import build_book, html_dir, node_dir

sys.path.insert(0, str(Path(__file__).parent / "browser"))
import book_harness as harness  # noqa: E402

pytestmark = pytest.mark.book
PROFILE = os.environ.get("COURSE_BROWSER_PROFILE", "ci")


def _newest_input() -> float:
    inputs = [*paths.executed_dir(PROFILE).glob("*"), *paths.chapters(),
              *book_dir().rglob("*"), *Path(course_tools.book.__file__).parent.glob("*.py")]
    return max(p.stat().st_mtime for p in inputs if p.is_file())


@pytest.fixture(scope="module")
def book() -> Path:
    """The built HTML of the ci book (rebuilt when anything it is made of changed)."""
    index = html_dir(PROFILE) / "index.html"
    if not index.exists() or index.stat().st_mtime < _newest_input():
        build_book(PROFILE, execute="stale")
    return html_dir(PROFILE)


def test_every_page_of_the_book_passes_the_browser_checks(book):
    pages = harness.page_specs(book, source_dir(PROFILE))
    chapters = [p for p in pages if p["chapter"]]
    toc = yaml.safe_load((source_dir(PROFILE) / "_toc.yml").read_text())
    in_toc = [f"{c['file']}.html" for c in toc["parts"][0]["chapters"]]
    assert [c["path"] for c in chapters] == in_toc, "every chapter is a page of the book"
    shots_dir = paths.build_dir() / "screenshots" / PROFILE
    shots_dir.mkdir(parents=True, exist_ok=True)
    shots = [{"path": "index.html", "file": str(shots_dir / "index.png")},
             {"path": chapters[0]["path"], "file": str(shots_dir / "first-chapter.png")}]
    url, hub = repository_url(load_config()), os.environ.get(JUPYTERHUB_ENV) or None
    launch = harness.launch_patterns(url, hub)
    report = harness.run_checks(book, pages, shots, launch, node_dir(),
                                paths.build_dir() / "browser" / PROFILE,
                                repository_url=url, jupyterhub_url=hub)
    assert not report["failures"], "\n".join(report["failures"])
    assert sorted(p["path"] for p in report["pages"]) == sorted(p["path"] for p in pages)
    for shot in shots:
        assert Path(shot["file"]).stat().st_size > 10_000, shot
