"""Stage 4, outputs: plan folders written and read, the workbook, GIS layers, comparisons, maps.

Only this stage touches output files; it reads :class:`~estates_opt.results.plan.Plan` records.
"""
