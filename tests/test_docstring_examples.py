"""The example in every ``course_utils`` and ``course_tools`` docstring runs and prints what it shows.

A student reads these examples before the code; one that no longer runs teaches the
wrong thing. Examples that need a generated dataset, Spark or a trained network are
marked ``# doctest: +SKIP`` in their docstring and shown, not run, here: the chapters
and the other tests run that code.
"""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import course_tools
import course_utils

MODULES = sorted(info.name for package in (course_utils, course_tools)
                 for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    for test in finder.find(module, name):
        result = runner.run(test, out=report.append)
        assert result.failed == 0, "".join(report)
