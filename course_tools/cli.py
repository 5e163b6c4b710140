"""The ``course`` command: run chapters, check the environment, and more.

Example
-------
``course run 00 03 --profile ci`` executes two chapters;
``course doctor`` checks Python, TensorFlow, Spark + Java and the data.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from course_utils.config import DATA_SOURCES, PROFILE_NAMES


def _cmd_run(args: argparse.Namespace) -> int:
    from course_tools.runner import ChapterNotFound, format_table, run_chapters

    try:
        runs = run_chapters(args.chapters, args.profile, args.seed, args.source, args.timeout,
                            data_dir=args.data_dir)
    except (ChapterNotFound, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(runs))
    failed = [r for r in runs if r.status != "ok"]
    for r in failed:
        print(f"FAILED {r.error}\n       see {r.output}", file=sys.stderr)
    return 1 if failed else 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from course_tools.doctor import format_checks, run_checks

    checks = run_checks(args.profile, args.source, with_tensorflow=not args.skip_tensorflow)
    print(format_checks(checks))
    return 1 if any(c.status == "fail" for c in checks) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute chapters with papermill")
    run.add_argument("chapters", nargs="*", help="e.g. 00 or 03_evaluation (default: all)")
    run.add_argument("--profile", default=None, choices=PROFILE_NAMES,
                     help="default: $COURSE_PROFILE or book")
    run.add_argument("--seed", type=int, default=42)
    run.add_argument("--source", default="synthetic", choices=DATA_SOURCES)
    run.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    run.add_argument("--data-dir", default=None,
                     help="folder of the real source's files (default: data/kaggle or "
                          "data/kaggle_cooper)")
    run.set_defaults(func=_cmd_run)

    doctor = sub.add_parser("doctor", help="check the environment")
    doctor.add_argument("--profile", default=None)
    doctor.add_argument("--source", default="synthetic")
    doctor.add_argument("--skip-tensorflow", action="store_true")
    doctor.set_defaults(func=_cmd_doctor)

    # Other parts of the course add their subcommands through a `register`
    # function in these modules (data generation, student notebooks, the book).
    for module in ("course_tools.data_cli", "course_tools.grading.cli", "course_tools.book.cli",
                   "course_tools.times"):
        if _module_exists(module):
            importlib.import_module(module).register(sub)
    return parser


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its parent package does not exist (yet)
        return False


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "profile", None) is None and args.command == "run":
        from course_utils.config import resolve_profile_name
        args.profile = resolve_profile_name(None)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
