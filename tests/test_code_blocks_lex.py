"""Every fenced code block in the chapters and book pages lexes cleanly.

Sphinx runs Pygments on each ```` ```bash ```` (or ```` ```python ````, ...) block and, with
``-W``, a block its lexer cannot read fails the whole book build (an apostrophe in a
bash block did, once). This finds such a block in a second, not after executing the
course for half an hour.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from pygments.filters import ErrorToken, RaiseOnErrorTokenFilter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([*ROOT.glob("notebooks/*.md"), *ROOT.glob("book/**/*.md"), ROOT / "README.md"])
FENCE = re.compile(r"^(`{3,})([A-Za-z0-9_+-]+)[^\n]*\n(.*?)^\1\s*$", re.S | re.M)


def _blocks(page: Path):
    text = page.read_text()
    for match in FENCE.finditer(text):
        yield text.count("\n", 0, match.start()) + 1, match.group(2), match.group(3)


def _lex(language: str, code: str) -> None:
    """Lex ``code`` as Sphinx would; raise on an error token (unknown languages pass)."""
    try:
        lexer = get_lexer_by_name(language)
    except ClassNotFound:
        return  # a MyST directive name or an unknown language: not highlighted
    lexer.add_filter(RaiseOnErrorTokenFilter())
    list(lexer.get_tokens(code))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_fenced_code_blocks_lex_without_errors(page):
    problems = []
    for line, language, code in _blocks(page):
        try:
            _lex(language, code)
        except ErrorToken as error:
            problems.append(f"{page.relative_to(ROOT)}:{line}: a ```{language} block does not "
                            f"lex ({error!r}); rewrite the offending characters")
    assert not problems, "\n".join(problems)


def test_the_check_catches_a_block_that_does_not_lex(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n\n```bash\nexport HOST=<this machine's address>\n```\n")
    [(line, language, code)] = list(_blocks(page))
    assert (line, language) == (3, "bash")
    with pytest.raises(ErrorToken):
        _lex(language, code)
