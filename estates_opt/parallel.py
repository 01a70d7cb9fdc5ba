"""Run independent jobs (scenarios, decomposed blocks) in parallel processes.

Locally a process pool uses every core; ``dask=True`` starts a Dask
``LocalCluster`` and ``scheduler="tcp://host:port"`` uses an existing Dask
cluster, so a national team can sweep scenarios across many machines.
Results come back in the order of the inputs, whatever finishes first.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def map_parallel(
    func: Callable[[T], R],
    items: Sequence[T],
    *,
    processes: int | None = None,
    dask: bool = False,
    scheduler: str | None = None,
) -> list[R]:
    """``[func(item) for item in items]``, run in parallel; order preserved."""
    if not items:
        return []
    if dask or scheduler:
        return _map_dask(func, items, scheduler)
    workers = min(len(items), processes or os.cpu_count() or 1)
    if workers <= 1:
        return [func(item) for item in items]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(func, items))


def _map_dask(func: Callable[[T], R], items: Sequence[T], scheduler: str | None) -> list[R]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        from .errors import SolverUnavailableError

        raise SolverUnavailableError(
            "Dask is not installed: run `pip install 'estates-opt[dask]'`."
        ) from exc
    if scheduler:
        with Client(scheduler) as client:
            return client.gather(client.map(func, items, pure=False))
    with (
        LocalCluster(
            n_workers=min(len(items), os.cpu_count() or 1),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        return client.gather(client.map(func, items, pure=False))
