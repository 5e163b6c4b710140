"""The time box under every chapter's title (course_tools.times)."""
from __future__ import annotations

import json

import pytest

from course_tools import times
from course_utils import paths

CHAPTER = """# A chapter

Five words of prose here.

```{code-cell} ipython3
a = 1
b = 2
```

```{exercise-start}
:label: ex-1
```
Write it.
```{exercise-end}
```

```{solution-start} ex-1
```
```{code-cell} ipython3
x = 1
y = 2
z = 3
```
```{solution-end}
```
"""


def test_effort_counts_prose_code_exercises_and_solution_lines():
    assert times.effort(CHAPTER) == {"reading": 5, "exercises": 15, "n_exercises": 1}
    long = CHAPTER + "word " * 3000  # 20 min of prose at 150 words a minute
    assert times.effort(long)["reading"] == 25  # 20 + the rest, rounded up to 5


def test_write_box_puts_it_under_the_title_and_replaces_an_old_one(tmp_path):
    path = tmp_path / "04_x.md"
    path.write_text("---\nfront: matter\n---\n\n" + CHAPTER)
    assert times.write_box(path, {"04_x": {"ci": 7.2, "book": 125.0}})
    text = path.read_text()
    assert text.index("# A chapter") < text.index(times.BEGIN) < text.index("Five words")
    assert "7 s at `ci` and 2 min at `book`" in text
    assert not times.write_box(path, {"04_x": {"ci": 7.2, "book": 125.0}})  # unchanged
    assert times.write_box(path, {"04_x": {"ci": 9.0}})
    text = path.read_text()
    assert text.count(times.BEGIN) == 1 and "9 s at `ci`." not in text and "9 s at `ci` on" in text


def test_save_keeps_only_successful_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    (tmp_path / "book").mkdir()
    for profile, runs in {"ci": {"01_a": ("ok", 6.31), "02_b": ("failed", 1.0)},
                          "book": {"01_a": ("ok", 16.44)}}.items():
        folder = paths.executed_dir(profile)
        folder.mkdir(parents=True)
        (folder / "stats.json").write_text(json.dumps(
            {ch: {"status": st, "wall_s": s} for ch, (st, s) in runs.items()}))
    saved = times.save_times()
    assert saved == {"01_a": {"ci": 6.3, "book": 16.4}}
    assert times.load_times() == saved


@pytest.mark.parametrize("chapter", [p.stem for p in paths.chapters()])
def test_every_chapter_opens_with_its_generated_time_box(chapter):
    """Issue 17: reading, exercises and measured compute at ci and book, generated (not
    typed): the box in the chapter is what `course times --write` writes from the
    committed book/chapter_times.json."""
    committed = times.load_times()
    assert set(committed.get(chapter, {})) == {"ci", "book"}, (
        f"{chapter} has no measured ci and book time: run it at both profiles, then "
        "`course times --save --write`")
    text = (paths.notebooks_dir() / f"{chapter}.md").read_text()
    assert text.count(times.BEGIN) == 1
    assert times.render_box(chapter, text, committed) in text, (
        f"{chapter}'s time box is out of date: run `course times --write`")
