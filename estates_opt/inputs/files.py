"""Reading the dataset's text tables (CSV, Parquet): encodings, line numbers, problems."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from estates_opt.errors import Problem
from estates_opt.paths import exists_as_something, kind_of
from estates_opt.schema import FileSpec

#: ``frame.attrs`` flag: every cell is a stripped string (read by :func:`read_text_table`).
STRIPPED_TEXT = "estates_opt_stripped_text"

TABLE_SUFFIXES = (".csv", ".parquet")
GEO_SUFFIXES = (".geojson", ".gpkg")


def resolve_input(directory: Path, spec: FileSpec) -> Path | None:
    """Find ``spec``'s file in ``directory``, accepting the alternative formats."""
    stem = Path(spec.name).stem
    suffixes = GEO_SUFFIXES if spec.format == "geojson" else TABLE_SUFFIXES
    for suffix in suffixes:
        candidate = directory / f"{stem}{suffix}"
        if kind_of(candidate) is None:  # a regular file: never open a pipe or a device
            return candidate
    return None


def not_a_file(directory: Path, spec: FileSpec) -> Problem | None:
    """A problem if ``spec``'s file is there but is a folder, a pipe, a device... (not read)."""
    stem = Path(spec.name).stem
    for suffix in GEO_SUFFIXES if spec.format == "geojson" else TABLE_SUFFIXES:
        candidate = directory / f"{stem}{suffix}"
        what = kind_of(candidate)
        if what is not None and exists_as_something(candidate):
            return Problem(
                candidate.name,
                f"is {what} (in {directory}).",
                fix=f"put the {spec.name} file itself there ({spec.description}).",
            )
    return None


def read_text_table(path: Path) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read a CSV or Parquet table with every cell as text (empty cell -> "")."""
    name = path.name
    if path.suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for a broken file
            return None, [
                Problem(name, f"cannot be read as Parquet ({exc}).", fix="write it again.")
            ]
        frame.columns = [str(c) for c in frame.columns]
        repeated = _repeated_columns(name, list(frame.columns))
        if repeated:
            return None, repeated
        return frame.astype(object).where(frame.notna(), "").astype(str), []
    raw = path.read_bytes()
    if not raw.strip():
        return None, [Problem(name, "is empty.", fix="write a header row and data rows.")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [
            Problem(
                name,
                f"is not UTF-8 text (bad byte at line {line}).",
                fix="save the file as UTF-8 CSV.",
            )
        ]
    simple = _plain_lines(text)
    if simple is not None:
        return _table_from_rows(name, simple, strip=False)
    # Keep each record's first line number in the file, so blank lines and quoted
    # line breaks do not shift the line numbers that problems report.
    numbered: list[tuple[int, list[str]]] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        start = 1
        for record in reader:
            numbered.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        return None, [
            Problem(
                name,
                f"is not valid CSV ({exc}).",
                row=f"line {start}",
                fix="save the file again as comma-separated CSV.",
            )
        ]
    if numbered and '"' in text and _ends_inside_quotes(text):
        return None, [
            Problem(
                name,
                'has a double quote (") that is never closed, so the rest of the file '
                "was read as one value.",
                row=f"line {numbered[-1][0]}",
                fix="close the quote, or remove it.",
            )
        ]
    numbered = [(n, r) for n, r in numbered if "".join(r).strip()]  # no blank records
    return _table_from_rows(name, numbered, strip=True, ragged_fix=_ragged_fix(text))


#: ASCII characters ``str.strip`` removes, besides the line feed that ends a line.
_ASCII_SPACE = (" ", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


def _plain_lines(text: str) -> list[tuple[int, list[str]]] | None:
    """The numbered non-blank records of CSV text with nothing for a CSV reader to interpret.

    ASCII with no quote, no NUL, no space, tab or carriage return, and no line near the
    reader's field size limit: every line is one record and splits at its commas into cells
    that need no stripping, exactly as :mod:`csv` reads it. ``None`` for any other text.
    """
    if not text.isascii() or '"' in text or "\x00" in text:
        return None
    if any(space in text for space in _ASCII_SPACE):
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the line feed that ends the last record
    if lines and max(map(len, lines)) >= csv.field_size_limit():
        return None
    return [(n, line.split(",")) for n, line in enumerate(lines, start=1) if line.strip(",")]


#: What to check when a record's field count differs from the header's.
RAGGED_FIX = "check for a stray comma or a missing value."


_LONE_CR = re.compile(r"\r(?!\n)")


def _ragged_fix(text: str) -> str:
    """The fix for a ragged record: a lone carriage return inside a line of a file with
    line-feed line ends ends the record there (as in Excel), which no comma explains."""
    if "\n" not in text or _LONE_CR.search(text) is None:
        return RAGGED_FIX
    return (
        "a carriage return (CR) inside a line ends the record there and starts a new one: "
        f"remove it, or put the cell in double quotes; otherwise {RAGGED_FIX}"
    )


def _table_from_rows(
    name: str,
    numbered: list[tuple[int, list[str]]],
    *,
    strip: bool,
    ragged_fix: str = RAGGED_FIX,
) -> tuple[pd.DataFrame | None, list[Problem]]:
    """The frame of numbered CSV records (header first), or the problems that stop it."""
    rows = [r for _, r in numbered]
    if not rows:
        return None, [Problem(name, "is empty.", fix="write a header row and data rows.")]
    # A second BOM (a file saved twice with one) would hide the first column's name.
    header = [h.strip().lstrip("\ufeff").strip() for h in rows[0]]
    problems: list[Problem] = _repeated_columns(name, header)
    if problems:
        return None, problems
    if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
        return None, [
            Problem(
                name,
                f"has one column '{header[0][:60]}': the delimiter is not a comma.",
                fix="save the file as comma-separated CSV.",
            )
        ]
    body: list[list[str]] = []
    line_numbers: list[int] = []
    for i, row in numbered[1:]:
        if len(row) != len(header):
            problems.append(
                Problem(
                    name,
                    f"has {len(row)} fields but the header has {len(header)}.",
                    row=f"line {i}",
                    fix=ragged_fix,
                )
            )
            continue
        body.append([c.strip() for c in row] if strip else row)
        line_numbers.append(i)
    if problems:  # cells of a ragged record sit under the wrong columns: check nothing else
        return None, problems
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame.index = pd.Index(line_numbers, name="line")
    frame.attrs[STRIPPED_TEXT] = True  # every cell a stripped string: nothing to redo
    return frame, problems


def _repeated_columns(name: str, header: list[str]) -> list[Problem]:
    """A column name used twice makes every lookup of it ambiguous: one problem per name."""
    positions: dict[str, list[int]] = {}
    for number, column in enumerate(header, start=1):
        positions.setdefault(column, []).append(number)
    return [
        Problem(
            name,
            f"has the column '{column[:60]}' more than once (columns "
            f"{', '.join(str(n) for n in numbers)}).",
            row="line 1",
            column=column[:60],
            fix="rename or remove the extra column.",
        )
        for column, numbers in positions.items()
        if len(numbers) > 1
    ]


def _ends_inside_quotes(text: str) -> bool:
    """Whether the CSV text ends inside a quoted field (a quote that is never closed)."""
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def read_text_note(path: Path, label: str) -> tuple[str, Problem | None]:
    """A plain-text note (a licence, an attribution) as text, or the problem that stops it.

    The note is shown on every map page and report, so a file that is not UTF-8 is named
    in the input stage rather than failing a run after the solve.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return "", Problem(
            label, f"cannot be read ({exc.strerror or exc}).", fix="check the file's permissions."
        )
    try:
        return raw.decode("utf-8-sig").strip(), None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return "", Problem(
            label,
            f"is not UTF-8 text (bad byte at line {line}).",
            fix="save it as UTF-8 (plain text).",
        )


def read_attribution(directory: Path) -> tuple[str, list[Problem]]:
    """The data licence text shipped with a dataset (or an empty string), and its problems."""
    for candidate in ("ATTRIBUTION.txt", "ATTRIBUTION.md"):
        path = directory / candidate
        if kind_of(path) is None:
            text, problem = read_text_note(path, candidate)
            return text, [problem] if problem is not None else []
    return "", []
