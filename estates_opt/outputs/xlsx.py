"""A small, fast ``.xlsx`` writer: whole columns to SpreadsheetML text, no cell objects.

The planner's workbook at England scale has about a million cells; a general
library that builds a Python object per cell (and a style per object) took 20 s
to write it. This writer knows only what the workbook needs and turns each
column of a table into cell XML in one pass, with a handful of shared styles:

* cell styles: a bold white-on-blue header, number formats, top alignment with
  or without wrapping, and Excel's *quote prefix* for text that looks like a
  formula (so it is stored, shown and edited as text, never run);
* per sheet: column widths, row heights, a frozen header row, an Excel Table
  (filter buttons, banded rows) or a plain filter, conditional fills, and the
  print set-up (A4 or A3 landscape, one page wide or a set scale, a print area of
  the first columns, header row repeated on every page, margins, a footer with the
  sheet name and page number);
* fixed document and zip dates, so the same content gives the same bytes.

Text cells are inline strings (``t="inlineStr"``), XML-escaped; the caller
removes control characters XML cannot hold (see ``estates_opt.text``).
"""

from __future__ import annotations

import datetime
import io
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from estates_opt.text import is_formula

__all__ = ["PAPER_A3", "PAPER_A4", "Book", "CellStyle", "Sheet", "column_letter"]

#: SpreadsheetML paper sizes.
PAPER_A4, PAPER_A3 = 9, 8

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def column_letter(index: int) -> str:
    """Excel's letters for a 1-based column number (1 -> A, 27 -> AA)."""
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass(frozen=True)
class CellStyle:
    """One cell format: number format, header look, alignment and quote prefix."""

    number_format: str | None = None
    header: bool = False
    wrap: bool = False
    top: bool = False
    left: bool = False
    quote: bool = False


@dataclass
class Sheet:
    """One worksheet: rows of cell XML plus the sheet's settings."""

    title: str
    #: ``<row>`` elements (already XML), in order, row 1 first.
    rows: list[str] = field(default_factory=list)
    max_row: int = 0
    max_column: int = 0
    widths: dict[int, float] = field(default_factory=dict)
    heights: dict[int, float] = field(default_factory=dict)
    freeze_header: bool = True
    #: ``A1:K20``: an Excel Table (``table_name``) or, without a name, a plain filter.
    filter_ref: str | None = None
    table_name: str | None = None
    table_columns: list[str] = field(default_factory=list)
    #: (range, [(operator, [formulas], dxf index)]) conditional fills.
    conditional: list[tuple[str, list[tuple[str, list[str], int]]]] = field(default_factory=list)
    footer: str = ""
    #: Print set-up: paper (``PAPER_A4`` or ``PAPER_A3``, landscape), fitted to the page
    #: width or printed at ``scale`` percent, and the columns printed (1..``print_columns``;
    #: 0 prints them all, the others stay in the sheet for filtering).
    paper: int = 9
    fit_width: bool = True
    scale: int = 100
    print_columns: int = 0


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
        text a spreadsheet would run as a formula also takes the quote prefix.
        """
        plain = self.style(CellStyle(None, style.header, style.wrap, style.top, style.left))
        numeric = self.style(style)
        quoted = self.style(
            CellStyle(None, style.header, style.wrap, style.top, style.left, quote=True)
        )
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
        """Append rows made of the columns' cells (all columns the same length)."""
        heights = sheet.heights
        rows = sheet.rows
        for row, cells in enumerate(zip(*columns, strict=True), start=first_row):
            height = heights.get(row)
            attrs = f' ht="{height:g}" customHeight="1"' if height else ""
            rows.append(f'<row r="{row}"{attrs}>{"".join(cells)}</row>')
        count = len(columns[0]) if columns else 0
        sheet.max_row = max(sheet.max_row, first_row + count - 1)
        sheet.max_column = max(sheet.max_column, len(columns))

    # --- packing ---------------------------------------------------------------

    def _styles_xml(self) -> str:
        formats = "".join(
            f'<numFmt numFmtId="{i}" formatCode="{escape(code, {chr(34): "&quot;"})}"/>'
            for code, i in self._formats.items()
        )
        xfs = []
        for style in self._styles:
            attrs = ['borderId="0"', 'xfId="0"']
            attrs.append(f'numFmtId="{self._formats.get(style.number_format or "", 0)}"')
            if style.number_format:
                attrs.append('applyNumberFormat="1"')
            if style.header:
                attrs += ['fontId="1"', 'fillId="2"', 'applyFont="1"', 'applyFill="1"']
            else:
                attrs += ['fontId="0"', 'fillId="0"']
            if style.quote:
                attrs.append('quotePrefix="1"')
            align = []
            if style.wrap:
                align.append('wrapText="1"')
            if style.top:
                align.append('vertical="top"')
            if style.left:
                align.append('horizontal="left"')
            inner = ""
            if align:
                attrs.append('applyAlignment="1"')
                inner = f"<alignment {' '.join(align)}/>"
            xfs.append(f"<xf {' '.join(attrs)}>{inner}</xf>")
        dxfs = f'<dxfs count="{len(self._dxfs)}">{"".join(self._dxfs)}</dxfs>'
        return (
            f'{XML_HEAD}<styleSheet xmlns="{MAIN_NS}">'
            f'<numFmts count="{len(self._formats)}">{formats}</numFmts>'
            '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
            f'<font><b/><sz val="11"/><color rgb="FF{self.header_font}"/><name val="Calibri"/>'
            '<family val="2"/></font></fonts>'
            '<fills count="3"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill>'
            f'<fill><patternFill patternType="solid"><fgColor rgb="FF{self.header_fill}"/>'
            '<bgColor indexed="64"/></patternFill></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
            "</borders>"
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            "</cellStyleXfs>"
            f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            f"{dxfs}</styleSheet>"
        )

    def _sheet_xml(self, index: int, sheet: Sheet) -> str:
        last = f"{column_letter(max(sheet.max_column, 1))}{max(sheet.max_row, 1)}"
        selected = ' tabSelected="1"' if index == 0 else ""
        pane = (
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
            if sheet.freeze_header
            else ""
        )
        cols = "".join(
            f'<col min="{j}" max="{j}" width="{width:g}" customWidth="1"/>'
            for j, width in sorted(sheet.widths.items())
        )
        parts = [
            f'{XML_HEAD}<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">',
            '<sheetPr><outlinePr summaryBelow="1" summaryRight="1"/>'
            f'<pageSetUpPr fitToPage="{int(sheet.fit_width)}"/></sheetPr>',
            f'<dimension ref="A1:{last}"/>',
            f'<sheetViews><sheetView workbookViewId="0"{selected}>{pane}</sheetView></sheetViews>',
            '<sheetFormatPr baseColWidth="8" defaultRowHeight="15"/>',
            f"<cols>{cols}</cols>" if cols else "",
            "<sheetData>",
            *sheet.rows,
            "</sheetData>",
        ]
        if sheet.filter_ref and not sheet.table_name:
            parts.append(f'<autoFilter ref="{sheet.filter_ref}"/>')
        priority = 1
        for ref, rules in sheet.conditional:
            parts.append(f'<conditionalFormatting sqref="{ref}">')
            for operator, formulas, dxf in rules:
                body = "".join(f"<formula>{escape(f)}</formula>" for f in formulas)
                parts.append(
                    f'<cfRule type="cellIs" dxfId="{dxf}" priority="{priority}" '
                    f'operator="{operator}" stopIfTrue="1">{body}</cfRule>'
                )
                priority += 1
            parts.append("</conditionalFormatting>")
        footer = escape(sheet.footer)
        parts += [
            '<pageMargins left="0.4" right="0.4" top="0.5" bottom="0.7" header="0.25" '
            'footer="0.3"/>',
            f'<pageSetup paperSize="{sheet.paper}" orientation="landscape" '
            + (
                'fitToWidth="1" fitToHeight="0"/>'
                if sheet.fit_width
                else f'scale="{sheet.scale}"/>'
            ),
            f"<headerFooter><oddFooter>&amp;L{footer}&amp;C&amp;A&amp;Rpage &amp;P of &amp;N"
            "</oddFooter></headerFooter>",
        ]
        if sheet.table_name:
            parts.append('<tableParts count="1"><tablePart r:id="rId1"/></tableParts>')
        parts.append("</worksheet>")
        return "".join(parts)

    @staticmethod
    def _table_xml(number: int, sheet: Sheet) -> str:
        columns = "".join(
            f'<tableColumn id="{j}" name="{escape(name, {chr(34): "&quot;"})}"/>'
            for j, name in enumerate(sheet.table_columns, start=1)
        )
        name = sheet.table_name
        return (
            f'{XML_HEAD}<table xmlns="{MAIN_NS}" id="{number}" name="{name}" '
            f'displayName="{name}" ref="{sheet.filter_ref}" headerRowCount="1">'
            f'<autoFilter ref="{sheet.filter_ref}"/>'
            f'<tableColumns count="{len(sheet.table_columns)}">{columns}</tableColumns>'
            '<tableStyleInfo name="TableStyleLight9" showFirstColumn="0" showLastColumn="0" '
            'showRowStripes="1" showColumnStripes="0"/></table>'
        )

    def _workbook_xml(self) -> str:
        sheets = "".join(
            f'<sheet name="{escape(s.title, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
            for i, s in enumerate(self.sheets, start=1)
        )
        titles = "".join(
            f'<definedName name="_xlnm.Print_Area" localSheetId="{i}">'
            f"{escape(_quoted(s.title))}!$A$1:${column_letter(s.print_columns)}"
            f"${max(s.max_row, 1)}</definedName>"
            for i, s in enumerate(self.sheets)
            if 0 < s.print_columns < s.max_column
        ) + "".join(
            f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">'
            f"{escape(_quoted(s.title))}!$1:$1</definedName>"
            for i, s in enumerate(self.sheets)
        )
        return (
            f'{XML_HEAD}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
            '<bookViews><workbookView activeTab="0"/></bookViews>'
            f"<sheets>{sheets}</sheets><definedNames>{titles}</definedNames>"
            '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
        )

    def to_bytes(self, *, compresslevel: int = 1) -> bytes:
        """The ``.xlsx`` file: every part dated :attr:`created`, deflated."""
        stamp = self.created.strftime("%Y-%m-%dT%H:%M:%SZ")
        parts: list[tuple[str, str]] = []
        overrides = [
            ("/xl/workbook.xml", "spreadsheetml.sheet.main+xml"),
            ("/xl/styles.xml", "spreadsheetml.styles+xml"),
            ("/docProps/core.xml", None),
            ("/docProps/app.xml", None),
        ]
        workbook_rels = []
        tables = 0
        for i, sheet in enumerate(self.sheets, start=1):
            parts.append((f"xl/worksheets/sheet{i}.xml", self._sheet_xml(i - 1, sheet)))
            overrides.append((f"/xl/worksheets/sheet{i}.xml", "spreadsheetml.worksheet+xml"))
            workbook_rels.append(
                f'<Relationship Id="rId{i}" Type="{DOC_REL}/worksheet" '
                f'Target="worksheets/sheet{i}.xml"/>'
            )
            if sheet.table_name:
                tables += 1
                parts.append((f"xl/tables/table{tables}.xml", self._table_xml(tables, sheet)))
                overrides.append((f"/xl/tables/table{tables}.xml", "spreadsheetml.table+xml"))
                parts.append(
                    (
                        f"xl/worksheets/_rels/sheet{i}.xml.rels",
                        f'{XML_HEAD}<Relationships xmlns="{PKG_REL_NS}">'
                        f'<Relationship Id="rId1" Type="{DOC_REL}/table" '
                        f'Target="../tables/table{tables}.xml"/></Relationships>',
                    )
                )
        n = len(self.sheets)
        workbook_rels.append(
            f'<Relationship Id="rId{n + 1}" Type="{DOC_REL}/styles" Target="styles.xml"/>'
        )
        content_types = "".join(
            f'<Override PartName="{name}" ContentType="'
            + (
                f"application/vnd.openxmlformats-officedocument.{kind}"
                if kind
                else (
                    "application/vnd.openxmlformats-package.core-properties+xml"
                    if name.endswith("core.xml")
                    else "application/vnd.openxmlformats-officedocument.extended-properties+xml"
                )
            )
            + '"/>'
            for name, kind in overrides
        )
        head = [
            (
                "[Content_Types].xml",
                f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                'content-types"><Default Extension="rels" ContentType="application/'
                'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
                f'ContentType="application/xml"/>{content_types}</Types>',
            ),
            (
                "_rels/.rels",
                f'{XML_HEAD}<Relationships xmlns="{PKG_REL_NS}">'
                f'<Relationship Id="rId1" Type="{DOC_REL}/officeDocument" '
                'Target="xl/workbook.xml"/>'
                '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
                'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
                f'<Relationship Id="rId3" Type="{DOC_REL}/extended-properties" '
                'Target="docProps/app.xml"/></Relationships>',
            ),
            (
                "docProps/app.xml",
                f'{XML_HEAD}<Properties xmlns="http://schemas.openxmlformats.org/'
                'officeDocument/2006/extended-properties"><Application>estates-opt'
                "</Application></Properties>",
            ),
            (
                "docProps/core.xml",
                f'{XML_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/'
                'package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/'
                '1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/'
                '2001/XMLSchema-instance"><dc:creator>estates-opt</dc:creator>'
                f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
                f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
                "</cp:coreProperties>",
            ),
            ("xl/workbook.xml", self._workbook_xml()),
            (
                "xl/_rels/workbook.xml.rels",
                f'{XML_HEAD}<Relationships xmlns="{PKG_REL_NS}">{"".join(workbook_rels)}'
                "</Relationships>",
            ),
            ("xl/styles.xml", self._styles_xml()),
        ]
        out = io.BytesIO()
        date = self.created.timetuple()[:6]
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
            for name, text in head + parts:
                info = zipfile.ZipInfo(name, date_time=date)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o600 << 16
                zf.writestr(info, text.encode("utf-8"), compresslevel=compresslevel)
        return out.getvalue()


def _quoted(title: str) -> str:
    """A sheet name as a formula reference: ``'Moves'`` (quotes doubled inside)."""
    return "'" + title.replace("'", "''") + "'"


def frame_values(series: pd.Series) -> np.ndarray | None:
    """``series`` as a float/int array when it is purely numeric (the fast path), else None."""
    kind = series.dtype.kind
    if kind in "fiu" and not isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
        return series.to_numpy()
    return None
