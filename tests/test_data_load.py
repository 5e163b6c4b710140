"""load(): the hand-made Kaggle sample, the CooperUnion sample, synthetic data and the cache."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course_utils.data import generate, load

FIXTURES = Path(__file__).parent / "fixtures" / "data"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return load("kaggle", data_dir=FIXTURES / "kaggle_sample", cache_dir=tmp_path_factory.mktemp("c"))


def test_interactions_schema(sample):
    inter = sample.interactions
    assert list(inter.columns) == ["user", "item", "rating", "timestamp", "status",
                                   "watched_episodes", "rewatching"]
    assert str(inter["timestamp"].dtype) == "datetime64[ns]"
    assert inter["rating"].dtype == np.int8 and inter["user"].dtype == np.int32
    assert inter.groupby("user")["timestamp"].apply(lambda t: t.is_monotonic_increasing).all()


def test_cleaning_report_of_the_sample(sample):
    # the sample was written by hand with exactly one or two cases per rule
    report = sample.report.set_index("rule")
    expected_removed = {"invalid_status_code": 1, "unknown_user": 1, "user_not_in_cleaned_list": 2,
                        "unknown_anime": 1, "status_not_1_or_2": 3, "missing_last_updated": 0,
                        "duplicate_rows": 1}
    assert report["rows_removed"].to_dict() == {"repeated_anime_id": 0, "repeated_username": 0,
                                                **expected_removed, "episodes_beyond_length": 0,
                                                "last_online_1900": 0, "html_entities": 0}
    assert report.loc["episodes_beyond_length", "rows_fixed"] == 1
    assert report.loc["last_online_1900", "rows_fixed"] == 1
    assert sample.meta["rows_read"] == 27
    assert sample.meta["rows_read"] - sum(expected_removed.values()) == len(sample.interactions)


def test_fixes_of_the_sample(sample):
    trigun = sample.items_of([6])[0]
    karthiga = sample.users_of(["karthiga"])[0]
    row = sample.interactions.query("user == @karthiga and item == @trigun")
    assert row["watched_episodes"].tolist() == [26]  # the file says 30 of 26
    terune = sample.users.loc[sample.users_of(["terune_uzumaki"])[0]]
    assert terune["last_online"] == pd.Timestamp("2011-01-15 10:00:00")  # was 1900-01-01


def test_other_statuses_are_kept_apart(sample):
    other = sample.other_statuses
    assert sorted(other["status"].tolist()) == [3, 4, 6]


def test_anime_and_users_frames(sample):
    anime = sample.anime
    assert anime.index.name == "item" and anime["anime_id"].is_monotonic_increasing
    bebop = anime.loc[sample.items_of([1])[0]]
    assert bebop["genres"] == ["Action", "Adventure", "Comedy", "Drama", "Sci-Fi", "Space"]
    assert bebop["genre"] == "Action, Adventure, Comedy, Drama, Sci-Fi, Space"
    assert "ghost_user" not in set(sample.users["username"])


def test_cooper_source(tmp_path):
    ds = load("kaggle_cooper", data_dir=FIXTURES / "cooper_sample", cache_dir=tmp_path)
    report = ds.report.set_index("rule")
    assert report.loc["unknown_anime", "rows_removed"] == 1
    assert report.loc["duplicate_rows", "rows_removed"] == 1
    assert report.loc["rating_minus_one", "rows_fixed"] == 3
    assert len(ds.interactions) == 8 and (ds.interactions["rating"] == 0).sum() == 3
    assert ds.anime.loc[ds.items_of([21])[0], "episodes"] == 0  # "Unknown"
    assert ds.truth is None and not ds.has_timestamps


def _entries(cache: Path) -> list[Path]:
    return [p for p in (cache / "data").iterdir() if not p.name.startswith(".")]


def test_cache_is_used_and_invalidated(tmp_path):
    folder = tmp_path / "raw"
    shutil.copytree(FIXTURES / "kaggle_sample", folder)
    cache = tmp_path / "cache"
    first = load("kaggle", data_dir=folder, cache_dir=cache)
    (entry,) = _entries(cache)
    stamp = (entry / "meta.json").stat().st_mtime_ns
    second = load("kaggle", data_dir=folder, cache_dir=cache)
    assert (entry / "meta.json").stat().st_mtime_ns == stamp  # read, not rebuilt
    pd.testing.assert_frame_equal(first.interactions, second.interactions)
    pd.testing.assert_frame_equal(first.anime, second.anime)
    pd.testing.assert_frame_equal(first.users, second.users)
    # a changed source file gives a new cache entry and drops the old one
    lists = folder / "UserAnimeList.csv"
    lists.write_text(lists.read_text().replace("bskai,11013,12", "bskai,11013,11"))
    third = load("kaggle", data_dir=folder, cache_dir=cache)
    (entry2,) = _entries(cache)
    assert entry2 != entry
    assert len(third.interactions) == len(first.interactions)
    assert not [p for p in (cache / "data").iterdir() if ".tmp-" in p.name]  # no temp left


def test_synthetic_load_and_truth_alignment(tmp_path):
    folder = generate("ci", seed=3, out_dir=tmp_path / "g", n_users=80, n_items=100, mean_history=20)
    ds = load("synthetic", data_dir=folder, cache_dir=tmp_path / "cache")
    again = load("synthetic", data_dir=folder, cache_dir=tmp_path / "cache")  # from the cache
    assert ds.source == again.source == "synthetic"
    t1, t2 = ds.truth, again.truth
    np.testing.assert_array_equal(t1.record_draw, t2.record_draw)
    assert t1.noise_floor_rmse == pytest.approx(t2.noise_floor_rmse)
    assert len(t1.user_bias) == ds.n_users and len(t1.item_bias) == ds.n_items
    assert len(t1.record_draw) == len(ds.interactions)
    # the truth predicts the observed scores far better than the global mean
    rated = ds.interactions[ds.interactions["rating"] > 0]
    err_mean = np.sqrt(np.mean((rated["rating"] - rated["rating"].mean()) ** 2))
    assert t1.noise_floor_rmse < 0.85 * err_mean


def test_default_paths_follow_profile_and_seed(monkeypatch, tmp_path):
    from course_utils.data.generate import generated_dir

    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    assert generated_dir("ci", 5) == tmp_path / "data" / "generated" / "ci-seed5"


def test_concurrent_loads_build_the_cache_once(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    folder = generate("ci", seed=4, out_dir=tmp_path / "g", n_users=60, n_items=80, mean_history=15)
    with ThreadPoolExecutor(3) as pool:
        sets = list(pool.map(lambda _: load("synthetic", data_dir=folder, cache_dir=tmp_path / "c"),
                             range(3)))
    assert len(_entries(tmp_path / "c")) == 1
    for ds in sets[1:]:
        pd.testing.assert_frame_equal(ds.interactions, sets[0].interactions)


def test_course_data_commands(tmp_path, capsys, monkeypatch):
    from course_tools.cli import main

    monkeypatch.setenv("COURSE_HOME", str(tmp_path))  # the cache goes to tmp_path/build

    sample = tmp_path / "kaggle"
    shutil.copytree(FIXTURES / "kaggle_sample", sample)
    assert main(["data", "report", "--source", "kaggle", "--data-dir", str(sample)]) == 0
    out = capsys.readouterr().out
    assert "duplicate_rows" in out and "interactions=18" in out
    (sample / "UserAnimeList.csv").write_bytes(b"")
    assert main(["data", "report", "--source", "kaggle", "--data-dir", str(sample)]) == 1
    assert "the file is empty" in capsys.readouterr().out


def test_repeated_lines_in_the_small_files_are_counted(tmp_path):
    folder = tmp_path / "raw"
    shutil.copytree(FIXTURES / "kaggle_sample", folder)
    for name in ("AnimeList.csv", "UserList.csv"):
        lines = (folder / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (folder / name).write_text("".join(lines + [lines[1]]), encoding="utf-8")
    ds = load("kaggle", data_dir=folder, cache=False)
    report = ds.report.set_index("rule")
    assert report.loc["repeated_anime_id", "rows_removed"] == 1
    assert report.loc["repeated_username", "rows_removed"] == 1
    assert report.loc["repeated_username", "file"] == "UserList.csv"
    assert len(ds.interactions) == 18
