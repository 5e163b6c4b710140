"""Execute one submitted notebook with papermill (the grader runs this in its own process).

Every cell runs, even after an error (``allow_errors``), so one unfinished
exercise does not cost the student the others; a cell that runs past the cell
time limit is interrupted and the next cell runs. The outcome is written as
JSON to ``--status``; checks record their own results (``COURSE_GRADE_FILE``).

Example
-------
``python -m course_utils.exercises._execute in.ipynb out.ipynb --cwd DIR --status s.json``
"""
from __future__ import annotations

import argparse
import json
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
    args = parser.parse_args(argv)

    # jsonschema (imported by nbformat) builds the grammars of the optional
    # rfc3987_syntax package on import: ~2 s of CPU per notebook, for IRI formats
    # that the notebook schema never uses. Without it jsonschema skips those formats.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
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


if __name__ == "__main__":
    sys.exit(main())
