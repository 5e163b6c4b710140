"""What chapters 09 and 10 claim, checked on their ci-profile results (see conftest.py)."""
from __future__ import annotations

import json
import math

import pytest

from course_utils import paths
from course_utils.config import get_profile
from course_utils.sequence.models import NextItemModel

pytestmark = pytest.mark.notebooks


def test_chapter_09_cells_match_keras(chapter_results):
    r = chapter_results("09_rnn_lstm_gru")
    assert r["max_abs_diff_cells"] < 1e-5
    # the Jacobian of one step, by the chapter's formula and by tf.GradientTape (float64)
    assert r["bptt_jacobian_max_diff"] < 1e-12
    # the steps written in the chapter agree with the library's (float64 throughout)
    for cell in ("rnn", "lstm", "gru"):
        assert r[f"{cell}_step_vs_library_max_diff"] < 1e-12, cell
    # the simple RNN's gradient from 59 steps back vanishes; an open forget gate keeps it
    assert r["gradient_59_steps_rnn"] < 1e-3 < 0.1 < r["gradient_59_steps_lstm_open"]
    assert r["history_p5"] <= r["history_p10"]
    assert r["n_training_windows"] > r["n_sequence_users"]


def test_chapter_10_models_beat_popularity(chapter_results):
    """Both sequence models clear the popularity baseline by an honest margin at ci.

    The ci profile trains small networks on a few thousand windows for a few
    epochs (the book profile is where the 2x goal is measured), so the margins
    asked here are the ones such a run reaches with room to spare: 1.5x for the
    GRU, 1.25x for the (slower-learning) bidirectional LSTM.
    """
    r = chapter_results("10_next_item_prediction")
    pop = r["recall_at_20_popular"]
    assert r["recall_at_20_random"] < pop
    assert r["recall_at_20_gru"] >= 1.5 * pop
    assert r["recall_at_20_lstm"] >= 1.25 * pop
    assert r["mrr_at_20_gru"] >= 1.5 * r["mrr_at_20_popular"]
    assert r["mrr_at_20_lstm"] >= 1.25 * r["mrr_at_20_popular"]
    assert r["ndcg_at_5_gru"] > r["ndcg_at_5_popular"]
    # no model is expected to beat the generator's own probabilities by more than noise
    for model in ("lstm", "gru", "markov"):
        assert r[f"recall_at_20_{model}"] <= r["recall_at_20_oracle"] + 0.05


def test_chapter_10_losses_and_protocol(chapter_results):
    r = chapter_results("10_next_item_prediction")
    assert r["lstm_final_val_loss"] < r["uniform_ce"]
    assert r["gru_final_val_loss"] < r["uniform_ce"]
    # the reference that matters: the popularity model's cross-entropy on the same targets
    assert r["lstm_final_val_loss"] < r["unigram_ce"] < r["uniform_ce"]
    entry = paths.cache_dir() / "models" / r["lstm_cache"]
    saved = json.loads((entry / "model.json").read_text())
    val_loss = saved["history"]["val_loss"]
    assert r["lstm_epochs"] == len(val_loss)
    assert r["lstm_best_epoch"] == saved["best_epoch"] == val_loss.index(min(val_loss)) + 1
    seq = get_profile("ci")["sequence"]
    assert r["lstm_train_windows"] <= seq["lstm"]["max_sequences"]
    assert r["lstm_epochs"] <= seq["lstm"]["epochs"]
    # the GRU ends by early stopping, `patience` epochs after its best one, before its
    # ceiling (observed at ci: best 13, stopped at 15 of at most 20)
    assert r["gru_epochs"] == r["gru_best_epoch"] + seq["patience"] < seq["gru"]["epochs"]
    # sampled metrics inflate full-catalogue ones (the chapter's point)
    for model in ("lstm", "gru", "popular"):
        assert r[f"sampled_recall_at_20_{model}"] > r[f"recall_at_20_{model}"]
    assert math.isclose(r["recall_ratio_gru_over_popular"],
                        r["recall_at_20_gru"] / r["recall_at_20_popular"], rel_tol=1e-9)


def test_chapter_10_saves_models_for_later_chapters(chapter_results):
    r = chapter_results("10_next_item_prediction")
    for name in ("lstm", "gru"):
        entry = paths.cache_dir() / "models" / r[f"{name}_cache"]
        assert (entry / "model.keras").exists() and (entry / "fit.json").exists()
    # safe-mode loading, no training code or data needed
    gru = NextItemModel.load(paths.cache_dir() / "models" / r["gru_cache"] / "model.keras")
    scores = gru.score_histories([[0, 1, 2]])
    assert scores.shape == (1, gru.n_items_)
    assert math.isclose(float(scores.sum()), 1.0, rel_tol=1e-5)


def test_chapter_10_network_written_in_the_chapter_is_the_library_one(chapter_results):
    r = chapter_results("10_next_item_prediction")
    for name in ("bilstm", "gru"):
        assert r[f"{name}_layer_params_equal"] is True, name
        assert r[f"{name}_params_chapter"] == r[f"{name}_params_library"] > 0, name
        # same graph, same copied weights, same float32 kernels: bit-identical logits here;
        # 1e-5 allows float32 rounding of logits of order 10 on another CPU
        assert r[f"{name}_vs_library_max_diff"] <= 1e-5, name


def test_chapter_10_ranking_loop_and_worked_example_match_metrics(chapter_results):
    r = chapter_results("10_next_item_prediction")
    # same scores, same masking, same tie-break (smaller id first): the per-user values are
    # identical and only the order of summation could differ, so 1e-9 is generous
    assert r["ranking_loop_vs_evaluate_max_diff"] <= 1e-9
    # one user, three metrics by hand against metrics.evaluate: exact
    assert r["toy_metrics_max_diff"] <= 1e-12
