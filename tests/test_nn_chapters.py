"""What chapters 06 and 07 claim, checked on their ci-profile runs (honest relations only).

At the ci profile the data are small (about 20,000 training ratings, a median of 10
per user): the networks must beat the global mean; whether they beat the user + item
bias baseline is reported by the chapters but not asserted, because at this size they
do not (at the book profile they do).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from course_utils import paths

pytestmark = pytest.mark.notebooks

SIZES = (100, 128, 150)


@pytest.fixture
def ch06(chapter_results):
    return chapter_results("06_neural_networks")


@pytest.fixture
def ch07(chapter_results):
    return chapter_results("07_overfitting_dropout")


def test_06_backprop_by_hand_matches_gradient_tape(ch06):
    assert ch06["tiny_backprop_max_abs_diff"] < 1e-12


def test_06_the_chapters_adam_step_is_the_librarys(ch06):
    # the same update; only NumpyAdam's float32 copies of eta and the betas differ
    assert ch06["adam_step_vs_library_max_diff"] < 1e-5


def test_06_numpy_adam_follows_keras(ch06):
    assert ch06["adam_numpy_vs_keras_max_abs_diff"] < 1e-12


def test_06_sigmoid_gradients_vanish_and_relu_ones_do_not(ch06):
    assert ch06["vanishing_ratio_sigmoid"] < 1e-4
    assert 1e-2 < ch06["vanishing_ratio_relu"] < 1e2


def test_06_the_chapters_thesis_network_is_the_librarys(ch06):
    # same layers, same parameter counts, layer by layer
    assert ch06["thesis_network_layer_count_mismatches"] == 0
    # the same graph of float32 ops on the same weights: the scores agree to float32
    # round-off (a rating of 10 has a float32 spacing of about 1e-6); in practice they
    # are bit-identical
    assert ch06["thesis_network_vs_library_untrained_max_diff"] < 1e-6
    assert ch06["thesis_network_vs_library_trained_max_diff"] < 1e-6


def test_06_clipping_to_the_training_range_never_raises_the_rmse(ch06):
    assert ch06["clip_rmse_clipped_valid"] <= ch06["clip_rmse_raw_valid"]


def test_06_each_loss_wins_on_its_own_metric(ch06):
    assert ch06["loss_swap_rmse_mse_trained"] < ch06["loss_swap_rmse_mae_trained"]


def test_06_beta_network_beats_the_global_mean(ch06):
    for part in ("valid", "test"):
        assert ch06[f"rmse_beta_100_{part}"] < ch06[f"rmse_global_mean_{part}"]
    _assert_best_epoch_is_lowest_val_loss(ch06, 100)


def _saved_history(results: dict, size: int) -> dict:
    """The training record saved with the beta network of ``size`` the chapter used
    (its entry of the model cache, which the chapter records)."""
    entry = paths.cache_dir() / "models" / results[f"beta_{size}_cache"]
    return json.loads((entry / "model.json").read_text())


def _assert_best_epoch_is_lowest_val_loss(results: dict, size: int):
    recorded_best = results[f"beta_{size}_best_epoch"]
    recorded_run = results[f"beta_{size}_epochs_run"]
    saved = _saved_history(results, size)
    val_loss = saved["history_"]["val_loss"]
    assert recorded_run == saved["epochs_run_"] == len(val_loss)
    assert recorded_best == saved["best_epoch_"] == int(np.argmin(val_loss)) + 1


def test_07_every_beta_network_beats_the_global_mean(ch07):
    for size in SIZES:
        for part in ("valid", "test"):
            assert ch07[f"rmse_beta_{size}_{part}"] < ch07[f"rmse_global_mean_{part}"]


def test_07_early_stopping_ended_every_beta_network(ch07):
    """The profile's epochs are a ceiling: patience, not the budget, ends training."""
    for size in SIZES:
        best, run = ch07[f"beta_{size}_best_epoch"], ch07[f"beta_{size}_epochs_run"]
        _assert_best_epoch_is_lowest_val_loss(ch07, size)
        assert ch07[f"beta_{size}_stopped_early"] is True
        assert run == best + 3  # patience 3: stopped three epochs after the best one


def test_07_no_dropout_network_overfits(ch07):
    """Without dropout or early stopping the validation error turns up while the
    training error keeps falling far below it."""
    assert ch07["nodrop_valid_rmse_final"] > ch07["nodrop_valid_rmse_best"]
    assert ch07["nodrop_train_rmse_final"] < ch07["nodrop_valid_rmse_final"]


def test_07_dropout_narrows_the_train_valid_gap(ch07):
    assert ch07["nodrop_gap"] > ch07["dropout_05_gap"] > 0
    gaps = {float(rate): row["gap (valid - train)"] for rate, row in ch07["dropout_sweep"].items()}
    assert gaps[0.0] == pytest.approx(ch07["nodrop_gap"])
    assert gaps[max(gaps)] < gaps[0.0]


def test_07_smaller_embeddings_overfit_less(ch07):
    assert ch07["small_net_gap"] < ch07["nodrop_gap"]


def test_07_inverted_dropout_keeps_the_mean_and_adds_the_predicted_variance(ch07):
    # 128,000 units at rate 0.5, input 1: the mean has a standard error of about 0.003,
    # and every kept value is 2, so the variance is 1 - (mean - 1)^2
    assert abs(ch07["dropout_demo_mean"] - 1.0) < 4 * (1 / 128_000) ** 0.5
    assert abs(ch07["dropout_demo_var"] - (1 - (ch07["dropout_demo_mean"] - 1) ** 2)) < 1e-5


def test_07_most_parameters_are_in_the_embeddings(ch07):
    # dropout after the dense layer leaves these to early stopping alone
    assert ch07["embedding_parameter_share"] > 0.5


def test_06_epsilon_inside_the_root_shrinks_some_embedding_steps_several_fold(ch06):
    # sqrt(q + eps) / (sqrt(q) + eps) >= 1 for every weight; for some embedding weights > 2
    assert ch06["adam_eps_shrink_user_embedding"] >= 1.0
    assert ch06["adam_eps_share_shrunk_2x_user_embedding"] > 0.0


def test_06_and_07_compare_with_the_als_chapter_04_chose(ch06, ch07, chapter_results):
    """Issue 21: the ALS row is chapter 04's choice on validation, not a typed setting."""
    ch04 = chapter_results("04_matrix_factorization")
    for chapter in (ch06, ch07):
        assert (chapter["als_rank"], chapter["als_reg"]) == (ch04["als_best_rank"],
                                                             ch04["als_best_reg"])
