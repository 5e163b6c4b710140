"""``course data ...``: generate the synthetic files, or load a source and show its report.

Example
-------
``course data generate --profile book`` writes ``data/generated/book-seed42/``;
``course data report --source kaggle`` cleans the real files and prints the report;
``course data import-caserec anime.zip`` turns a public real sample into the
``kaggle_cooper`` files (:mod:`course_tools.real_sample`).
"""
from __future__ import annotations

import argparse
import time

from course_utils.config import DATA_SOURCES, PROFILE_NAMES


def _cmd_generate(args: argparse.Namespace) -> int:
    from course_utils.data.generate import generate

    start = time.perf_counter()
    folder = generate(args.profile, args.seed, out_dir=args.out, overwrite=args.force, progress=True)
    print(f"synthetic {args.profile} data (seed {args.seed}) in {folder} "
          f"[{time.perf_counter() - start:.1f} s]")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from course_utils.data import DataFormatError, load

    start = time.perf_counter()
    try:
        ds = load(args.source, data_dir=args.data_dir, profile=args.profile, seed=args.seed)
    except DataFormatError as exc:
        print(f"error: {exc}")
        return 1
    print(f"{ds} [{time.perf_counter() - start:.1f} s]")
    print(ds.report.drop(columns="description").to_string(index=False))
    return 0


def _cmd_import_caserec(args: argparse.Namespace) -> int:
    from course_tools.real_sample import SampleFormatError, convert_caserec_anime

    try:
        counts = convert_caserec_anime(args.zip, args.out)
    except SampleFormatError as exc:
        print(f"error: {exc}")
        return 1
    print(f"{counts['entries']:,} list entries ({counts['scored']:,} scored, "
          f"{counts['not_scored']:,} watched without a score) of {counts['users']:,} users on "
          f"{counts['anime']:,} anime written to {args.out}/rating.csv and anime.csv\n"
          f"run a chapter on them: course run 04 --source kaggle_cooper --data-dir {args.out}")
    return 0


def register(subparsers) -> None:
    """Add ``course data generate`` and ``course data report`` to the ``course`` command."""
    data = subparsers.add_parser("data", help="generate or inspect the datasets")
    sub = data.add_subparsers(dest="data_command", required=True)
    gen = sub.add_parser("generate", help="write the synthetic MyAnimeList files")
    gen.add_argument("--profile", default="ci", choices=PROFILE_NAMES)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", default=None, help="default: data/generated/<profile>-seed<seed>")
    gen.add_argument("--force", action="store_true", help="regenerate even if present")
    gen.set_defaults(func=_cmd_generate)
    rep = sub.add_parser("report", help="load (and cache) a source, print the cleaning report")
    rep.add_argument("--source", default="synthetic", choices=DATA_SOURCES)
    rep.add_argument("--profile", default="ci", choices=PROFILE_NAMES)
    rep.add_argument("--seed", type=int, default=42)
    rep.add_argument("--data-dir", default=None)
    rep.set_defaults(func=_cmd_report)
    imp = sub.add_parser("import-caserec", help="turn the real caserec Anime sample (anime.zip) "
                         "into the kaggle_cooper files (see data/README.md)")
    imp.add_argument("zip", help="Processed Datasets/Anime/anime.zip of "
                     "caserec/Datasets-for-Recommender-Systems")
    imp.add_argument("--out", default="data/kaggle_cooper_caserec")
    imp.set_defaults(func=_cmd_import_caserec)
