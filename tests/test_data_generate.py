"""The synthetic generator: Kaggle schema, determinism, injected quirks, ground truth."""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest

from course_utils.data import generate, load, schema
from course_utils.data.generate import GenParams

TINY = dict(n_users=120, n_items=150, mean_history=25)


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return generate("ci", seed=7, out_dir=tmp_path_factory.mktemp("gen") / "tiny", **TINY)


@pytest.fixture(scope="module")
def tiny_ds(tiny, tmp_path_factory):
    return load("synthetic", data_dir=tiny, cache_dir=tmp_path_factory.mktemp("cache"))


def test_same_seed_gives_byte_identical_files(tiny, tmp_path):
    again = generate("ci", seed=7, out_dir=tmp_path / "again", **TINY)
    assert _digests(again) == _digests(tiny)
    other = generate("ci", seed=8, out_dir=tmp_path / "other", **TINY)
    assert _digests(other)["UserAnimeList.csv"] != _digests(tiny)["UserAnimeList.csv"]


def test_files_have_the_kaggle_names_and_columns(tiny):
    expected = {schema.ANIME_FILE: schema.ANIME_COLUMNS, schema.USERS_FILE: schema.USER_COLUMNS,
                schema.USERS_CLEANED_FILE: schema.USER_COLUMNS, schema.LISTS_FILE: schema.LIST_COLUMNS}
    for name, columns in expected.items():
        with open(tiny / name, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert tuple(rows[0]) == columns, name
        assert {len(r) for r in rows} == {len(columns)}, name
    assert (tiny / schema.STATUS_FILE).read_text().splitlines()[1:] == [
        f"{k}, {v}" for k, v in schema.STATUS_NAMES.items()]


def test_values_look_like_the_real_files(tiny):
    with open(tiny / schema.LISTS_FILE, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["my_status"] for r in rows} >= {"1", "2", "3", "4", "6"}
    assert any(r["my_start_date"] == schema.MISSING_DATE for r in rows)
    assert any(r["my_rewatching"] == "" for r in rows)
    assert any(r["my_score"] == "0" for r in rows)
    assert all(len(r["my_last_updated"]) == 19 for r in rows)  # 2013-03-03 10:52:53
    with open(tiny / schema.ANIME_FILE, newline="", encoding="utf-8") as fh:
        anime = list(csv.DictReader(fh))
    assert any("," in a["genre"] for a in anime)  # "Action, Comedy" stays one quoted field
    genres = {g for a in anime for g in a["genre"].split(", ")}
    assert genres <= set(schema.GENRES)
    assert {a["type"] for a in anime} <= set(schema.ANIME_TYPES)
    assert any("Sequel" in a["related"] for a in anime)


def test_quirks_are_injected_and_cleaned(tiny_ds):
    report = tiny_ds.report.set_index("rule")
    for rule in ("duplicate_rows", "user_not_in_cleaned_list", "status_not_1_or_2"):
        assert report.loc[rule, "rows_removed"] > 0, rule
    assert report.loc["episodes_beyond_length", "rows_fixed"] > 0
    inter = tiny_ds.interactions
    assert not inter.duplicated(["user", "item"]).any()
    assert set(inter["status"].unique()) <= {1, 2}
    eps = tiny_ds.anime["episodes"].to_numpy()[inter["item"].to_numpy()]
    assert ((eps == 0) | (inter["watched_episodes"].to_numpy() <= eps)).all()


def test_rare_quirks_at_a_larger_size(tmp_path):
    prm = GenParams(unknown_anime_share=0.05, invalid_status_share=0.05, last_online_1900_share=0.2)
    folder = generate("ci", seed=1, out_dir=tmp_path / "q", params=prm, n_users=60, n_items=80,
                      mean_history=20)
    report = load("synthetic", data_dir=folder, cache=False).report.set_index("rule")
    assert report.loc["unknown_anime", "rows_removed"] > 0
    assert report.loc["invalid_status_code", "rows_removed"] > 0
    assert report.loc["last_online_1900", "rows_fixed"] > 0


def test_expected_rating_matches_simulated_scores(tiny_ds):
    truth = tiny_ds.truth
    rng = np.random.default_rng(0)
    users = rng.integers(0, tiny_ds.n_users, 40)
    items = rng.integers(0, tiny_ds.n_items, 40)
    x = truth.latent_rating(users, items)
    draws = np.clip(np.rint(x[:, None] + rng.normal(0, truth.noise_sd, (40, 20000))), 1, 10)
    se = draws.std(axis=1) / np.sqrt(draws.shape[1])
    assert np.all(np.abs(draws.mean(axis=1) - truth.expected_rating(users, items)) < 5 * se + 1e-9)


def test_noise_floor_is_the_error_of_the_true_model(tiny_ds):
    truth = tiny_ds.truth
    inter = tiny_ds.interactions
    rated = inter[inter["rating"] > 0]
    pred = truth.expected_rating(rated["user"], rated["item"])
    floor = np.sqrt(np.mean((rated["rating"].to_numpy() - pred) ** 2))
    assert truth.noise_floor_rmse == pytest.approx(floor)
    # a worse predictor (the latent score itself, before rounding) does not beat it
    latent = np.clip(truth.latent_rating(rated["user"], rated["item"]), 1, 10)
    assert np.sqrt(np.mean((rated["rating"].to_numpy() - latent) ** 2)) > floor


def test_truth_knows_how_each_entry_was_drawn(tiny_ds):
    shares = tiny_ds.truth.draw_shares()
    assert shares.sum() == pytest.approx(1.0)
    assert shares["franchise"] > 0.1 and shares["taste"] > 0.3
    # a franchise continuation is the successor of the user's previous entry
    inter = tiny_ds.interactions.reset_index(drop=True)
    draw = tiny_ds.truth.record_draw
    succ = tiny_ds.truth.item_successor
    same_user = inter["user"].to_numpy()[1:] == inter["user"].to_numpy()[:-1]
    cont = (draw[1:] == 1) & same_user
    prev, cur = inter["item"].to_numpy()[:-1][cont], inter["item"].to_numpy()[1:][cont]
    # entries removed by cleaning (dropped, on hold) can sit between them, so most, not all
    assert np.mean(succ[prev] == cur) > 0.8


def test_oracle_probabilities(tiny_ds):
    truth = tiny_ds.truth
    seqs = [s for s in __import__("course_utils.data", fromlist=["sequences"]).sequences(tiny_ds)]
    users = np.array([u for u, s in enumerate(seqs) if len(s) >= 3][:10])
    hist = [seqs[u][:-1] for u in users]
    probs = truth.next_item_probabilities(users, hist)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    for row, h in enumerate(hist):
        assert np.all(probs[row, h] == 0)
        nxt = truth.item_successor[h[-1]]
        if nxt >= 0 and nxt not in h:
            assert probs[row, nxt] >= truth.user_continuation[users[row]] - 1e-12
    top = truth.oracle_recommend(users, hist, k=5)
    assert top.shape == (len(users), 5)
    assert np.all(np.take_along_axis(probs, top, axis=1)[:, 0] == probs.max(axis=1))


def test_normal_cdf_matches_scipy():
    from scipy.special import ndtr

    from course_utils.data.truth import normal_cdf

    z = np.linspace(-9, 9, 2001)
    np.testing.assert_allclose(normal_cdf(z), ndtr(z), rtol=0, atol=2e-7)


@pytest.mark.parametrize("n, m", [(3000, 90), (200, 90), (90, 90), (50, 90), (5000, 1)])
def test_top_m_matches_a_full_sort(n, m):
    from course_utils.data.generate import _top_m

    rng = np.random.default_rng(n)
    keys = rng.gumbel(size=(64, n)).astype(np.float32) + np.linspace(0, 3, n, dtype=np.float32)
    got = _top_m(keys, m)
    expected = np.argsort(-keys, axis=1, kind="stable")[:, :min(m, n)]
    np.testing.assert_array_equal(got, expected)


def test_older_code_does_not_replace_newer_data(tmp_path):
    import importlib
    import json

    module = importlib.import_module("course_utils.data.generate")  # the module, not the function
    folder = generate("ci", seed=2, out_dir=tmp_path / "g", n_users=30, n_items=40, mean_history=8)
    meta = json.loads((folder / "generator.json").read_text())
    meta["generator_version"] = module.GENERATOR_VERSION + 1
    (folder / "generator.json").write_text(json.dumps(meta))
    with pytest.raises(RuntimeError, match="restart the Python kernel"):
        generate("ci", seed=2, out_dir=folder, n_users=30, n_items=40, mean_history=8)


def test_score_missing_slope_makes_the_blanks_hide_low_opinions(tmp_path):
    """The knob chapter 02's exercise turns: missing at random (0) or not (> 0)."""
    gap = {}
    for slope in (0.0, 1.5):
        out = generate(n_users=400, n_items=200, mean_history=40, seed=3,
                       out_dir=tmp_path / f"slope{slope}",
                       params=GenParams(score_missing_slope=slope))
        ds = load("synthetic", data_dir=out, cache=False)
        inter, truth = ds.interactions, ds.truth
        blank, scored = inter[inter["rating"] == 0], inter[inter["rating"] > 0]
        gap[slope] = (truth.expected_rating(scored["user"], scored["item"]).mean()
                      - truth.expected_rating(blank["user"], blank["item"]).mean())
    # at random, the blanks hide opinions like the scored ones (within a tenth of a point);
    # with the slope they hide clearly lower ones
    assert abs(gap[0.0]) < 0.1
    assert gap[1.5] > 0.5
