"""Chapters 01 and 02: their numbers at the ci profile, and runs on the real-format samples.

The chapters must also run unchanged on the real Kaggle files (``DATA_SOURCE =
"kaggle"``) and on the CooperUnion files; the hand-made samples in
``tests/fixtures/data`` stand in for them here.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from course_utils import paths
from course_utils.data import load

pytestmark = pytest.mark.notebooks
FIXTURES = Path(__file__).parent / "fixtures" / "data"
RULES_IN_PANDAS = ("user_not_in_cleaned_list", "unknown_anime", "status_not_1_or_2")


def test_dataset_chapter_numbers(chapter_results):
    r = chapter_results("01_dataset")
    assert r["rows_read"] - r["rows_removed"] == r["rows_kept"] > 0
    assert r["removed_status_not_1_or_2"] > 0 and r["removed_duplicate_rows"] > 0
    assert r["fixed_episodes_beyond_length"] > 0 and r["fixed_last_online_1900"] > 0
    # three rules written in pandas in the chapter count exactly what the loader's report says
    # (integer counts of the same rows: the only honest tolerance is none)
    for rule in RULES_IN_PANDAS:
        assert r[f"removed_{rule}"] > 0, f"the ci data should exercise the rule {rule}"
        assert r[f"pandas_minus_loader_{rule}"] == 0, rule
    assert 0 < r["zero_share"] < 0.5
    inter = load(profile="ci").interactions
    assert r["mean_score"] == pytest.approx(inter.loc[inter["rating"] > 0, "rating"].mean(),
                                            rel=1e-9)
    assert r["entries_per_user_mean"] > r["entries_per_user_median"]  # long-tailed activity
    assert r["head_share_top10pct"] > 0.1  # the top 10% hold more than their share
    assert r["history_p5"] <= r["history_p10"]
    assert r["noise_floor_rmse"] > 0


def test_signals_chapter_numbers(chapter_results):
    r = chapter_results("02_signals")
    assert r["density_explicit"] < r["density_implicit"]
    assert r["mean_with_zeros"] < r["mean_without_zeros"]
    assert r["item_mean_of_unscored"] > r["item_mean_of_low_scored"]
    assert r["mean_score_dropped"] < r["mean_score_completed"]
    assert r["mean_score_rewatching"] > r["mean_score_not_rewatching"]
    assert r["popularity_pct_sampled_negatives"] < r["popularity_pct_positives"]
    assert 0 < r["false_negative_share"] < r["liked_share_positives"]
    # the generator decides whether to score independently of the opinion
    assert abs(r["truth_mean_unscored"] - r["truth_mean_scored"]) < 0.2


def _run_on(chapter: str, source: str, sample: Path, tmp_path: Path) -> dict:
    """Execute ``chapter`` with ``DATA_SOURCE = source`` on a copy of a sample folder."""
    import papermill

    from course_tools.runner import _kernel_manager_class, to_ipynb

    home = tmp_path / "home"
    shutil.copytree(sample, home / "data" / source)
    (home / "notebooks").mkdir(parents=True)
    notebook = to_ipynb(paths.notebooks_dir() / f"{chapter}.md", tmp_path)
    results = tmp_path / "results.json"
    env = {"COURSE_HOME": str(home), "COURSE_RESULTS_FILE": str(results), "COURSE_PROFILE": "ci"}
    before = dict(os.environ)
    os.environ.update(env)
    try:
        papermill.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"),
                                   parameters={"PROFILE": "ci", "SEED": 42, "DATA_SOURCE": source},
                                   kernel_name="python3", cwd=str(home / "notebooks"),
                                   progress_bar=False, log_output=False,
                                   kernel_manager_class=_kernel_manager_class())
    finally:
        os.environ.clear()
        os.environ.update(before)
    return json.loads(results.read_text())


@pytest.mark.parametrize("chapter", ["01_dataset", "02_signals"])
def test_chapters_run_on_the_kaggle_format_sample(chapter, tmp_path):
    r = _run_on(chapter, "kaggle", FIXTURES / "kaggle_sample", tmp_path)
    if chapter == "01_dataset":
        assert (r["rows_read"], r["rows_kept"]) == (27, 18)  # the sample, cleaned by hand
        assert all(r[f"pandas_minus_loader_{rule}"] == 0 for rule in RULES_IN_PANDAS)
        assert "noise_floor_rmse" not in r  # real data has no truth
    else:
        assert r["mean_with_zeros"] < r["mean_without_zeros"]


@pytest.mark.parametrize("chapter", ["01_dataset", "02_signals"])
def test_chapters_run_on_the_cooper_sample(chapter, tmp_path):
    r = _run_on(chapter, "kaggle_cooper", FIXTURES / "cooper_sample", tmp_path)
    assert r["n_items" if chapter == "01_dataset" else "density_explicit"] > 0


@pytest.mark.parametrize("folder, source, read_kept", [
    ("kaggle", "kaggle", (19, 10)), ("kaggle_cleaned", "kaggle", (19, 10)),
    ("cooper", "kaggle_cooper", (16, 13))])
def test_chapter_01_runs_on_the_real_row_fixtures(folder, source, read_kept, tmp_path, monkeypatch):
    """`course run 01 --source S --data-dir FOLDER` on the real-row fixtures (see their README)."""
    from course_tools.runner import run_chapter

    monkeypatch.setenv("COURSE_HOME", str(tmp_path))  # executed notebooks and caches go here
    (tmp_path / "notebooks").mkdir()
    chapter = Path(__file__).parents[1] / "notebooks" / "01_dataset.md"
    run = run_chapter(chapter, "ci", data_source=source, data_dir=FIXTURES / "real" / folder)
    assert run.status == "ok", run.error
    r = json.loads((tmp_path / "build" / "executed" / f"ci-{source}" / "01_dataset.results.json")
                   .read_text())
    assert (r["rows_read"], r["rows_kept"]) == read_kept
    if source == "kaggle":
        assert r["last_two_tied_share"] == pytest.approx(1 / 3)
        assert r["fixed_html_entities"] == 1
        assert all(r[f"pandas_minus_loader_{rule}"] == 0 for rule in RULES_IN_PANDAS)
    else:
        assert "last_two_tied_share" not in r and r["fixed_html_entities"] == 2
        # no statuses and no user file: the chapter says so and records no comparison
        assert not any(key.startswith("pandas_minus_loader_") for key in r)
