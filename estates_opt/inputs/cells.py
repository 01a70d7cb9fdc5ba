"""Checking one file's cells against its schema and giving each column its dtype.

Numbers, booleans, ';'-separated lists and allowed values are read from text with
vectorised screening: only the cells that may be bad are looked at one by one, and
each bad cell is one problem naming its row and column.
"""

from __future__ import annotations

import difflib
import math

import numpy as np
import pandas as pd

from estates_opt.errors import Problem
from estates_opt.inputs.files import STRIPPED_TEXT
from estates_opt.inputs.problems import ProblemCollector, row_label
from estates_opt.schema import Column, FileSpec
from estates_opt.text import CONTROL_RE, control_characters

TRUE_WORDS = {"true", "t", "yes", "y", "1"}


FALSE_WORDS = {"false", "f", "no", "n", "0"}


#: Largest whole number a float holds exactly; larger "counts" are typos.
MAX_WHOLE = 2.0**53


def _one_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _as_text(values: pd.Series) -> pd.Series:
    """Cells as stripped strings; missing values become ''."""
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        # text (CSV cells, GeoJSON strings): strip each string without a call per cell
        cells = values.to_numpy(dtype=object)
        text = [v.strip() if type(v) is str else _one_text(v) for v in cells]
    elif values.dtype.kind in "fiu":  # numbers, as the Python floats and ints map would pass
        text = [_one_text(v) for v in values.to_numpy().tolist()]
    else:
        return values.map(_one_text).astype(object)
    return pd.Series(text, index=values.index, name=values.name, dtype=object)


def coerce_columns(
    frame: pd.DataFrame, spec: FileSpec, problems: ProblemCollector, label: str | None = None
) -> pd.DataFrame:
    """Return ``frame`` with the spec's columns in canonical dtypes; report bad cells."""
    file = label or spec.name
    out = frame.copy()
    stripped = out.attrs.pop(STRIPPED_TEXT, None) is True  # typed cells are text no more
    present = set(out.columns)
    for column in spec.columns:
        if column.name not in present:
            if column.required:
                names = {str(c).lower(): str(c) for c in present}
                close = difflib.get_close_matches(column.name, list(names), n=1)
                hint = f" (found '{names[close[0]]}': rename it)" if close else ""
                problems.schema.append(
                    Problem(
                        file,
                        f"required column is missing{hint}.",
                        column=column.name,
                        fix=f"add a '{column.name}' column ({column.kind}"
                        + (f", {column.unit}" if column.unit else "")
                        + ").",
                    )
                )
            continue
        out[column.name] = _coerce(out, column, spec, problems, file, stripped=stripped)
    _check_unique(out, spec, problems, file)
    return out


def _shown(raw: str, number: float) -> str:
    """A cell's number as written, or in short form if long (a 309-digit 1e308 from JSON)."""
    return raw if len(raw) <= 24 else f"{number:.6g}"


def _bound(limit: float) -> str:
    """A column's limit as a person reads it: 100,000 rather than 1e+05."""
    return f"{limit:,.0f}" if float(limit).is_integer() else f"{limit:g}"


#: A cell at fault: (row position, what is wrong, how to fix it), without the full stops.
_Bad = list[tuple[object, str, str]]


def _numbers(text: pd.Series, column: Column, bad: _Bad) -> pd.Series:
    """A numeric column's values (float64, or Int64 for whole numbers); bad cells to ``bad``."""
    empty = (text == "").to_numpy(dtype=bool, copy=True)
    numbers = pd.to_numeric(text.where(~empty, None), errors="coerce").astype("float64")
    values = numbers.to_numpy()
    # Cells that may be bad (a superset, vectorised); the rules below then name each one.
    with np.errstate(invalid="ignore"):
        suspect = ~np.isfinite(values)
        if column.minimum is not None:
            suspect |= (
                values <= column.minimum if column.minimum_exclusive else values < column.minimum
            )
        if column.maximum is not None:
            suspect |= values > column.maximum
        if column.kind == "int":
            suspect |= (np.floor(values) != values) | (np.abs(values) > MAX_WHOLE)
    if column.nullable:
        suspect &= ~empty
    else:
        suspect |= empty
    positions = np.flatnonzero(suspect)
    for pos, raw, num in zip(
        text.index[positions], text.iloc[positions], values[positions], strict=True
    ):
        if raw == "":
            if not column.nullable:
                bad.append((pos, "is empty", "enter a number"))
        elif math.isnan(num) and raw.lower() not in ("nan",):
            bad.append((pos, f"'{raw[:40]}' is not a number", "enter a number"))
        elif math.isnan(num) or math.isinf(num):
            bad.append((pos, f"'{raw[:40]}' is not a finite number", "enter a finite number"))
        elif column.minimum is not None and num < column.minimum:
            bad.append(
                (
                    pos,
                    f"{_shown(raw, num)} is below the minimum {_bound(column.minimum)}",
                    "correct the value",
                )
            )
        elif column.minimum is not None and column.minimum_exclusive and num == column.minimum:
            bad.append(
                (
                    pos,
                    f"{_shown(raw, num)} must be more than {_bound(column.minimum)}",
                    "correct the value",
                )
            )
        elif column.maximum is not None and num > column.maximum:
            bad.append(
                (
                    pos,
                    f"{_shown(raw, num)} is above the maximum {_bound(column.maximum)}",
                    "correct the value",
                )
            )
        elif column.kind == "int" and not float(num).is_integer():
            bad.append((pos, f"{raw[:40]} is not a whole number", "enter a whole number"))
        elif column.kind == "int" and abs(num) > MAX_WHOLE:
            bad.append((pos, f"{raw[:40]} is too large", "enter a realistic whole number"))
    result: pd.Series = numbers
    if column.kind == "int":
        # Only values that passed can be cast; the rest (reported above) become missing.
        castable = np.isfinite(numbers) & (numbers.abs() <= MAX_WHOLE)
        result = numbers.where(castable).round().astype("Int64")
    return result


def _coerce(
    frame: pd.DataFrame,
    column: Column,
    spec: FileSpec,
    problems: ProblemCollector,
    file: str,
    *,
    stripped: bool = False,
) -> pd.Series:
    """The column in its dtype; ``stripped``: its cells are stripped strings already."""
    values = frame[column.name]
    text = values if stripped and values.dtype == object else _as_text(values)
    text, hostile, refused = _refuse_control_characters(text)
    bad: _Bad = []
    if column.kind in ("float", "int"):
        result = _numbers(text, column, bad)
    elif column.kind == "bool":
        result = _booleans(text, column, bad)
    elif column.kind == "list":
        result = _lists(text, column, bad)
    else:
        result = _choices(text, column, bad)
    if refused:
        hostile_positions = set(text.index[hostile])
        bad = refused + [b for b in bad if b[0] not in hostile_positions]
        result = _missing_where(result, hostile, column.kind)
    for pos, message, fix in bad:
        problems.schema.append(
            Problem(
                file,
                message + ".",
                row=row_label(frame, pos, spec.key),
                column=column.name,
                fix=fix + ".",
            )
        )
    return result


def control_character_problem(raw: str) -> tuple[str, str]:
    """What is wrong with text holding control characters, and the fix (no full stops):
    one wording for CSV cells and GeoJSON properties alike."""
    return (
        f"contains control characters ({', '.join(control_characters(raw))})",
        "remove them (they can hide or rewrite text on a screen or in a spreadsheet)",
    )


def _refuse_control_characters(text: pd.Series) -> tuple[pd.Series, pd.Series, _Bad]:
    """The cells with control characters emptied, where they were, and a problem for each.

    Control characters (ESC, BEL, NUL, bidi overrides...) could rewrite a terminal or break
    a workbook: refuse them; the cell then counts as missing (one problem, not a cascade).
    One search over all the cells at once; cell by cell only if it finds any.
    """
    if CONTROL_RE.search("".join(text.to_numpy().tolist())):
        hostile = text.str.contains(CONTROL_RE, regex=True)
    else:
        hostile = pd.Series(False, index=text.index)
    refused: _Bad = [
        (pos, *control_character_problem(raw))
        for pos, raw in zip(text.index[hostile], text[hostile], strict=True)
    ]
    if refused:
        text = text.where(~hostile, "")
    return text, hostile, refused


def _booleans(text: pd.Series, column: Column, bad: _Bad) -> pd.Series:
    """A true/false column (nullable booleans); bad cells to ``bad``."""
    lowered = text.str.lower()
    words = lowered.isin(TRUE_WORDS | FALSE_WORDS).to_numpy(dtype=bool)
    suspect = np.flatnonzero(~words)  # empty or not a word; the rules below say which
    for pos, raw in zip(lowered.index[suspect], lowered.iloc[suspect], strict=True):
        if raw == "":
            if not column.nullable:
                bad.append((pos, "is empty", "enter true or false"))
        elif raw not in TRUE_WORDS | FALSE_WORDS:
            bad.append((pos, f"'{raw[:40]}' is not true/false", "enter true or false"))
    result = lowered.map(lambda v: True if v in TRUE_WORDS else (False if v else pd.NA))
    return result.astype("boolean")


def _lists(text: pd.Series, column: Column, bad: _Bad) -> pd.Series:
    """A ';'-separated list column (tuples of allowed values); bad cells to ``bad``."""
    parts = text.map(lambda v: tuple(p.strip() for p in v.split(";") if p.strip()))
    for pos, items in zip(text.index, parts, strict=True):
        if not items and not column.nullable:
            bad.append((pos, "is empty", f"list one or more of {column.allowed} with ';'"))
        for item in items:
            if column.allowed and item not in column.allowed:
                bad.append(
                    (
                        pos,
                        f"'{item[:40]}' is not one of {', '.join(column.allowed)}",
                        "use one of the allowed values, separated by ';'",
                    )
                )
    return parts


def _choices(text: pd.Series, column: Column, bad: _Bad) -> pd.Series:
    """A text column, checked against its allowed values if it has any; bad cells to ``bad``."""
    suspect = (text == "").to_numpy(dtype=bool, copy=True)
    if column.allowed:
        suspect |= ~text.isin(column.allowed).to_numpy(dtype=bool)
    positions = np.flatnonzero(suspect)
    for pos, raw in zip(text.index[positions], text.iloc[positions], strict=True):
        if raw == "":
            if not column.nullable:
                bad.append((pos, "is empty", "enter a value"))
        elif column.allowed and raw not in column.allowed:
            close = difflib.get_close_matches(raw, column.allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            bad.append(
                (
                    pos,
                    f"'{raw[:40]}' is not one of {', '.join(column.allowed)}",
                    f"{hint}use one of the allowed values",
                )
            )
    return text


def _missing_where(values: pd.Series, mask: pd.Series, kind: str) -> pd.Series:
    """``values`` with the cells under ``mask`` missing (NaN, NA, "" or an empty list)."""
    if kind == "list":
        return pd.Series(
            [() if m else v for v, m in zip(values, mask, strict=True)], index=values.index
        )
    if kind == "str":
        return values.where(~mask, "")
    return values.mask(mask)


def _check_unique(
    frame: pd.DataFrame, spec: FileSpec, problems: ProblemCollector, file: str
) -> None:
    if not spec.key or not set(spec.key) <= set(frame.columns):
        return
    keys = frame[list(spec.key)]
    if not all(pd.api.types.infer_dtype(keys[c], skipna=False) == "string" for c in spec.key):
        keys = keys.astype(str)  # all text already: the same keys without converting
    duplicated = keys.duplicated(keep=False)
    if not duplicated.any():
        return
    for _, group in keys[duplicated].groupby(list(spec.key), sort=True):
        unit = "lines" if frame.index.name == "line" else "features"
        where = ", ".join(str(i) for i in group.index[:10])
        ident = ", ".join(f"{k}={v}" for k, v in zip(spec.key, group.iloc[0], strict=True))
        problems.schema.append(
            Problem(
                file,
                f"duplicate id {ident} appears {len(group)} times ({unit} {where}).",
                column="/".join(spec.key),
                fix="keep one row per id, or merge the rows.",
            )
        )
