"""The workbook being written: sheets, shared styles and fills, cells, and the zipped file.

:class:`Book` turns whole columns into cell XML (no object per cell), registers the few
cell styles the workbook uses and packs everything into the ``.xlsx`` zip with fixed
dates; the XML of each part is written by :mod:`.parts`.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import math
import zipfile
from collections.abc import Sequence
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from estates_opt.outputs.xlsx import parts
from estates_opt.outputs.xlsx.sheet import CellStyle, Sheet
from estates_opt.text import is_formula

#: The most characters a cell holds. Excel counts UTF-16 code units and offers to "repair"
#: (empty) a file with a longer cell, so longer text is cut to fit (:func:`fit_text`).
EXCEL_MAX_TEXT = 32_767
#: Text up to this long always fits (a character is at most two UTF-16 units).
_MAY_NOT_FIT = EXCEL_MAX_TEXT // 2
#: The tallest a row may be (points): Excel's limit.
EXCEL_MAX_ROW_HEIGHT = 409.0


def fit_text(text: str) -> str:
    """``text``, or if Excel cannot hold it, its start ending "… (cut: N characters)".

    N is how many characters were left out. Only long text is measured (a character is
    at most two UTF-16 units), so the million short cells of a workbook cost nothing.
    """
    if len(text) <= _MAY_NOT_FIT:
        return text
    units = text.encode("utf-16-le")
    if len(units) <= 2 * EXCEL_MAX_TEXT:
        return text
    room = EXCEL_MAX_TEXT - len(f"… (cut: {len(text):,} characters)")  # the longest marker
    head = units[: 2 * room]
    if 0xD800 <= int.from_bytes(head[-2:], "little") <= 0xDBFF:  # half a surrogate pair
        head = head[:-2]
    kept = head.decode("utf-16-le")
    return f"{kept}… (cut: {len(text) - len(kept):,} characters)"


class Book:
    """Sheets, shared styles and conditional fills; :meth:`to_bytes` packs the file."""

    def __init__(self, *, created: datetime.datetime, header_fill: str, header_font: str) -> None:
        self.sheets: list[Sheet] = []
        self.created = created
        self.header_fill = header_fill
        self.header_font = header_font
        self._styles: dict[CellStyle, int] = {CellStyle(): 0}
        self._formats: dict[str, int] = {}
        self._dxfs: list[str] = []

    # --- styles ----------------------------------------------------------------

    def style(self, style: CellStyle) -> int:
        """The cell-format index of ``style`` (registered on first use)."""
        found = self._styles.get(style)
        if found is None:
            found = self._styles[style] = len(self._styles)
            if style.number_format and style.number_format not in self._formats:
                self._formats[style.number_format] = 164 + len(self._formats)
        return found

    def fill(self, colour: str) -> int:
        """The index of a conditional-format solid fill of ``colour`` (RRGGBB)."""
        dxf = (
            '<dxf><fill><patternFill patternType="solid">'
            f'<fgColor rgb="FF{colour}"/><bgColor rgb="FF{colour}"/>'
            "</patternFill></fill></dxf>"
        )
        if dxf not in self._dxfs:
            self._dxfs.append(dxf)
        return self._dxfs.index(dxf)

    # --- cells -----------------------------------------------------------------

    def add_sheet(self, title: str) -> Sheet:
        """Append an empty sheet called ``title`` and return it to be filled."""
        sheet = Sheet(title)
        self.sheets.append(sheet)
        return sheet

    def cell_bodies(self, values: Sequence[object], style: CellStyle) -> list[str]:
        """Each value's cell XML after its ``r="B2"`` reference ("" for no cell).

        Numbers take ``style``'s number format; text and booleans take none, and
        text a spreadsheet would run as a formula also takes the quote prefix. Text
        longer than a cell holds is cut to fit (:func:`fit_text`).
        """
        plain = self.style(dataclasses.replace(style, number_format=None, quote=False))
        numeric = self.style(style)
        quoted = self.style(dataclasses.replace(style, number_format=None, quote=True))
        out: list[str] = []
        append = out.append
        for value in values:
            if value is None:
                append("")
            elif isinstance(value, bool):
                append(f' s="{plain}" t="b"><v>{int(value)}</v></c>')
            elif isinstance(value, int | float):
                if isinstance(value, float) and not math.isfinite(value):
                    append("")
                else:
                    append(f' s="{numeric}"><v>{value!r}</v></c>')
            else:
                text = value if isinstance(value, str) else str(value)
                if len(text) > _MAY_NOT_FIT:  # only long text is measured
                    text = fit_text(text)
                s = quoted if is_formula(text) else plain
                space = ' xml:space="preserve"' if text != text.strip() else ""
                append(f' s="{s}" t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>')
        return out

    def text_cells(
        self, letter: str, first_row: int, values: Sequence[object], style: CellStyle
    ) -> list[str]:
        """Cell XML for each value of a column (numbers, booleans, text; None is no cell)."""
        return self.coded_cells(
            letter, first_row, range(len(values)), self.cell_bodies(values, style)
        )

    @staticmethod
    def coded_cells(
        letter: str, first_row: int, codes: Sequence[int], bodies: list[str]
    ) -> list[str]:
        """Cell XML for rows whose value is ``bodies[code]`` (a negative code is no cell).

        A column with repeated values (bands, site ids, room types) is formatted once
        per distinct value, then placed row by row.
        """
        return [
            f'<c r="{letter}{row}"{bodies[code]}' if code >= 0 and bodies[code] else ""
            for row, code in enumerate(codes, start=first_row)
        ]

    def number_cells(
        self, letter: str, first_row: int, values: np.ndarray, style: CellStyle
    ) -> list[str]:
        """Cell XML for a float or integer column in one pass (NaN is no cell)."""
        s = self.style(style)
        if values.dtype.kind == "f":
            finite = np.isfinite(values)
            items = values.tolist()
            return [
                f'<c r="{letter}{row}" s="{s}"><v>{value!r}</v></c>' if ok else ""
                for row, value, ok in zip(
                    range(first_row, first_row + len(items)), items, finite.tolist(), strict=True
                )
            ]
        return [
            f'<c r="{letter}{row}" s="{s}"><v>{value}</v></c>'
            for row, value in enumerate(values.tolist(), start=first_row)
        ]

    @staticmethod
    def set_rows(sheet: Sheet, columns: list[list[str]], first_row: int) -> None:
        """Append rows made of the columns' cells (all columns the same length).

        A row's height is capped at Excel's limit (a taller one makes Excel repair the file).
        """
        heights = sheet.heights
        rows = sheet.rows
        for row, cells in enumerate(zip(*columns, strict=True), start=first_row):
            height = heights.get(row)
            if height:
                height = min(height, EXCEL_MAX_ROW_HEIGHT)
            attrs = f' ht="{height:g}" customHeight="1"' if height else ""
            rows.append(f'<row r="{row}"{attrs}>{"".join(cells)}</row>')
        count = len(columns[0]) if columns else 0
        sheet.max_row = max(sheet.max_row, first_row + count - 1)
        sheet.max_column = max(sheet.max_column, len(columns))

    # --- packing ---------------------------------------------------------------

    def _parts(self) -> list[tuple[str, str]]:
        """(name, XML text) of every part, in the order they are zipped."""
        sheet_parts: list[tuple[str, str]] = []
        overrides: list[tuple[str, str | None]] = [
            ("/xl/workbook.xml", "spreadsheetml.sheet.main+xml"),
            ("/xl/styles.xml", "spreadsheetml.styles+xml"),
            ("/docProps/core.xml", None),
            ("/docProps/app.xml", None),
        ]
        workbook_rels = []
        tables = 0
        for i, sheet in enumerate(self.sheets, start=1):
            sheet_parts.append((f"xl/worksheets/sheet{i}.xml", parts.sheet_xml(i - 1, sheet)))
            overrides.append((f"/xl/worksheets/sheet{i}.xml", "spreadsheetml.worksheet+xml"))
            workbook_rels.append(parts.relationship(i, "worksheet", f"worksheets/sheet{i}.xml"))
            if sheet.table_name:
                tables += 1
                sheet_parts.append((f"xl/tables/table{tables}.xml", parts.table_xml(tables, sheet)))
                overrides.append((f"/xl/tables/table{tables}.xml", "spreadsheetml.table+xml"))
                table_rel = parts.relationship(1, "table", f"../tables/table{tables}.xml")
                sheet_parts.append(
                    (f"xl/worksheets/_rels/sheet{i}.xml.rels", parts.relationships_xml([table_rel]))
                )
        workbook_rels.append(parts.relationship(len(self.sheets) + 1, "styles", "styles.xml"))
        styles = parts.styles_xml(
            self._styles,
            self._formats,
            self._dxfs,
            header_font=self.header_font,
            header_fill=self.header_fill,
        )
        return [
            ("[Content_Types].xml", parts.content_types_xml(overrides)),
            ("_rels/.rels", parts.package_rels_xml()),
            ("docProps/app.xml", parts.app_xml()),
            ("docProps/core.xml", parts.core_xml(self.created.strftime("%Y-%m-%dT%H:%M:%SZ"))),
            ("xl/workbook.xml", parts.workbook_xml(self.sheets)),
            ("xl/_rels/workbook.xml.rels", parts.relationships_xml(workbook_rels)),
            ("xl/styles.xml", styles),
            *sheet_parts,
        ]

    def to_bytes(self, *, compresslevel: int = 1) -> bytes:
        """The ``.xlsx`` file: every part dated :attr:`created`, deflated."""
        out = io.BytesIO()
        date = self.created.timetuple()[:6]
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
            for name, text in self._parts():
                info = zipfile.ZipInfo(name, date_time=date)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o600 << 16
                zf.writestr(info, text.encode("utf-8"), compresslevel=compresslevel)
        return out.getvalue()


def frame_values(series: pd.Series) -> np.ndarray | None:
    """``series`` as a float/int array when it is purely numeric (the fast path), else None."""
    kind = series.dtype.kind
    if kind in "fiu" and not isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
        return series.to_numpy()
    return None
