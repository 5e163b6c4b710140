"""Automatic checks: every checker passes its solution and names the typical mistakes.

Also: every ``check("NN.key", ...)`` in a chapter is registered, and every chapter's
exercises follow the course's format (see notebooks/CONVENTIONS.md).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from course_utils import paths
from course_utils.exercises import (CheckFailed, UnknownExercise, Wrong, check, evaluate,
                                    exercise, load_all, load_checks)
from course_utils.exercises import registry
from course_tools.grading.student import check_keys, outline

FIXTURES = Path(__file__).parent / "fixtures" / "exercises"
load_checks(FIXTURES / "demo_checks.py")
EXERCISES = load_all()
CHAPTERS = paths.chapters()


@pytest.fixture
def quiet_env(monkeypatch):
    """No runner, no grader: a student in JupyterLab."""
    for name in ("COURSE_RESULTS_FILE", registry.GRADE_FILE_ENV, registry.STRICT_ENV):
        monkeypatch.delenv(name, raising=False)


def test_chapter_00_has_a_registered_check():
    assert "00.sparsity" in EXERCISES


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_checker_has_a_solution_and_typical_mistakes(key):
    ex = EXERCISES[key]
    assert ex.right, f"{key}: give at least one right answer (right=[...])"
    assert ex.wrong, f"{key}: give at least one typical wrong answer (wrong=[(answer, phrase)])"


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_solutions_pass(key):
    for answer in EXERCISES[key].right:
        result = evaluate(key, answer)
        assert result.passed, result.message
        assert result.message.startswith("✔")


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_typical_mistakes_fail_with_their_hint(key):
    for answer, phrase in EXERCISES[key].wrong:
        result = evaluate(key, answer)
        assert not result.passed, f"{key}: a wrong answer passed (expected a hint about {phrase!r})"
        assert phrase in result.message, result.message
        assert "Hint:" in result.message


def test_sparsity_names_each_mistake():
    def density(m):
        m = np.asarray(m)
        return float((m != 0).mean())

    message = evaluate("00.sparsity", density).message
    assert "returned 0.25; expected 0.75" in message
    assert "density" in message


def test_unfinished_stub_says_not_done(quiet_env, capsys):
    def sparsity(matrix):
        raise NotImplementedError  # your code here

    check("00.sparsity", sparsity)
    out = capsys.readouterr().out
    assert "not done yet" in out and "NotImplementedError" in out


def test_an_exception_in_the_answer_is_shown_with_the_call(quiet_env):
    result = evaluate("00.sparsity", lambda matrix: 1 / 0)
    assert result.status == "wrong"
    assert "ZeroDivisionError" in result.message and "<lambda>(" in result.message


def test_a_value_instead_of_a_function_is_explained():
    result = evaluate("00.sparsity", 0.75)
    assert "pass the function itself" in result.message


def test_check_prints_success(quiet_env, capsys):
    check("00.sparsity", EXERCISES["00.sparsity"].right[0])
    assert capsys.readouterr().out.startswith("✔ 00.sparsity")


def test_unknown_key_lists_the_chapter_keys():
    with pytest.raises(UnknownExercise, match="00.sparsity"):
        evaluate("00.sparsty", lambda m: 0)


def test_checks_record_json_lines_for_the_grader(quiet_env, monkeypatch, tmp_path, capsys):
    grade_file = tmp_path / "checks.jsonl"
    monkeypatch.setenv(registry.GRADE_FILE_ENV, str(grade_file))
    check("00.sparsity", EXERCISES["00.sparsity"].right[0])
    check("00.sparsity", lambda m: 0.25)
    records = [json.loads(line) for line in grade_file.read_text().splitlines()]
    assert [(r["key"], r["passed"], r["earned"]) for r in records] == \
        [("00.sparsity", True, 1.0), ("00.sparsity", False, 0.0)]


def test_failing_check_raises_under_the_course_runner(quiet_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_RESULTS_FILE", str(tmp_path / "results.json"))
    with pytest.raises(CheckFailed, match="00.sparsity"):
        check("00.sparsity", lambda m: 0.25)
    check("00.sparsity", EXERCISES["00.sparsity"].right[0])  # a right answer never raises
    monkeypatch.setenv(registry.GRADE_FILE_ENV, str(tmp_path / "g.jsonl"))
    check("00.sparsity", lambda m: 0.25)  # the grader collects, it does not stop


def test_strict_mode_can_be_forced_either_way(monkeypatch):
    monkeypatch.delenv("COURSE_RESULTS_FILE", raising=False)
    monkeypatch.setenv(registry.STRICT_ENV, "1")
    assert registry.strict_mode()
    monkeypatch.setenv("COURSE_RESULTS_FILE", "x.json")
    monkeypatch.setenv(registry.STRICT_ENV, "0")
    assert not registry.strict_mode()


def test_keys_must_name_a_chapter():
    with pytest.raises(ValueError, match="chapter.name"):
        exercise("sparsity", title="no chapter")


def test_a_key_cannot_be_registered_by_two_checkers():
    @exercise("98.once", title="first")
    def first(answer):
        if answer != 1:
            raise Wrong("not 1", hint="one")

    try:
        assert evaluate("98.once", 1).passed and not evaluate("98.once", 2).passed
        with pytest.raises(ValueError, match="registered twice"):
            @exercise("98.once", title="second")
            def second(answer):
                return None
    finally:
        registry._REGISTRY.pop("98.once")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_check_key_of_a_chapter_is_registered(chapter):
    for key in check_keys(chapter):
        assert key in EXERCISES, (f"{chapter.name} calls check({key!r}) but no checker is "
                                  f"registered: add it to course_utils/exercises/ch{key[:2]}.py")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_exercise_format_of_each_chapter(chapter):
    _, problems = outline(chapter)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_each_chapter_has_three_exercises_one_auto_checked(chapter):
    exercises, _ = outline(chapter)
    assert len(exercises) >= 3, (f"{chapter.name}: {len(exercises)} exercise(s); every chapter "
                                 "needs a conceptual, an auto-checked and an open-ended one")
    assert all(ex.has_solution for ex in exercises)
    assert any(ex.checks for ex in exercises), f"{chapter.name}: no auto-checked exercise"
    assert any(not ex.has_code for ex in exercises), \
        f"{chapter.name}: no conceptual or open-ended (text) exercise"
