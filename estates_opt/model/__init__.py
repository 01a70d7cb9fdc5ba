"""Stage 2, model: the LinearProgram arrays, their constraint families and the solver back-ends.

Takes a :class:`~estates_opt.inputs.dataset.Dataset` and a scenario, builds the program, solves it
with HiGHS or CBC (whole, staged or decomposed) and hands back a
:class:`~estates_opt.model.result.SolveResult`.
"""
