"""Seeded synthetic datasets in the public input format, at any scale.

Used for unit tests (``tiny``, ``small``), property tests (random small
instances) and the benchmark (``ics``, ``region``, ``england``). Everything is
generated with numpy arrays (no per-row Python loops), so even the England
scale (1,250 PCNs, 33,000 LSOA-like zones) takes a few seconds.

Geography is plausible rather than real:

* **Towns** have Zipf-distributed sizes (one big city, many small towns) and
  sit apart in British National Grid space, at least ``town_gap_km`` apart edge
  to edge, so that, with the default travel limits, different towns share no
  site: they are independent blocks of the LP (see :mod:`estates_opt.model.decompose`).
* **LSOAs** are ~600 m grid cells filling each town outward from its centre
  (with a lobed edge), so they do not overlap; their populations are 1,200-2,400.
* **PCN catchments** split a town's cells into contiguous blocks of the PCN's
  LSOA count by recursive coordinate bisection; the PCN's outline is the union
  of its cells and its **hub** sits in the cell nearest its population centre.
* **Practices** sit in random cells of their PCN, **community sites** in cells
  drawn in proportion to population, **hospitals** near town centres, more of
  them in bigger towns.

Calibration follows the NEL default: practice and hospital rooms about 100%
used on weekdays (fixed work plus today's movable sessions), community and
hub rooms about 40%, so the optimiser has the same kind of problem to solve.
"""

from estates_opt.synthetic.catalogue import SERVICES
from estates_opt.synthetic.files import cached_dataset, write_dataset
from estates_opt.synthetic.scales import DEFAULT_CACHE, GENERATOR_VERSION, SCALES, Scale
from estates_opt.synthetic.tables import generate

__all__ = [
    "DEFAULT_CACHE",
    "GENERATOR_VERSION",
    "SCALES",
    "SERVICES",
    "Scale",
    "cached_dataset",
    "generate",
    "write_dataset",
]
