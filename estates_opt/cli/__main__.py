"""``python -m estates_opt.cli``: the same as the ``estates-opt`` command."""

from estates_opt.cli import main

main()
