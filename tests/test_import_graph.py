"""The two tiers: ``course_utils`` (what a student reads) never imports ``course_tools``
(the machinery); the machinery may import the library."""
from __future__ import annotations

import ast
from pathlib import Path

import course_tools
import course_utils

LIBRARY = Path(course_utils.__file__).parent
TOOLS = Path(course_tools.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_library_never_imports_the_machinery():
    offenders = {str(path.relative_to(LIBRARY.parent)): sorted(
                     m for m in imported_modules(path) if m.split(".")[0] == "course_tools")
                 for path in sorted(LIBRARY.rglob("*.py"))}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from course_tools.runner import run_chapter\n")
    assert "course_tools.runner" in imported_modules(module)


def test_the_machinery_lives_apart():
    assert not any((LIBRARY / name).exists() for name in
                   ("cli.py", "runner.py", "doctor.py", "book", "data/cli.py", "data/lock.py",
                    "exercises/grade.py", "exercises/student.py", "exercises/_execute.py"))
    assert (TOOLS / "spark_session.py").exists() and (TOOLS / "grading" / "grade.py").exists()


def test_the_readme_states_the_size_of_each_tier():
    """The layout table's line counts stay within 10 % of the code (update them when not)."""
    import re

    readme = (LIBRARY.parent / "README.md").read_text(encoding="utf-8")
    for package, folder in (("course_utils", LIBRARY), ("course_tools", TOOLS)):
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{package}/` |"))
        stated = int(re.search(r"\(([\d,]+) lines\)", row).group(1).replace(",", ""))
        actual = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in folder.rglob("*.py"))
        assert abs(stated - actual) <= 0.1 * actual, (package, stated, actual)
