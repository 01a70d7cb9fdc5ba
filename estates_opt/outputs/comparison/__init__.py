"""A comparison of scenarios as a table, a byte-stable CSV and an offline HTML page.

:mod:`.table` makes the numbers (each plan's KPI rows, the scenarios side by side, the
CSV files), :mod:`.charts` lays out the page's charts and judges each change, and
:mod:`.page` renders the page. The names below are the comparison's public face.
"""

from estates_opt.outputs.comparison.charts import direction, judge, show
from estates_opt.outputs.comparison.page import comparison_charts, comparison_html
from estates_opt.outputs.comparison.table import (
    COMPARISON_CSV,
    COMPARISON_FILES,
    COMPARISON_HTML,
    LONG_CSV,
    TIMES_CSV,
    comparison_csv,
    comparison_long,
    comparison_long_csv,
    comparison_table,
    format_value,
    kpi_rows,
    times_csv,
)

__all__ = [
    "COMPARISON_CSV",
    "COMPARISON_FILES",
    "COMPARISON_HTML",
    "LONG_CSV",
    "TIMES_CSV",
    "comparison_charts",
    "comparison_csv",
    "comparison_html",
    "comparison_long",
    "comparison_long_csv",
    "comparison_table",
    "direction",
    "format_value",
    "judge",
    "kpi_rows",
    "show",
    "times_csv",
]
