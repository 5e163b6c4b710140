"""A small Sphinx extension with the book's fixes to its theme's HTML.

sphinx-thebe 0.3.1 and sphinx-togglebutton register their inline scripts twice
under Sphinx 7.4, so every page threw ``Identifier 'THEBE_JS_URL' has already
been declared`` (a ``const`` declared twice). This extension drops repeated
scripts from each page just before it is written. It is loaded from
``book/_config.yml`` (``sphinx.extra_extensions``).

Example
-------
>>> class Js:
...     def __init__(self, filename, **attributes):
...         self.filename, self.attributes = filename, attributes
>>> context = {"script_files": [Js("", body="const A = 1"), Js("", body="const A = 1"),
...                             Js("a.js")]}
>>> unique_scripts(None, "index", "page.html", context, None)
>>> len(context["script_files"])
2
"""
from __future__ import annotations

from typing import Any


def _key(script: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    filename = str(getattr(script, "filename", script) or "")
    attributes = getattr(script, "attributes", {}) or {}
    return filename, tuple(sorted((str(k), str(v)) for k, v in attributes.items()))


def unique_scripts(app: Any, pagename: str, templatename: str,
                   context: dict[str, Any], doctree: Any) -> None:
    """Keep the first of each identical ``<script>`` of a page (html-page-context)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Any) -> dict[str, Any]:
    """Register the handler, after the themes and extensions have added theirs."""
    app.connect("html-page-context", unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
