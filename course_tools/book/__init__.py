"""The course's book: assemble, check and build it with Jupyter Book.

Modules, in the order a build uses them:

- :mod:`course_tools.book.check` — scans executed chapters for warnings, errors
  and tracebacks, and the built site for files loaded from other hosts;
- :mod:`course_tools.book.stats` — the execution-statistics page;
- :mod:`course_tools.book.assemble` — writes ``build/book_src/<profile>/`` from
  ``book/`` and the executed chapters, with a generated table of contents;
- :mod:`course_tools.book.build` — runs the steps and ``jupyter-book build``;
- :mod:`course_tools.book.cli` — ``course book`` and ``course book check``.

Example
-------
``course book --profile ci --no-execute`` builds the book from the chapters
already executed at the ``ci`` profile and prints the path of its index.html.
"""
