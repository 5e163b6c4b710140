"""environment.yml mirrors the pins of pyproject.toml (the source of truth)."""
import re
import tomllib

from course_utils import paths


def pyproject_pins():
    data = tomllib.loads((paths.repo_root() / "pyproject.toml").read_text())
    project = data["project"]
    pins = project["dependencies"] + project["optional-dependencies"]["test"]
    return {p.split("==")[0].lower(): p.split("==")[1] for p in pins}


def environment_pins():
    text = (paths.repo_root() / "environment.yml").read_text()
    return {m.group(1).lower(): m.group(2)
            for m in re.finditer(r"^\s+- ([A-Za-z0-9_.-]+)==(\S+)$", text, re.M)}


def test_every_dependency_is_pinned_exactly():
    data = tomllib.loads((paths.repo_root() / "pyproject.toml").read_text())
    project = data["project"]
    for spec in project["dependencies"] + project["optional-dependencies"]["test"]:
        assert "==" in spec, f"{spec} is not pinned"


def test_environment_yml_mirrors_pyproject():
    assert environment_pins() == pyproject_pins()


def test_environment_yml_brings_python_311_and_java_17():
    text = (paths.repo_root() / "environment.yml").read_text()
    assert "python=3.11" in text and "openjdk=17" in text
