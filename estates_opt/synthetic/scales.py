"""The named sizes of synthetic instance, from a tiny test case to England."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Bump when the generator changes, so cached datasets are rebuilt.
GENERATOR_VERSION = "2"

#: Where :func:`cached_dataset` keeps generated datasets (gitignored).
DEFAULT_CACHE = Path(".cache") / "synthetic"


@dataclass(frozen=True)
class Scale:
    """How big a synthetic dataset is.

    Per-PCN counts may be fractional: the totals (``round(pcns * per_pcn)``)
    are spread over PCNs so that each gets the floor or the ceiling, which lets
    a scale hit published national totals such as 6,300 practices exactly.
    """

    pcns: int
    practices_per_pcn: float
    community_sites: int
    lsoas_per_pcn: float
    acute_sites: int
    towns: int
    cell_m: float = 600.0
    town_gap_km: float = 15.0

    @property
    def practices(self) -> int:
        """Practices in total: PCNs times practices per PCN, rounded."""
        return round(self.pcns * self.practices_per_pcn)

    @property
    def lsoas(self) -> int:
        """LSOA-like zones in total: PCNs times zones per PCN, rounded."""
        return round(self.pcns * self.lsoas_per_pcn)


SCALES: dict[str, Scale] = {
    "tiny": Scale(
        pcns=2, practices_per_pcn=2, community_sites=2, lsoas_per_pcn=3, acute_sites=1, towns=1
    ),
    "small": Scale(
        pcns=6, practices_per_pcn=4, community_sites=8, lsoas_per_pcn=10, acute_sites=1, towns=2
    ),
    # One integrated care system, about the size of North East London.
    "ics": Scale(
        pcns=50, practices_per_pcn=6, community_sites=150, lsoas_per_pcn=26, acute_sites=6, towns=5
    ),
    # Five ICSs: 250 PCNs, 1,500 practices.
    "region": Scale(
        pcns=250,
        practices_per_pcn=6,
        community_sites=750,
        lsoas_per_pcn=26,
        acute_sites=25,
        towns=20,
    ),
    # England: ~1,250 PCNs, 6,300 practices, 3,000 community sites, 33,000 LSOAs.
    "england": Scale(
        pcns=1250,
        practices_per_pcn=5.04,
        community_sites=3000,
        lsoas_per_pcn=26.4,
        acute_sites=140,
        towns=120,
    ),
}
