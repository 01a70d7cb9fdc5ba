"""Hostile text: formula cells and control characters, handled in one place.

Imported by every stage (it imports nothing of the package):

* :func:`is_formula` / :func:`neutralise_cell`: a text cell a spreadsheet would
  run as a formula (starting ``= + - @``, a tab or a carriage return; numbers
  such as ``-3.5`` excepted) is made plain text. The CSV writers prefix such a
  cell with a single quote; the workbook stores it as text with Excel's quote
  prefix.
* :func:`control_characters` / :func:`escape_control`: control characters
  (C0, DEL, C1) and the Unicode bidirectional overrides that reorder what a
  terminal shows. Inputs refuse them; every text output escapes them
  (``\\x1b``), so a name can neither inject terminal escape sequences nor break
  a workbook.
"""

from __future__ import annotations

import re

#: Leading characters a spreadsheet reads as the start of a formula (OWASP's list, plus the
#: full-width forms some spreadsheet locales also accept).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")

#: Control characters, line/paragraph separators and bidirectional overrides/isolates.
_OTHER_CONTROL = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
CONTROL_RE = re.compile(f"[\x00-\x1f{_OTHER_CONTROL}]")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def is_formula(value: object) -> bool:
    """Whether ``value`` is text a spreadsheet would take as a formula (numbers are not)."""
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and not _is_number(value.strip())
    )


def neutralise_cell(value: object) -> object:
    """``value`` with a leading ``'`` if a spreadsheet would run it as a formula."""
    if is_formula(value):
        return "'" + str(value)
    return value


def restore_cell(value: object) -> object:
    """``value`` as it was before :func:`neutralise_cell` (a plan's CSV read back)."""
    if isinstance(value, str) and value.startswith("'") and is_formula(value[1:]):
        return value[1:]
    return value


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str, *, keep: str = "") -> str:
    """``text`` with every control character written out as ``\\xNN`` / ``\\uNNNN``.

    Characters in ``keep`` are left alone (say ``"\\n"`` for multi-line messages of our own).
    """
    if not CONTROL_RE.search(text):
        return text
    return CONTROL_RE.sub(lambda m: m.group() if m.group() in keep else _escape_one(m), text)


def control_characters(text: str) -> list[str]:
    """The distinct control characters in ``text``, escaped, in order of appearance."""
    seen: list[str] = []
    for char in CONTROL_RE.findall(text):
        shown = escape_control(char)
        if shown not in seen:
            seen.append(shown)
    return seen
