"""course_utils.live: a slider in JupyterLab redraws the views in place; the book is static."""
from __future__ import annotations

import types

import pytest

from course_utils import live
from course_utils.live import Choice


def test_a_live_choice_redraws_every_view_in_place():
    seen: dict[str, list[int]] = {"table": [], "plot": []}

    def table(pos):
        seen["table"].append(pos)

    def plot(pos):
        seen["plot"].append(pos)

    choice = Choice(2, maximum=9, description="user #", live=True)
    choice.show(table)
    choice.show(plot)
    choice.show(table)            # running a cell again replaces its view, not adds one
    choice.slider.value = 7       # what moving the slider does
    assert seen == {"table": [2, 2, 7], "plot": [2, 7]}
    assert choice.value == 7
    assert (choice.slider.min, choice.slider.max, choice.slider.description) == (0, 9, "user #")
    assert not choice.slider.continuous_update, "redraw once the slider is let go"


def test_a_static_choice_draws_each_view_once_with_the_default(capsys):
    choice = Choice(4, maximum=9, description="user #", live=False)
    choice.control()
    choice.show(lambda pos: print("view of", pos))
    assert choice.slider is None
    assert capsys.readouterr().out == "view of 4\n"


def test_a_default_outside_the_range_is_refused():
    with pytest.raises(ValueError, match="outside 0..9"):
        Choice(10, maximum=9, description="user #", live=False)


def test_live_only_in_a_jupyter_kernel_not_under_the_course_runner(monkeypatch):
    kernel = type("ZMQInteractiveShell", (), {})()
    monkeypatch.setattr("IPython.get_ipython", lambda: kernel)
    monkeypatch.delenv("COURSE_RESULTS_FILE", raising=False)
    assert live.is_live()
    monkeypatch.setenv("COURSE_RESULTS_FILE", "/tmp/results.json")
    assert not live.is_live()
    monkeypatch.delenv("COURSE_RESULTS_FILE")
    monkeypatch.setattr("IPython.get_ipython", lambda: types.SimpleNamespace())
    assert not live.is_live(), "a terminal IPython is not a live notebook"
