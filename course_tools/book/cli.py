"""``course book``: execute and build; ``course book build``: build only; ``course book check``.

``course book [--profile P]`` executes every chapter, then builds the book;
``course book build [--profile P]`` builds it from the chapters ``course run``
already executed (the same as ``course book --no-execute``);
``course book check [--profile P]`` checks the executed chapters (and the built
site) without building.

Example
-------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="course")
>>> register(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["book", "--profile", "ci", "--no-execute"])
>>> args.profile, args.execute
('ci', 'none')
"""
from __future__ import annotations

import argparse
import sys

from course_utils.config import PROFILE_NAMES


def _cmd_book(args: argparse.Namespace) -> int:
    from course_tools.book.assemble import BookError
    from course_tools.book.build import build_book

    profile = getattr(args, "build_profile", None) or args.profile
    try:
        index = build_book(profile, execute=args.execute)
    except BookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"The book is ready: {index}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from course_tools.book.assemble import find_chapters
    from course_tools.book.build import check_executed, format_problems, html_dir
    from course_tools.book.check import scan_html
    from course_utils.config import resolve_profile_name

    profile = resolve_profile_name(args.check_profile or args.profile)
    chapters = find_chapters(profile)
    problems = check_executed(chapters, profile)
    site = html_dir(profile)
    if site.exists():
        problems += scan_html(site)
    if problems:
        print(format_problems(f"{len(problems)} problem(s):", problems), file=sys.stderr)
        return 1
    where = f" and the site in {site}" if site.exists() else ""
    print(f"ok: {len(chapters)} executed chapter(s) at profile {profile}{where}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``book`` (and ``book check``) to the ``course`` command."""
    book = subparsers.add_parser(
        "book", help="execute the chapters and build the HTML book",
        description="Execute every chapter with papermill, check the outputs, and "
                    "build the Jupyter Book; prints the path of index.html.")
    book.add_argument("--profile", default=None, choices=PROFILE_NAMES,
                      help="default: $COURSE_PROFILE or book")
    mode = book.add_mutually_exclusive_group()
    mode.add_argument("--no-execute", dest="execute", action="store_const", const="none",
                      help="use the notebooks already executed by `course run`")
    mode.add_argument("--execute-stale", dest="execute", action="store_const",
                      const="stale", help="execute only chapters that are missing, "
                      "failed, or older than their source")
    book.set_defaults(func=_cmd_book, execute="all")

    sub = book.add_subparsers(dest="book_command")
    check = sub.add_parser("check", help="check the executed chapters (and the built "
                           "site, if any) without building")
    check.add_argument("--profile", dest="check_profile", default=None,
                       choices=PROFILE_NAMES)
    check.set_defaults(func=_cmd_check)

    build = sub.add_parser("build", help="build from the chapters already executed by "
                           "`course run` (no execution)")
    build.add_argument("--profile", dest="build_profile", default=None, choices=PROFILE_NAMES)
    build.add_argument("--execute-stale", dest="execute", action="store_const",
                       const="stale", help="first execute chapters that are missing, "
                       "failed, or older than their source")
    build.set_defaults(func=_cmd_book, execute="none")
