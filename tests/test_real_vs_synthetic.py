"""benchmarks/real_vs_synthetic.py: the synthetic-vs-real table of issue 21."""
from __future__ import annotations

import importlib.util
import json

from course_utils import paths

spec = importlib.util.spec_from_file_location(
    "real_vs_synthetic", paths.repo_root() / "benchmarks" / "real_vs_synthetic.py")
rvs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rvs)


def _write(folder, results):
    folder.mkdir(parents=True)
    for chapter, numbers in results.items():
        (folder / f"{chapter}.results.json").write_text(json.dumps(numbers))


def test_table_lists_what_either_run_recorded():
    text = rvs.table({"04_matrix_factorization": {"rmse_als": 1.0}},
                     {"04_matrix_factorization": {"rmse_als": 1.25, "als_best_rank": 64}})
    assert "| 04 | 04: test RMSE, ALS (biased) | 1.0000 | 1.2500 |" in text
    assert "| 04 | 04: ALS rank chosen on validation | — | 64 |" in text
    assert "n_users" not in text and "users |" not in text


def test_save_updates_the_rerun_chapters_and_keeps_the_others(tmp_path, monkeypatch):
    monkeypatch.setattr(rvs, "ROOT", tmp_path)
    (tmp_path / "benchmarks").mkdir()
    stored = {"rows": [{"chapter": "01_dataset", "key": "n_users", "number": "users",
                        "synthetic": 10, "real": 20},
                       {"chapter": "04_matrix_factorization", "key": "rmse_als",
                        "number": "x", "synthetic": 9.0, "real": 9.0}]}
    (tmp_path / "benchmarks" / "real_vs_synthetic.json").write_text(json.dumps(stored))
    _write(tmp_path / "syn", {"01_dataset": {"n_users": 11},
                              "04_matrix_factorization": {"rmse_als": 1.0}})
    _write(tmp_path / "real", {"04_matrix_factorization": {"rmse_als": 1.2}})
    assert rvs.main(["--synthetic", str(tmp_path / "syn"), "--real", str(tmp_path / "real"),
                     "--save"]) == 0
    saved = json.loads((tmp_path / "benchmarks" / "real_vs_synthetic.json").read_text())
    values = {(r["key"], "synthetic"): r["synthetic"] for r in saved["rows"]}
    values.update({(r["key"], "real"): r["real"] for r in saved["rows"]})
    # re-run numbers replace the stored ones; the chapter without a real run keeps its own
    assert values == {("n_users", "synthetic"): 11, ("n_users", "real"): 20,
                      ("rmse_als", "synthetic"): 1.0, ("rmse_als", "real"): 1.2}


def test_no_real_run_is_a_clear_error(tmp_path, capsys):
    _write(tmp_path / "syn", {"01_dataset": {"n_users": 11}})
    (tmp_path / "real").mkdir()
    assert rvs.main(["--synthetic", str(tmp_path / "syn"), "--real", str(tmp_path / "real")]) == 1
    assert "--source kaggle_cooper" in capsys.readouterr().err


def test_the_readme_shows_the_stored_table():
    """benchmarks/README.md carries the table of the stored record (chapter 12 reads the same)."""
    record = json.loads((paths.repo_root() / "benchmarks" / "real_vs_synthetic.json").read_text())
    synthetic, real = {}, {}
    rvs.stored_results(record, synthetic, real)
    readme = (paths.repo_root() / "benchmarks" / "README.md").read_text()
    assert rvs.table(synthetic, real) in readme
