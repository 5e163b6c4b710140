"""What changes on real data? Chapters 01-08's key numbers, synthetic against real.

The question: are the course's lessons properties of its generator, or do they hold on
real MyAnimeList ratings? This script reads the numbers the chapters recorded in two runs
at the same profile and prints them side by side as a markdown table (the one in
``benchmarks/README.md`` and chapter 12).

Run (about 25 minutes for each source at ``book`` on 2 cores)::

    .venv/bin/course data import-caserec anime.zip --out data/kaggle_cooper_caserec
    .venv/bin/course run 01 02 03 04 05 06 07 08 --profile book
    .venv/bin/course run 01 02 03 04 05 06 07 08 --profile book --source kaggle_cooper \\
        --data-dir data/kaggle_cooper_caserec
    .venv/bin/python benchmarks/real_vs_synthetic.py --profile book --save

``--synthetic DIR`` / ``--real DIR`` read the ``*.results.json`` files of another
checkout (for example a clean clone's ``build/executed/book``). With ``--save``, a chapter
that neither folder holds keeps its rows from the stored record, so re-running only the
chapters that changed updates only their rows (the script names the chapters it kept).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_tools.runner import output_dir  # noqa: E402

#: (chapter, recorded key, what it is); a key a chapter did not record prints as "—"
ROWS = [
    ("01_dataset", "n_users", "users"),
    ("01_dataset", "n_items", "anime"),
    ("01_dataset", "rows_kept", "list entries kept"),
    ("01_dataset", "density", "density of the list matrix"),
    ("01_dataset", "zero_share", "share of entries without a score"),
    ("01_dataset", "mean_score", "mean score"),
    ("02_signals", "share_users_without_scores", "share of users who never score"),
    ("03_evaluation", "rmse_global_mean", "test RMSE, global mean"),
    ("03_evaluation", "rmse_user_item_bias", "test RMSE, user + item bias"),
    ("04_matrix_factorization", "rmse_user_item_bias", "04: test RMSE, user + item bias"),
    ("04_matrix_factorization", "rmse_sgd", "04: test RMSE, SGD matrix factorization"),
    ("04_matrix_factorization", "rmse_als", "04: test RMSE, ALS (biased)"),
    ("04_matrix_factorization", "als_best_rank", "04: ALS rank chosen on validation"),
    ("04_matrix_factorization", "als_best_reg", "04: ALS λ chosen on validation"),
    ("05_spark_als", "rmse_spark_als", "05: test RMSE, Spark ALS at the profile's settings"),
    ("05_spark_als", "rmse_spark_als_tuned", "05: test RMSE, tuned Spark ALS"),
    ("05_spark_als", "spark_best_rank", "05: Spark rank chosen"),
    ("05_spark_als", "spark_best_reg", "05: Spark λ chosen"),
    ("06_neural_networks", "rmse_user_item_bias_test", "06: test RMSE, user + item bias"),
    ("06_neural_networks", "rmse_als_test", "06: test RMSE, ALS"),
    ("06_neural_networks", "rmse_beta_100_test", "06: test RMSE, embedding network (100)"),
    ("07_overfitting_dropout", "beta_100_best_epoch", "07: network 100, best epoch"),
    ("07_overfitting_dropout", "beta_100_epochs_run", "07: network 100, epochs run"),
    ("07_overfitting_dropout", "nodrop_gap", "07: train-valid gap without dropout"),
    ("07_overfitting_dropout", "dropout_05_gap", "07: train-valid gap with dropout 0.5"),
    ("08_stacking", "rmse_user_item_bias", "08: test RMSE, user + item bias"),
    ("08_stacking", "rmse_nn_100", "08: test RMSE, network 100"),
    ("08_stacking", "rmse_nn_150", "08: test RMSE, network 150"),
    ("08_stacking", "rmse_ensemble_ridge", "08: test RMSE, stacked networks (ridge)"),
    ("08_stacking", "stack_gain_over_best_nn", "08: stacking's gain over the best network"),
    ("08_stacking", "rmse_stack_all", "08: test RMSE, stack of networks + MF + biases"),
]


def _results(folder: Path) -> dict[str, dict]:
    return {p.name.removesuffix(".results.json"): json.loads(p.read_text())
            for p in sorted(folder.glob("*.results.json"))}


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(synthetic: dict[str, dict], real: dict[str, dict]) -> str:
    """A markdown table of every row in ``ROWS`` that either run recorded."""
    lines = ["| chapter | number | synthetic | real |", "| --- | --- | ---: | ---: |"]
    for chapter, key, label in ROWS:
        a, b = synthetic.get(chapter, {}).get(key), real.get(chapter, {}).get(key)
        if a is None and b is None:
            continue
        lines.append(f"| {chapter[:2]} | {label} | {_cell(a)} | {_cell(b)} |")
    return "\n".join(lines)


def rows(synthetic: dict[str, dict], real: dict[str, dict]) -> list[dict]:
    """The table's rows as records (what ``--save`` writes for chapter 12 to read)."""
    out = []
    for chapter, key, label in ROWS:
        a, b = synthetic.get(chapter, {}).get(key), real.get(chapter, {}).get(key)
        if a is not None or b is not None:
            out.append({"chapter": chapter, "key": key, "number": label, "synthetic": a,
                        "real": b})
    return out


def stored_results(record: dict, synthetic: dict[str, dict], real: dict[str, dict]) -> list[str]:
    """Fill ``synthetic`` and ``real`` (in place) with a stored record's numbers for every
    column of a chapter the runs did not record; returns what was kept, e.g. ``["05 real"]``.

    Example
    -------
    >>> record = {"rows": [{"chapter": "05_x", "key": "k", "synthetic": 1.0, "real": 2.0}]}
    >>> synthetic, real = {"05_x": {"k": 1.5}}, {}
    >>> stored_results(record, synthetic, real), real
    (['05 real'], {'05_x': {'k': 2.0}})
    """
    kept = []
    for column, results in (("synthetic", synthetic), ("real", real)):
        missing = {row["chapter"] for row in record.get("rows", [])} - set(results)
        for row in record.get("rows", []):
            if row["chapter"] in missing and row[column] is not None:
                results.setdefault(row["chapter"], {})[row["key"]] = row[column]
        kept += [f"{chapter[:2]} {column}" for chapter in sorted(missing)]
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="book")
    parser.add_argument("--synthetic", type=Path, default=None)
    parser.add_argument("--real", type=Path, default=None)
    parser.add_argument("--save", action="store_true",
                        help="also write benchmarks/real_vs_synthetic.json (read by chapter 12)")
    args = parser.parse_args(argv)
    synthetic = _results(args.synthetic or output_dir(args.profile))
    real = _results(args.real or output_dir(args.profile, "kaggle_cooper"))
    target = ROOT / "benchmarks" / "real_vs_synthetic.json"
    if args.save and target.exists():
        kept = stored_results(json.loads(target.read_text()), synthetic, real)
        if kept:
            print(f"kept from {target.name} (not in these runs): {', '.join(kept)}",
                  file=sys.stderr)
    if not real:
        print("no real-data results: run the chapters with --source kaggle_cooper first "
              "(see the docstring)", file=sys.stderr)
        return 1
    print(table(synthetic, real))
    if args.save:
        record = {"profile": args.profile, "real_source": "kaggle_cooper (caserec sample, "
                  "5,000 users, 419,943 scores; see data/README.md)",
                  "rows": rows(synthetic, real)}
        target.write_text(json.dumps(record, indent=1) + "\n")
        print(f"saved {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
