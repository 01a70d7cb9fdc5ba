"""Plausible towns, LSOA cells and PCN catchments in British National Grid space."""

from __future__ import annotations

import numpy as np

from estates_opt.synthetic.scales import Scale

#: Centre of the synthetic country (BNG metres, roughly the English Midlands).
CENTRE = np.array([420_000.0, 300_000.0])


def _spread(total: int, parts: int, rng: np.random.Generator) -> np.ndarray:
    """``parts`` integers summing to ``total``, each the floor or ceiling of the mean."""
    counts = np.full(parts, total // parts, dtype=np.int64)
    counts[rng.choice(parts, total - counts.sum(), replace=False)] += 1
    return counts


def _town_sizes(s: Scale, rng: np.random.Generator) -> np.ndarray:
    """PCNs per town: Zipf-like (a big city, many small towns), at least one each."""
    towns = max(1, min(s.towns, s.pcns))
    weights = 1.0 / np.arange(1, towns + 1) ** 0.9
    extra = rng.multinomial(s.pcns - towns, weights / weights.sum())
    return 1 + extra


def _town_cells(n_cells: int, cell: float, rng: np.random.Generator) -> np.ndarray:
    """Centres (relative to the town centre) of ``n_cells`` grid cells filling a lobed disc."""
    half = int(np.ceil(np.sqrt(n_cells / np.pi) * 1.6)) + 2
    axis = np.arange(-half, half + 1, dtype=float)
    gx, gy = np.meshgrid(axis, axis)
    gx, gy = gx.ravel(), gy.ravel()
    angle = np.arctan2(gy, gx)
    lobes = 1.0 + 0.25 * np.cos(rng.integers(2, 5) * angle + rng.uniform(0, 2 * np.pi))
    reach = np.hypot(gx, gy) / lobes + rng.uniform(0, 0.3, gx.size)
    take = np.argsort(reach, kind="stable")[:n_cells]
    return np.column_stack([gx[take], gy[take]]) * cell


def _place_towns(radius: np.ndarray, gap: float, rng: np.random.Generator) -> np.ndarray:
    """Town centres (BNG metres) at least ``gap`` apart edge to edge, biggest first.

    Dart throwing in a box around :data:`CENTRE` that grows until every town fits.
    """
    area = ((2 * radius + gap) ** 2).sum()
    side = max(np.sqrt(area) * 1.5, 4 * gap)
    order = np.argsort(-radius, kind="stable")
    while True:
        centres = np.zeros((radius.size, 2))
        placed: list[int] = []
        ok = True
        for t in order:
            candidates = CENTRE + rng.uniform(-side / 2, side / 2, (64, 2))
            if placed:
                dist = np.linalg.norm(candidates[:, None, :] - centres[placed][None], axis=2)
                fits = (dist >= radius[t] + radius[placed] + gap).all(axis=1)
            else:
                fits = np.ones(len(candidates), bool)
            if not fits.any():
                ok = False
                break
            centres[t] = candidates[int(np.argmax(fits))]
            placed.append(int(t))
        if ok:
            return centres
        side *= 1.25


def _bisect(points: np.ndarray, sizes: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> None:
    """Label ``points`` with ``ids`` so each id gets ``sizes[id]`` contiguous points.

    Recursive coordinate bisection: split the ids in two halves, sort the points
    along the longer side and cut at the first half's total.
    """
    stack = [(np.arange(len(points)), ids)]
    while stack:
        idx, group = stack.pop()
        if len(group) == 1:
            labels[idx] = group[0]
            continue
        left, right = group[: len(group) // 2], group[len(group) // 2 :]
        pts = points[idx]
        axis = int(np.ptp(pts[:, 1]) > np.ptp(pts[:, 0]))
        ranked = idx[np.argsort(pts[:, axis], kind="stable")]
        cut = int(sizes[left].sum())
        stack.append((ranked[:cut], left))
        stack.append((ranked[cut:], right))


def _geography(
    s: Scale, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Towns, LSOA cells with their PCN, and PCN-per-town assignment."""
    per_town = _town_sizes(s, rng)
    n_towns = per_town.size
    town_of_pcn = np.repeat(np.arange(n_towns), per_town)
    lsoas_per_pcn = _spread(s.lsoas, s.pcns, rng)
    cells_per_town = np.bincount(town_of_pcn, weights=lsoas_per_pcn, minlength=n_towns)
    cells_per_town = cells_per_town.astype(np.int64)
    radius = s.cell_m * np.sqrt(cells_per_town / np.pi) * 1.3
    centres = _place_towns(radius, s.town_gap_km * 1000.0, rng)
    # On the cell grid, so neighbouring cells share bit-identical edges and union cleanly.
    centres = np.round(centres / s.cell_m) * s.cell_m
    xy_parts, pcn_parts = [], []
    first_pcn = np.r_[0, np.cumsum(per_town)]
    for t in range(n_towns):
        cells = _town_cells(int(cells_per_town[t]), s.cell_m, rng)
        ids = np.arange(first_pcn[t], first_pcn[t + 1])
        labels = np.empty(len(cells), dtype=np.int64)
        _bisect(cells, lsoas_per_pcn, labels, ids)
        xy_parts.append(cells + centres[t])
        pcn_parts.append(labels)
    xy = np.concatenate(xy_parts)
    pcn_of_lsoa = np.concatenate(pcn_parts)
    order = np.argsort(pcn_of_lsoa, kind="stable")
    return centres, town_of_pcn, xy[order], pcn_of_lsoa[order]


def _pick_in_group(
    group_start: np.ndarray, group_size: np.ndarray, which: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A random member index of group ``which[i]`` for each ``i`` (groups are contiguous)."""
    return group_start[which] + (rng.random(which.size) * group_size[which]).astype(np.int64)
