"""Stage 3, results: turn a solved program into a :class:`~estates_opt.results.plan.Plan`.

Explains the solution as tables and KPIs, phases the moves and checks the plan independently of the
model that produced it.
"""
