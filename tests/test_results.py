import json
import math

import numpy as np
import pytest

from course_utils.results import load_results, record, recorded


def test_record_writes_json_beside_the_notebook(tmp_path, monkeypatch):
    target = tmp_path / "ch.results.json"
    monkeypatch.setenv("COURSE_RESULTS_FILE", str(target))
    record("rmse", np.float32(1.25))
    record("curve", [np.float64(1.0), 0.5])
    assert load_results(target) == {"rmse": 1.25, "curve": [1.0, 0.5]}
    assert recorded()["rmse"] == 1.25
    assert not list(tmp_path.glob("*.tmp"))  # atomic: no temporary file left


def test_record_without_a_file_keeps_values_in_memory(monkeypatch):
    monkeypatch.delenv("COURSE_RESULTS_FILE", raising=False)
    assert record("recall_at_20", 0.31) == 0.31
    assert recorded()["recall_at_20"] == 0.31


def test_non_finite_values_are_refused(monkeypatch):
    monkeypatch.delenv("COURSE_RESULTS_FILE", raising=False)
    with pytest.raises(ValueError, match="non-finite"):
        record("loss", math.nan)
