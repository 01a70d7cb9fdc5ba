"""The XML text of each part of an ``.xlsx`` file: styles, worksheets, tables, the workbook.

:class:`~estates_opt.outputs.xlsx.book.Book` gathers the cells and styles; these
functions write each part of the package from them, and :meth:`Book.to_bytes` zips
the parts. Every part is a whole string, written in one go.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

from estates_opt.outputs.xlsx.sheet import CellStyle, Sheet, column_letter

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _attribute(text: str) -> str:
    """``text`` escaped for a double-quoted XML attribute."""
    return escape(text, {chr(34): "&quot;"})


def _xf(style: CellStyle, formats: dict[str, int]) -> str:
    """One ``<xf>`` cell format of the styles part."""
    attrs = ['borderId="0"', 'xfId="0"']
    attrs.append(f'numFmtId="{formats.get(style.number_format or "", 0)}"')
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
    elif style.center:
        align.append('horizontal="center"')
    inner = ""
    if align:
        attrs.append('applyAlignment="1"')
        inner = f"<alignment {' '.join(align)}/>"
    return f"<xf {' '.join(attrs)}>{inner}</xf>"


def styles_xml(
    styles: Iterable[CellStyle],
    formats: dict[str, int],
    dxfs: Sequence[str],
    *,
    header_font: str,
    header_fill: str,
) -> str:
    """``xl/styles.xml``: number formats, the two fonts and fills, cell formats, fills."""
    numbers = "".join(
        f'<numFmt numFmtId="{i}" formatCode="{_attribute(code)}"/>' for code, i in formats.items()
    )
    xfs = [_xf(style, formats) for style in styles]
    return (
        f'{XML_HEAD}<styleSheet xmlns="{MAIN_NS}">'
        f'<numFmts count="{len(formats)}">{numbers}</numFmts>'
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        f'<font><b/><sz val="11"/><color rgb="FF{header_font}"/><name val="Calibri"/>'
        '<family val="2"/></font></fonts>'
        '<fills count="3"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill>'
        f'<fill><patternFill patternType="solid"><fgColor rgb="FF{header_fill}"/>'
        '<bgColor indexed="64"/></patternFill></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
        "</borders>"
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        f'<dxfs count="{len(dxfs)}">{"".join(dxfs)}</dxfs></styleSheet>'
    )


def _conditional_xml(sheet: Sheet) -> list[str]:
    """The sheet's conditional fills, their rules numbered by priority across the sheet."""
    parts = []
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
    return parts


def _print_xml(sheet: Sheet) -> list[str]:
    """Margins, paper and scale, and the footer (sheet name and page numbers)."""
    footer = escape(sheet.footer)
    return [
        '<pageMargins left="0.4" right="0.4" top="0.5" bottom="0.7" header="0.25" footer="0.3"/>',
        f'<pageSetup paperSize="{sheet.paper}" orientation="landscape" '
        + ('fitToWidth="1" fitToHeight="0"/>' if sheet.fit_width else f'scale="{sheet.scale}"/>'),
        f"<headerFooter><oddFooter>&amp;L{footer}&amp;C&amp;A&amp;Rpage &amp;P of &amp;N"
        "</oddFooter></headerFooter>",
    ]


def sheet_xml(index: int, sheet: Sheet) -> str:
    """``xl/worksheets/sheetN.xml`` of the sheet at ``index`` (0: the selected tab)."""
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
    parts += _conditional_xml(sheet)
    parts += _print_xml(sheet)
    if sheet.table_name:
        parts.append('<tableParts count="1"><tablePart r:id="rId1"/></tableParts>')
    parts.append("</worksheet>")
    return "".join(parts)


def table_xml(number: int, sheet: Sheet) -> str:
    """``xl/tables/tableN.xml``: the sheet's Excel Table (filters, banded rows)."""
    columns = "".join(
        f'<tableColumn id="{j}" name="{_attribute(name)}"/>'
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


def _quoted(title: str) -> str:
    """A sheet name as a formula reference: ``'Moves'`` (quotes doubled inside)."""
    return "'" + title.replace("'", "''") + "'"


def workbook_xml(sheets: Sequence[Sheet]) -> str:
    """``xl/workbook.xml``: the sheets, their print areas and repeated header rows."""
    names = "".join(
        f'<sheet name="{_attribute(s.title)}" sheetId="{i}" r:id="rId{i}"/>'
        for i, s in enumerate(sheets, start=1)
    )
    titles = "".join(
        f'<definedName name="_xlnm.Print_Area" localSheetId="{i}">'
        f"{escape(_quoted(s.title))}!$A$1:${column_letter(s.print_columns)}"
        f"${max(s.max_row, 1)}</definedName>"
        for i, s in enumerate(sheets)
        if 0 < s.print_columns < s.max_column
    ) + "".join(
        f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">'
        f"{escape(_quoted(s.title))}!$1:$1</definedName>"
        for i, s in enumerate(sheets)
    )
    return (
        f'{XML_HEAD}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{names}</sheets><definedNames>{titles}</definedNames>"
        '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
    )


def relationships_xml(relationships: Iterable[str]) -> str:
    """A ``.rels`` part holding the given ``<Relationship>`` elements."""
    return f'{XML_HEAD}<Relationships xmlns="{PKG_REL_NS}">{"".join(relationships)}</Relationships>'


def relationship(number: int, kind: str, target: str) -> str:
    """One ``<Relationship>`` of an office-document ``kind`` (worksheet, table, styles...)."""
    return f'<Relationship Id="rId{number}" Type="{DOC_REL}/{kind}" Target="{target}"/>'


def _content_type(name: str, kind: str | None) -> str:
    if kind:
        return f"application/vnd.openxmlformats-officedocument.{kind}"
    if name.endswith("core.xml"):
        return "application/vnd.openxmlformats-package.core-properties+xml"
    return "application/vnd.openxmlformats-officedocument.extended-properties+xml"


def content_types_xml(overrides: Iterable[tuple[str, str | None]]) -> str:
    """``[Content_Types].xml``: each part's type (``None``: a document-properties part)."""
    content_types = "".join(
        f'<Override PartName="{name}" ContentType="{_content_type(name, kind)}"/>'
        for name, kind in overrides
    )
    return (
        f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        f'ContentType="application/xml"/>{content_types}</Types>'
    )


def package_rels_xml() -> str:
    """``_rels/.rels``: where the workbook and the document properties are."""
    return (
        f'{XML_HEAD}<Relationships xmlns="{PKG_REL_NS}">'
        f'<Relationship Id="rId1" Type="{DOC_REL}/officeDocument" '
        'Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
        'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{DOC_REL}/extended-properties" '
        'Target="docProps/app.xml"/></Relationships>'
    )


def app_xml() -> str:
    """``docProps/app.xml``: the application that wrote the file."""
    return (
        f'{XML_HEAD}<Properties xmlns="http://schemas.openxmlformats.org/'
        'officeDocument/2006/extended-properties"><Application>estates-opt'
        "</Application></Properties>"
    )


def core_xml(stamp: str) -> str:
    """``docProps/core.xml``: the creator and the (fixed) created and modified dates."""
    return (
        f'{XML_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/'
        'package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/'
        '1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/'
        '2001/XMLSchema-instance"><dc:creator>estates-opt</dc:creator>'
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        "</cp:coreProperties>"
    )
