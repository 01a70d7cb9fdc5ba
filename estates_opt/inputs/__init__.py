"""Stage 1, inputs: read the dataset files, check them, apply a scenario's changes and build travel.

Everything here turns files on disk into a checked, frozen
:class:`~estates_opt.inputs.dataset.Dataset`; nothing here knows about the optimisation model or
its results.
"""
