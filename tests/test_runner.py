"""`course run`: executes chapters, records results, reports failing cells."""
import json
import textwrap

import pytest

from course_utils import paths
from course_tools.runner import ChapterNotFound, resolve_chapters, run_chapter

HEADER = textwrap.dedent("""\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---

    # A test chapter

    ```{code-cell} ipython3
    :tags: [parameters]

    PROFILE = "book"
    SEED = 42
    DATA_SOURCE = "synthetic"
    ```
    """)


@pytest.fixture
def course_home(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    (tmp_path / "notebooks").mkdir()
    return tmp_path


def write_chapter(home, name, body):
    path = home / "notebooks" / f"{name}.md"
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def test_parameters_are_injected_and_results_recorded(course_home):
    source = write_chapter(course_home, "98_ok", """
        ```{code-cell} ipython3
        from course_utils import record
        record("profile_seen", PROFILE)
        record("seed_seen", SEED)
        ```
        """)
    run = run_chapter(source, "ci", seed=3)
    assert run.status == "ok", run.error
    results = json.loads((paths.executed_dir("ci") / "98_ok.results.json").read_text())
    assert results == {"profile_seen": "ci", "seed_seen": 3}
    stats = json.loads((paths.executed_dir("ci") / "stats.json").read_text())
    assert stats["98_ok"]["status"] == "ok" and stats["98_ok"]["peak_rss_mb"] > 0


def test_a_real_source_run_keeps_the_synthetic_outputs(course_home):
    """The book and the tests read build/executed/<profile>; a real-data run goes beside it."""
    source = write_chapter(course_home, "98_src", """
        ```{code-cell} ipython3
        from course_utils import record
        record("source_seen", DATA_SOURCE)
        ```
        """)
    assert run_chapter(source, "ci").status == "ok"
    run = run_chapter(source, "ci", data_source="kaggle_cooper")
    assert run.status == "ok", run.error
    assert run.output == str(paths.executed_dir("ci-kaggle_cooper") / "98_src.ipynb")
    real = json.loads((paths.executed_dir("ci-kaggle_cooper") / "98_src.results.json").read_text())
    synthetic = json.loads((paths.executed_dir("ci") / "98_src.results.json").read_text())
    assert (real, synthetic) == ({"source_seen": "kaggle_cooper"}, {"source_seen": "synthetic"})
    stats = json.loads((paths.executed_dir("ci-kaggle_cooper") / "stats.json").read_text())
    assert stats["98_src"]["source"] == "kaggle_cooper"
    assert json.loads((paths.executed_dir("ci") / "stats.json").read_text())["98_src"]["source"] \
        == "synthetic"


def test_failing_cell_is_reported_with_chapter_and_cell(course_home):
    source = write_chapter(course_home, "99_broken", """
        ```{code-cell} ipython3
        x = 1
        ```

        ```{code-cell} ipython3
        raise RuntimeError("the model diverged")
        ```
        """)
    run = run_chapter(source, "ci")
    assert run.status == "failed"
    assert run.error.startswith("99_broken: cell [")
    assert "RuntimeError: the model diverged" in run.error


def test_chapter_names_resolve(course_home):
    write_chapter(course_home, "03_evaluation", "")
    assert resolve_chapters(["03"])[0].stem == "03_evaluation"
    assert resolve_chapters(["03_evaluation"])[0].stem == "03_evaluation"
    with pytest.raises(ChapterNotFound, match="03_evaluation"):
        resolve_chapters(["07"])
