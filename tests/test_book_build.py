"""Build a small book from two test chapters, and check the build and its checks.

The chapters are tests/fixtures/book/notebooks/*.md, in a temporary course
folder (``COURSE_HOME``) with a copy of book/: they are executed by the course's
runner and built by ``course_tools.book.build.build_book`` exactly as the real
book is. Independent of the course's own chapters, so it tests the machinery.
"""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from course_utils import paths
from course_tools.book.assemble import INSTALL_MARKER, BookError, source_dir
from course_tools.book.build import build_book
from course_tools.book.check import scan_html

sys.path.insert(0, str(Path(__file__).parent / "browser"))
import book_harness as harness  # noqa: E402

pytestmark = pytest.mark.book
ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "book"
# The publisher's settings for this test book (the real book takes them from
# $COURSE_REPOSITORY_URL / the git remote, and $COURSE_JUPYTERHUB_URL).
REPOSITORY = "https://github.com/example-org/example-course"
HUB = "https://hub.example.edu"
URL_PATTERNS = harness.launch_patterns(REPOSITORY, HUB)


@pytest.fixture(scope="module")
def course_home(tmp_path_factory):
    """A course folder with the two test chapters and a copy of book/."""
    home = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "book", home / "book")
    shutil.copytree(FIXTURES / "notebooks", home / "notebooks")
    shared_node = ROOT / "build" / "node"  # MathJax and playwright-core, installed once
    shared_node.mkdir(parents=True, exist_ok=True)
    (home / "build").mkdir()
    (home / "build" / "node").symlink_to(shared_node, target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_HOME", str(home))
        mp.setenv("COURSE_REPOSITORY_URL", REPOSITORY)
        mp.setenv("COURSE_JUPYTERHUB_URL", HUB)
        yield home


@pytest.fixture(scope="module")
def built(course_home):
    index = build_book("ci", execute="stale", echo=lambda *a, **k: None)
    return index.parent


def test_book_is_built_from_the_chapters_without_configuration(built):
    src = source_dir("ci")
    toc = yaml.safe_load((src / "_toc.yml").read_text())
    chapters = [c["file"] for c in toc["parts"][0]["chapters"]]
    assert chapters == [f"notebooks/{p.stem}" for p in paths.chapters()]
    about = [c["file"] for c in toc["parts"][1]["chapters"]]
    book = paths.repo_root() / "book"
    instructors = ["instructors"] if (book / "instructors.md").exists() else []
    extra = sorted(p.stem for p in book.glob("*.md")
                   if p.stem not in ("index", "instructors", "errata", "execution_stats",
                                     "bibliography", "README"))
    assert about == [*instructors, *extra, "errata", "execution_stats", "bibliography"]
    for page in ["index", "errata", "execution_stats", "bibliography", *chapters]:
        assert (built / f"{page}.html").exists(), page


def test_chapters_carry_the_hidden_install_cell_into_the_download(built):
    for chapter in paths.chapters():
        download = built / "_sources" / "notebooks" / f"{chapter.stem}.ipynb"
        nb = nbformat.read(download, as_version=4)
        first = nb.cells[0]
        assert INSTALL_MARKER in first.source and "remove-cell" in first.metadata.tags
        assert "course_utils" not in (built / "notebooks" / f"{chapter.stem}.html").read_text()


def test_stats_page_shows_every_chapter_run(built):
    stats = json.loads((paths.executed_dir("ci") / "stats.json").read_text())
    page = (source_dir("ci") / "execution_stats.md").read_text()
    for chapter in paths.chapters():
        run = stats[chapter.stem]
        row = next(line for line in page.splitlines() if f"{chapter.stem}.ipynb" in line)
        assert f"| {run['wall_s']:,.1f} |" in row and f"| {run['status']} |" in row
    assert (built / "_images").exists()  # the chart


def test_site_serves_mathjax_itself_and_needs_no_other_host(built):
    assert (built / "mathjax" / "tex-mml-chtml.js").exists()
    assert list((built / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    html = (built / "notebooks" / "00_first.html").read_text()
    assert re.search(r'src="[./]*_static/\.\./mathjax/tex-mml-chtml\.js', html)
    assert scan_html(built) == []


def test_every_page_passes_the_browser_checks(built, course_home):
    pages = harness.page_specs(built, source_dir("ci"))
    shots = [{"path": "index.html", "file": str(course_home / "index.png")},
             {"path": "notebooks/00_first.html", "file": str(course_home / "chapter.png")}]
    report = harness.run_checks(built, pages, shots, URL_PATTERNS,
                                paths.build_dir() / "node", course_home / "browser",
                                repository_url=REPOSITORY, jupyterhub_url=HUB)
    assert report["failures"] == []
    assert set(URL_PATTERNS) == {"Binder", "Colab", "JupyterHub"}
    chapter = next(p for p in report["pages"] if p["path"] == "notebooks/00_first.html")
    assert chapter["math"] >= 2 and chapter["images"] >= 1 and chapter["solutions"] == 1
    assert all(Path(s["file"]).stat().st_size > 10_000 for s in shots)


def test_browser_checks_catch_a_broken_page(built, course_home):
    """The checks are not vacuous: a page with every fault is reported for each."""
    broken = course_home / "broken-site"
    shutil.copytree(built, broken)
    page = broken / "notebooks" / "01_second.html"
    html = page.read_text()
    faults = ('<p>raw math \\(x^2\\) left</p><img src="missing.png">'
              '<a href="nowhere.html">x</a><a href="00_first.html#no-such-anchor">y</a>'
              '<div class="cell_output"><div class="output traceback">Traceback</div></div>'
              '<script src="https://cdn.example.org/x.js"></script>'
              '<a href="https://mybinder.org/v2/gh/someone/else/HEAD">launch</a>')
    page.write_text(html.replace("</article>", faults + "</article>", 1))
    specs = [{"path": "notebooks/01_second.html", "heading": "Not this heading", "chapter": True}]
    report = harness.run_checks(broken, specs, [], URL_PATTERNS,
                                paths.build_dir() / "node", course_home / "browser",
                                repository_url=REPOSITORY, jupyterhub_url=HUB)
    text = "\n".join(report["failures"])
    for expected in ["heading is", "image did not load: missing.png", "raw TeX left",
                     "error output shown", "broken link to", "no-such-anchor",
                     "another host: https://cdn.example.org/x.js",
                     "unconfigured host: https://mybinder.org/v2/gh/someone/else"]:
        assert expected in text, (expected, text)


def test_a_warning_in_a_stored_output_keeps_the_chapter_out(built):
    executed = paths.executed_dir("ci") / "01_second.ipynb"
    original = executed.read_text()
    nb = nbformat.reads(original, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code" and "print" in c.source)
    code.outputs.append(nbformat.v4.new_output(
        "stream", name="stderr", text="/x.py:1: FutureWarning: this will change\n"))
    nbformat.write(nb, executed)
    try:
        with pytest.raises(BookError, match=r"01_second, cell \d+: warning: .*FutureWarning"):
            build_book("ci", execute="none", echo=lambda *a, **k: None)
    finally:
        executed.write_text(original)


def test_a_sphinx_warning_fails_the_build(built, course_home):
    page = course_home / "book" / "broken_page.md"
    page.write_text("# A broken page\n\nA link to [nothing](no_such_page.md).\n")
    try:
        with pytest.raises(BookError, match="no_such_page"):
            build_book("ci", execute="none", echo=lambda *a, **k: None)
    finally:
        page.unlink()
