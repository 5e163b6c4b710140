"""Student notebooks, hand-outs and grading (``course student``, ``course grade``).

The exercise checkers themselves live in ``course_utils.exercises``: a student calls
them from the chapters. This package makes the student notebooks from the chapters
(:mod:`~course_tools.grading.student`), the hand-out an instructor gives students
(:mod:`~course_tools.grading.handout`) and grades submissions
(:mod:`~course_tools.grading.grade`, :mod:`~course_tools.grading.answers`).
"""
