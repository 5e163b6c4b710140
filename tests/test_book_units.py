"""Fast tests of the book's assembly, checks and statistics (no Sphinx, no browser)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from course_utils import paths
from course_tools.book import assemble, check, stats
from course_tools.book.assemble import Chapter

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def _code_cell(source: str = "x = 1", tags: tuple[str, ...] = (), outputs=()) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    cell.outputs = list(outputs)
    return cell


def _stderr(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name="stderr", text=text)


def _notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A title\n\nText."), *cells]
    return nb


# ------------------------------------------------------------------- output checks

def test_clean_notebook_has_no_problem():
    out = nbformat.v4.new_output("stream", name="stdout", text="rmse 1.12\n")
    assert check.scan_notebook(_notebook(_code_cell(outputs=[out])), "03_x") == []


@pytest.mark.parametrize("text, kind", [
    ("/x.py:3: UserWarning: something odd\n  warnings.warn(...)\n", "warning"),
    ("WARNING:absl:Compiled the loaded model\n", "warning"),
    ("Traceback (most recent call last):\n  File ...\nValueError: x\n", "traceback"),
    ("24/11/28 12:00:01 INFO SparkContext: Running Spark\n", "stderr"),
])
def test_stderr_outputs_are_problems(text, kind):
    problems = check.scan_notebook(_notebook(_code_cell(outputs=[_stderr(text)])), "05_spark")
    assert [(p.chapter, p.cell, p.kind) for p in problems] == [("05_spark", 2, kind)]


def test_error_output_is_a_problem_unless_tagged_raises_exception():
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])
    assert [p.kind for p in check.scan_notebook(_notebook(_code_cell(outputs=[error])), "c")] \
        == ["error"]
    tagged = _code_cell(tags=("raises-exception",), outputs=[error])
    assert check.scan_notebook(_notebook(tagged), "c") == []


def test_progress_bars_and_widgets_are_problems():
    bar = nbformat.v4.new_output("stream", name="stdout", text="1/10 [==>...]\r2/10 [====>.]\n")
    widget = nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "bar"})
    kinds = [p.kind for p in check.scan_notebook(
        _notebook(_code_cell(outputs=[bar]), _code_cell(outputs=[widget])), "c")]
    assert kinds == ["progress-bar", "widget"]


def test_unavoidable_jvm_line_is_not_a_problem_and_is_stripped():
    line = "WARNING: Using incubator modules: jdk.incubator.vector\n"
    only_noise = _code_cell(outputs=[_stderr(line)])
    mixed = _code_cell(outputs=[_stderr(line + "some log line\n")])
    nb = _notebook(only_noise, mixed)
    assert [p.cell for p in check.scan_notebook(nb, "05")] == [3]
    assert check.strip_noise(nb) == 2
    assert nb.cells[1].outputs == []
    assert nb.cells[2].outputs[0].text == "some log line\n"


def test_external_resources_are_found_but_plain_links_are_not():
    html = """<html><head>
      <script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>
      <link rel="stylesheet" href="//fonts.example.org/a.css">
      <link rel="canonical" href="https://example.org/page.html">
      <style>body { background: url("https://img.example.org/bg.png") }</style>
      </head><body><a href="https://doi.org/10.1145/582415.582418">paper</a>
      <img src="_images/fig.png"><img srcset="a.png 1x, https://x.org/b.png 2x"></body></html>"""
    found = check.external_resources(html)
    assert found == ["<script src=https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js>",
                     "<link href=//fonts.example.org/a.css>",
                     "<style> url(https://img.example.org/bg.png)",
                     "<img srcset=https://x.org/b.png>"]


def test_scan_html_reports_pages_and_stylesheets(tmp_path):
    (tmp_path / "a.html").write_text('<img src="https://x.org/i.png">')
    (tmp_path / "s.css").write_text("@import 'https://x.org/f.css';")
    (tmp_path / "ok.html").write_text('<a href="https://x.org">x</a><script src="j.js"></script>')
    assert [(p.chapter, p.excerpt) for p in check.scan_html(tmp_path)] == [
        ("a.html", "<img src=https://x.org/i.png>"), ("s.css", "https://x.org/f.css")]


# --------------------------------------------------------------------- assembling

URL = "https://github.com/example-org/example-course"


def test_install_cell_does_nothing_inside_and_installs_outside(monkeypatch):
    source = assemble.install_cell_source(URL)
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a[0]))
    exec(compile(source, "install-cell", "exec"), {})  # course_utils is importable here
    assert calls == []

    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "course_utils" else real(name, *a))
    exec(compile(source, "install-cell", "exec"), {})
    assert calls == [[sys.executable, "-m", "pip", "install", "--quiet", f"git+{URL}.git"]]


def test_prepare_chapter_injects_hidden_install_cell_and_hides_parameters():
    injected = _code_cell('PROFILE = "ci"', tags=("injected-parameters",))
    nb = _notebook(_code_cell("PROFILE = 'book'", tags=("parameters",)), injected)
    assert assemble.prepare_chapter(nb, URL, "00_x") == (True, 0)
    first = nb.cells[0]
    assert first.cell_type == "code" and assemble.INSTALL_MARKER in first.source
    assert first.metadata.tags == ["remove-cell"]
    assert "remove-cell" in nb.cells[3].metadata.tags  # the injected parameters
    nbformat.validate(nb)


def test_present_install_cell_is_kept_and_a_foreign_url_refused():
    nb = _notebook(_code_cell(assemble.install_cell_source(URL)))
    assert assemble.ensure_install_cell(nb, URL, "00_x") is False
    assert nb.cells[1].metadata.tags == ["remove-cell"]
    other = _notebook(_code_cell(assemble.install_cell_source("https://github.com/a/b")))
    with pytest.raises(assemble.BookError, match="repository.url"):
        assemble.ensure_install_cell(other, URL, "00_x")


def test_links_between_chapters_point_at_notebooks():
    nb = _notebook()
    nb.cells[0].source = "See [MF](04_matrix_factorization.md#als) and [x](../README.md)."
    assemble.prepare_chapter(nb, URL, "05_x")
    text = nb.cells[1].source  # after the install cell
    assert "[MF](04_matrix_factorization.ipynb#als)" in text and "[x](../README.md)" in text


def test_chapter_names_become_links_outside_code_fences():
    ch = Chapter("03_evaluation", Path("03_evaluation.md"), Path("x.ipynb"), "Evaluating")
    text = "| `03_evaluation` | x |\n```bash\ncourse run `03_evaluation`\n```\n`04_mf` later\n"
    out = assemble.link_chapters(text, [ch])
    assert out.splitlines()[0] == "| [03 Evaluating](notebooks/03_evaluation.ipynb) | x |"
    assert "course run `03_evaluation`" in out and "`04_mf` later" in out


def test_errata_page_has_every_fragment_in_order():
    page = assemble.errata_page(BOOK)
    fragments = sorted(p for p in (BOOK / "errata").glob("*.md") if not p.name.startswith("_"))
    assert fragments, "book/errata/ holds the errata fragments"
    positions = [page.index(p.read_text().strip().splitlines()[0]) for p in fragments]
    assert positions == sorted(positions)
    assert page.startswith((BOOK / "errata.md").read_text().splitlines()[0])


def test_errata_fragment_without_heading_is_refused(tmp_path):
    (tmp_path / "errata").mkdir()
    (tmp_path / "errata.md").write_text("# Errata\n")
    (tmp_path / "errata" / "x.md").write_text("No heading here.\n")
    with pytest.raises(assemble.BookError, match="x.md.*## Title"):
        assemble.errata_page(tmp_path)


def test_toc_lists_chapters_then_pages_about_the_book():
    chapters = [Chapter(n, Path(f"{n}.md"), Path("x")) for n in ("00_a", "01_b")]
    toc = assemble.toc(chapters, ["instructors", "errata"])
    assert toc["root"] == "index"
    assert [c["file"] for c in toc["parts"][0]["chapters"]] == ["notebooks/00_a", "notebooks/01_b"]
    assert [c["file"] for c in toc["parts"][1]["chapters"]] == ["instructors", "errata"]


def test_config_names_no_repository_or_hub_of_its_own():
    config = assemble.load_config(BOOK)
    assert config["repository"]["url"] == ""  # the publisher gives it, or the git remote
    launch = config["launch_buttons"]
    assert {"binderhub_url", "colab_url", "jupyterhub_url"} <= set(launch)
    assert launch["jupyterhub_url"] == ""  # an institution's hub is set when building
    # no page of the front matter spells out a repository or a hub by hand
    for path in BOOK.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".yml") and path.name != "README.md":
            text = path.read_text(errors="replace")
            assert not re.search(r"github\.com/[\w.-]+/[\w.-]+|hub\.[\w.-]+\.org", text), path


def test_repository_url_comes_from_the_setting_then_the_config_then_the_remote(monkeypatch):
    monkeypatch.delenv(assemble.REPOSITORY_ENV, raising=False)
    monkeypatch.setattr(assemble, "_origin_url", lambda: "https://github.com/from/remote")
    assert assemble.repository_url({"repository": {"url": ""}}) == "https://github.com/from/remote"
    assert assemble.repository_url({"repository": {"url": URL + "/"}}) == URL
    monkeypatch.setenv(assemble.REPOSITORY_ENV, "https://github.com/from/setting")
    assert assemble.repository_url({"repository": {"url": URL}}) == "https://github.com/from/setting"
    monkeypatch.setenv(assemble.REPOSITORY_ENV, "https://gitlab.com/a/b")
    with pytest.raises(assemble.BookError, match="COURSE_REPOSITORY_URL"):
        assemble.repository_url({})
    monkeypatch.delenv(assemble.REPOSITORY_ENV)
    monkeypatch.setattr(assemble, "_origin_url", lambda: None)
    assert assemble.repository_url({"repository": {"url": ""}}) is None


@pytest.mark.parametrize("remote, expected", [
    ("git@github.com:owner/name.git", "https://github.com/owner/name"),
    ("ssh://git@github.com/owner/name", "https://github.com/owner/name"),
    ("https://github.com/owner/name.git\n", "https://github.com/owner/name"),
    ("https://gitlab.com/owner/name.git", None),
    ("/work/main", None),
])
def test_github_url_of_a_remote(remote, expected):
    assert assemble.github_url(remote) == expected


def test_without_a_repository_the_book_has_no_buttons_and_no_install_cell(monkeypatch):
    monkeypatch.setenv(assemble.JUPYTERHUB_ENV, "https://hub.example.edu")
    config = assemble.book_config(assemble.load_config(BOOK), None)
    assert config["repository"]["url"] == ""
    assert not any(config["html"][k] for k in ("use_repository_button", "use_issues_button"))
    assert all(config["launch_buttons"][k] == ""
               for k in ("binderhub_url", "colab_url", "jupyterhub_url"))
    nb = _notebook(_code_cell("x = 1"))
    assert assemble.prepare_chapter(nb, None, "00_x") == (False, 0)
    assert not any(assemble.INSTALL_MARKER in c.source for c in nb.cells)


def test_with_a_repository_every_configured_button_is_on(monkeypatch):
    monkeypatch.setenv(assemble.JUPYTERHUB_ENV, "https://hub.example.edu")
    config = assemble.book_config(assemble.load_config(BOOK), URL)
    assert config["repository"]["url"] == URL
    assert config["html"]["use_repository_button"] and config["html"]["use_issues_button"]
    assert config["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert config["launch_buttons"]["jupyterhub_url"] == "https://hub.example.edu"
    monkeypatch.delenv(assemble.JUPYTERHUB_ENV)
    assert assemble.book_config(assemble.load_config(BOOK), URL)["launch_buttons"]["jupyterhub_url"] == ""


def test_bibliography_defines_the_keys_chapters_cite():
    keys = set(re.findall(r"^@\w+\{([^,]+),", (BOOK / "references.bib").read_text(), re.M))
    expected = {"yung2022survey", "koren2009matrix", "srivastava2014dropout",
                "kingma2014adam", "hidasi2016gru4rec", "kang2018sasrec",
                "hochreiter1997lstm", "cho2014gru", "jarvelin2002ndcg",
                "racinsky2018myanimelist", "chai2014rmse"}
    assert expected <= keys
    cited = set()
    for page in [BOOK / "index.md", BOOK / "errata.md", *(BOOK / "errata").glob("*.md")]:
        for group in re.findall(r"\{cite(?::[pt])?\}`([^`]+)`", page.read_text()):
            cited |= {k.strip() for k in group.split(",")}
    assert cited and cited <= keys, cited - keys


# ---------------------------------------------------------------------- statistics

def _run(wall, status="ok", peak=500.0):
    return {"wall_s": wall, "peak_rss_mb": peak, "status": status, "profile": "ci",
            "finished_at": "2026-01-01T10:00:00+00:00"}


def test_stats_page_lists_every_chapter_and_names_the_bottleneck(tmp_path):
    data = {"00_a": _run(10.0), "01_b": _run(90.0, peak=1500.0), "99_gone": _run(1.0)}
    stats_file = tmp_path / "stats.json"
    stats_file.write_text(json.dumps(data))
    rows = stats.stats_rows(stats.load_stats(stats_file), ["00_a", "01_b", "02_c"], "ci")
    assert [r["status"] for r in rows] == ["ok", "ok", "not run"]
    page = stats.stats_page(rows, "ci", {"00_a": ("00 A", "notebooks/00_a.ipynb")}, None)
    assert "[00 A](notebooks/00_a.ipynb)" in page and "`01_b`" in page
    assert "99_gone" not in page
    assert f"{sum(r['wall_s'] for r in data.values() if r is not data['99_gone']):,.1f}" in page
    assert "**Bottleneck:** `01_b`" in page
    assert "within the budget" in page
    assert "Not executed successfully: `02_c`" in page


def test_stats_over_budget_and_no_bottleneck():
    rows = stats.stats_rows({f"0{i}_x": _run(200.0) for i in range(4)},
                            [f"0{i}_x" for i in range(4)], "ci")
    page = stats.stats_page(rows, "ci", {}, None)
    assert "**over** the budget" in page
    assert stats.bottleneck(rows) is None and "No single chapter dominates" in page


def test_stats_chart_is_written(tmp_path):
    rows = stats.stats_rows({"00_a": _run(3.0)}, ["00_a"], "ci")
    assert stats.chart(rows, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert not stats.chart(stats.stats_rows({}, ["00_a"], "ci"), tmp_path / "d.png")


def test_invalid_stats_file_names_itself(tmp_path):
    bad = tmp_path / "stats.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="stats.json"):
        stats.load_stats(bad)


# ------------------------------------------------------------- command and workflow

def test_course_book_command_is_registered():
    from course_tools.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["book", "--profile", "ci", "--no-execute"])
    assert (args.profile, args.execute) == ("ci", "none")
    args = parser.parse_args(["book", "check", "--profile", "ci"])
    assert args.check_profile == "ci" and args.func.__name__ == "_cmd_check"
    assert parser.parse_args(["book"]).execute == "all"
    args = parser.parse_args(["book", "build", "--profile", "ci"])
    assert (args.build_profile, args.execute, args.func.__name__) == ("ci", "none", "_cmd_book")


def test_publish_workflow_builds_with_make_book_and_deploys_pages():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as True
    assert "push" in triggers
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    assert any("make book" in s.get("run", "") for s in steps)
    uses = {s.get("uses", "").split("@")[0] for s in steps}
    assert {"actions/upload-pages-artifact", "actions/deploy-pages"} <= uses
    assert workflow["permissions"]["pages"] == "write"


def test_every_chapter_ends_with_a_link_to_the_next():
    chapters = paths.chapters()
    for chapter, following in zip(chapters, chapters[1:] + chapters[:1]):
        last = chapter.read_text().rstrip().splitlines()[-1]
        assert f"]({following.name})" in last, (chapter.name, last)


def test_errata_fragments_are_labelled_and_chapter_links_find_them():
    page = assemble.errata_page(BOOK)
    fragments = sorted(p.stem for p in (BOOK / "errata").glob("*.md") if p.name != "README.md")
    for stem in fragments:
        assert f"(errata-{stem})=\n## " in page, stem
    linked = set()
    for chapter in paths.chapters():
        linked |= set(re.findall(r"\]\(\.\./book/errata/([\w-]+)\.md\)", chapter.read_text()))
    assert linked and linked <= set(fragments), linked - set(fragments)
    assert "{ref}`the errata <errata-ndcg>`" in assemble.retarget_errata_links(
        "[the errata](../book/errata/ndcg.md)")
