"""The course's machinery: what runs the course, not what it teaches.

A student reads ``course_utils`` (the models, metrics and data the chapters call);
this package holds what they need not read:

- :mod:`course_tools.cli` — the ``course`` command;
- :mod:`course_tools.runner` — executes chapters with papermill, with a timing table;
- :mod:`course_tools.doctor` — checks the environment (``course doctor``);
- :mod:`course_tools.book` — assembles and builds the Jupyter Book;
- :mod:`course_tools.grading` — student notebooks, hand-outs and the grader;
- :mod:`course_tools.data_cli` — ``course data`` (generate, load);
- :mod:`course_tools.spark_session` — a quiet Spark session, Java, a local cluster.

It imports ``course_utils``; ``course_utils`` never imports it (a test checks).
"""
