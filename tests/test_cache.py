"""course_utils.cache: a fitted model is reused only for the same class, parameters and rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils.baselines import UserItemBias
from course_utils.cache import cached, entry_dir, fingerprint, load_or_fit
from course_utils.mf import ALSMatrixFactorization


def frame(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = pd.DataFrame({"user": rng.integers(0, 20, n), "item": rng.integers(0, 12, n)})
    out["rating"] = rng.integers(1, 11, n).astype(float)
    return out


def als(**kw):
    return ALSMatrixFactorization(rank=2, epochs=2, **kw)


def test_identical_fit_is_reused_and_predicts_the_same(tmp_path):
    train, valid = frame(0), frame(1, 50)
    first = load_or_fit(als(), train, valid, directory=tmp_path)
    again = load_or_fit(als(), train.copy(), valid.copy(), directory=tmp_path)
    assert (first.loaded_from_cache_, again.loaded_from_cache_) == (False, True)
    assert again.cache_dir_ == first.cache_dir_
    assert type(again) is ALSMatrixFactorization and again.get_params() == first.get_params()
    np.testing.assert_array_equal(again.predict(valid.user, valid.item),
                                  first.predict(valid.user, valid.item))
    assert again.best_epoch_ == first.best_epoch_ and again.fit_seconds_ == first.fit_seconds_


@pytest.mark.parametrize("change", ["seed", "parameter", "source", "validation rows",
                                    "row order", "class"])
def test_any_change_trains_afresh(tmp_path, change):
    train, valid = frame(0), frame(1, 50)
    load_or_fit(als(seed=1), train, valid, directory=tmp_path)
    model, t, v = als(seed=1), train, valid
    if change == "seed":
        model = als(seed=42)
    elif change == "parameter":
        model = als(seed=1, reg=0.5)
    elif change == "source":        # another data set of the very same size
        t = frame(7)
    elif change == "validation rows":
        v = frame(2, 50)
    elif change == "row order":
        t = train.iloc[::-1]
    elif change == "class":
        model = UserItemBias()
    assert cached(model, t, v, directory=tmp_path) is None
    refit = load_or_fit(model, t, v, directory=tmp_path)
    assert not refit.loaded_from_cache_
    assert len(list(tmp_path.iterdir())) == 2


def test_chapter_10_seed_1_then_chapter_11_seed_42_is_not_a_hit(tmp_path):
    """The leak of issue 18: same profile, another seed's data. The old cache keyed by
    name and profile (plus a catalogue-size check) could hand over the other split's model."""
    from course_utils.data import leave_last_out, load, sequences

    def split(seed):
        ds = load(source="synthetic", profile="ci", seed=seed)
        lo = leave_last_out(sequences(ds))
        return ds.n_items, lo

    _, lo1 = split(1)
    _, lo42 = split(42)
    rows = [pd.DataFrame({"user": np.repeat(np.arange(len(lo.train)), [len(h) for h in lo.train]),
                          "item": np.concatenate(lo.train)}) for lo in (lo1, lo42)]
    model = UserItemBias()          # any model: the key is the rows, not the class
    assert fingerprint(model, rows[0]) != fingerprint(model, rows[1])


def test_runtime_only_arguments_are_not_part_of_the_key():
    from course_utils.spark import SparkALS

    train = frame(0)
    assert (fingerprint(SparkALS(num_blocks=2), train)
            == fingerprint(SparkALS(num_blocks=8, spark=None), train))
    assert fingerprint(SparkALS(rank=3), train) != fingerprint(SparkALS(rank=4), train)


def test_a_failed_fit_leaves_no_entry_and_writes_are_atomic(tmp_path):
    train = frame(0)
    with pytest.raises(ValueError, match="reg > 0"):
        load_or_fit(ALSMatrixFactorization(reg=0.0), train, directory=tmp_path)
    assert list(tmp_path.iterdir()) == []
    fitted = load_or_fit(als(), train, directory=tmp_path)
    files = sorted(p.name for p in fitted.cache_dir_.iterdir())
    assert files == ["fit.json", "model.npz"]
    assert [p.name for p in tmp_path.iterdir()] == [entry_dir(als(), train, None, tmp_path).name]


def test_retrain_overwrites(tmp_path):
    train = frame(0)
    load_or_fit(als(), train, directory=tmp_path)
    again = load_or_fit(als(), train, directory=tmp_path, retrain=True)
    assert not again.loaded_from_cache_ and again.cache_dir_.exists()


def test_a_library_change_is_a_new_key(tmp_path, monkeypatch):
    """A model fitted by older library code is not loaded after an update (a `git pull`)."""
    import types

    import course_utils.cache as cache

    package = tmp_path / "course_utils"
    (package / "nn").mkdir(parents=True)
    (package / "paths.py").write_text("# paths\n")
    (package / "nn" / "pipeline.py").write_text("SHUFFLE = 'buffer'\n")
    monkeypatch.setattr(cache, "paths", types.SimpleNamespace(__file__=str(package / "paths.py")))
    train = frame(0)
    cache.code_version.cache_clear()
    before = fingerprint(UserItemBias(), train)
    (package / "nn" / "pipeline.py").write_text("SHUFFLE = 'permutation'\n")
    cache.code_version.cache_clear()
    after = fingerprint(UserItemBias(), train)
    monkeypatch.undo()
    cache.code_version.cache_clear()  # the real package again, for the tests that follow
    assert before != after
    assert fingerprint(UserItemBias(), train) not in (before, after)
