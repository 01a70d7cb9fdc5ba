"""Run independent jobs (scenarios, decomposed blocks) in parallel processes.

Locally a process pool uses every core; ``dask=True`` starts a Dask
``LocalCluster`` on the loopback interface (no dashboard), and
``scheduler="tcp://host:port"`` sends the jobs to an existing Dask cluster, so
a national team can sweep scenarios or solve regions across many machines.
Results come back in the order of the inputs, whatever finishes first.

Local workers are started from a fork server, never by forking this process:
HiGHS keeps a thread pool, and a process forked after a multi-threaded solve
inherits its locks but not its threads, so the child's first solve can hang
for ever. The fork server preloads the job's module once, so workers still
start in milliseconds rather than re-importing pandas and geopandas each.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
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
    """``[func(item) for item in items]``, run in parallel; order preserved.

    ``func`` must be a module-level function (it is sent to other processes by
    name). ``processes`` caps the local workers (default: every core); with
    ``dask=True`` it sets the LocalCluster's worker count. ``scheduler`` (a Dask
    address such as ``tcp://10.0.0.5:8786``) wins over both.
    """
    if not items:
        return []
    if dask or scheduler:
        return _map_dask(func, items, scheduler, processes)
    workers = min(len(items), processes or os.cpu_count() or 1)
    if workers <= 1:
        return [func(item) for item in items]
    log.debug("running %d jobs on %d local processes", len(items), workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context(func)) as pool:
        return list(pool.map(func, items))


def _context(func: Callable) -> BaseContext:
    """A fork-server context preloading ``func``'s module (spawn where there is none)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    module = getattr(getattr(func, "func", func), "__module__", None)  # unwrap a partial
    preload = ["__main__"]
    if isinstance(module, str) and module != "__main__":
        preload.append(module)
    # Takes effect when the server first starts; later calls reuse that server.
    context.set_forkserver_preload(preload)
    return context


def _map_dask(
    func: Callable[[T], R], items: Sequence[T], scheduler: str | None, processes: int | None
) -> list[R]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        from estates_opt.errors import SolverUnavailableError

        raise SolverUnavailableError(
            "Dask is not installed: run `pip install 'estates-opt[dask]'`."
        ) from exc
    if scheduler:
        log.info("sending %d jobs to the Dask scheduler at %s", len(items), scheduler)
        with Client(scheduler) as client:
            return client.gather(client.map(func, items, pure=False))
    workers = min(len(items), processes or os.cpu_count() or 1)
    log.info("starting a local Dask cluster of %d workers for %d jobs", workers, len(items))
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        return client.gather(client.map(func, items, pure=False))
