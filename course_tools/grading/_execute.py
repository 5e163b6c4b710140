"""Execute one notebook for the grader, in a process of its own (its kernel is its child).

Every cell runs, even after an error (``allow_errors``), so one unfinished
exercise does not cost the student the others; a cell that runs past the cell
time limit is interrupted and the next cell runs. The outcome is written as
JSON to ``--status``.

Two modes:

- feedback (default): the whole submission, with papermill; it decides no points.
- ``--result-fd N``: a grading notebook built by the grader
  (:func:`course_tools.grading.answers.grading_notebook`), run with nbclient;
  after each of the grader's check cells, its result is written as one JSON line
  to the file descriptor ``N``, a pipe from the grader that the kernel never gets
  (jupyter_client starts kernels with ``close_fds``).

Example
-------
``python -m course_tools.grading._execute in.ipynb out.ipynb --cwd DIR --status s.json``
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--cwd", required=True)
    parser.add_argument("--status", required=True)
    parser.add_argument("--profile", default="ci")
    parser.add_argument("--cell-timeout", type=int, default=None)
    parser.add_argument("--result-fd", type=int, default=None)
    args = parser.parse_args(argv)

    # jsonschema (imported by nbformat) builds the grammars of the optional
    # rfc3987_syntax package on import: ~2 s of CPU per notebook, for IRI formats
    # that the notebook schema never uses. Without it jsonschema skips those formats.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    if args.result_fd is not None:
        status = _grade(args)
        Path(args.status).write_text(json.dumps(status))
        return 0
    import papermill

    status: dict[str, str] = {"status": "ok"}
    try:
        papermill.execute_notebook(
            args.input, args.output, parameters={"PROFILE": args.profile},
            kernel_name="python3", cwd=args.cwd, progress_bar=False, log_output=False,
            execution_timeout=args.cell_timeout, allow_errors=True, interrupt_on_timeout=True,
        )
    except papermill.PapermillExecutionError:
        status = {"status": "errors"}  # some cells raised; the others ran
    except Exception as exc:  # the kernel died or never started: report it
        status = {"status": "crashed", "error": f"{type(exc).__name__}: {exc}".strip()}
    Path(args.status).write_text(json.dumps(status))
    return 0


def _grade(args: argparse.Namespace) -> dict[str, str]:
    """Run the grading notebook; stream each check's record to the result pipe."""
    import nbformat
    from nbclient import NotebookClient

    from course_tools.grading import answers

    nb = nbformat.read(args.input, as_version=4)
    pipe = os.fdopen(args.result_fd, "wb", buffering=0)

    def executed(cell: nbformat.NotebookNode, **_: object) -> None:
        for key, record in answers.cell_records(cell):
            pipe.write(answers.encode(key, record))

    client = NotebookClient(nb, timeout=args.cell_timeout, kernel_name="python3",
                            allow_errors=True, interrupt_on_timeout=True,
                            resources={"metadata": {"path": args.cwd}},
                            on_cell_executed=executed)
    status = {"status": "ok"}
    try:
        client.execute()
    except Exception as exc:  # the kernel died or never started: report it
        status = {"status": "crashed", "error": f"{type(exc).__name__}: {exc}".strip()}
    finally:
        pipe.close()
        nbformat.write(nb, args.output)
    if status["status"] == "ok" and any(out.get("output_type") == "error" for c in nb.cells
                                        for out in c.get("outputs", [])):
        status = {"status": "errors"}
    return status


if __name__ == "__main__":
    sys.exit(main())
