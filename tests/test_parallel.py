"""Parallel map: local processes, a Dask LocalCluster on loopback, an existing scheduler."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import pytest

from estates_opt.inputs.dataset import dataset_from_tables
from estates_opt.inputs.travel import measure_travel
from estates_opt.model.build import build_model
from estates_opt.model.decompose import solve_decomposed
from estates_opt.parallel import map_parallel
from estates_opt.scenario import scenario_from_dict
from estates_opt.synthetic import Scale, generate

TOWNS = Scale(
    pcns=6, practices_per_pcn=2, community_sites=6, lsoas_per_pcn=5, acute_sites=2, towns=2
)


@pytest.fixture(scope="module")
def towns_lp():
    dataset = dataset_from_tables(generate(TOWNS, seed=7), source="two towns")
    scenario = scenario_from_dict({"name": "towns", "solver": {"backend": "direct"}})
    return scenario, build_model(dataset, scenario, measure_travel(dataset, scenario))


@pytest.fixture(scope="module")
def cluster():
    """A Dask cluster the tests reach only by its address, as a national team's would be."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as local:
        yield local


def test_local_processes_keep_the_order_of_the_inputs():
    items = [12, 3, 7, 0, 5]
    assert map_parallel(math.factorial, items, processes=2) == [math.factorial(i) for i in items]


def test_nothing_to_do_and_one_worker_run_inline():
    assert map_parallel(math.factorial, []) == []
    assert map_parallel(math.factorial, [4, 5], processes=1) == [24, 120]


def test_workers_do_not_hang_after_a_solve_in_the_parent(tmp_path):
    """Forking after a multi-threaded HiGHS solve deadlocks the child; workers must not fork."""
    script = tmp_path / "after_solve.py"
    script.write_text(
        textwrap.dedent(
            """
            from estates_opt.inputs.dataset import dataset_from_tables
            from estates_opt.inputs.travel import measure_travel
            from estates_opt.model.build import build_model
            from estates_opt.model.decompose import solve_decomposed
            from estates_opt.model.solve import solve_model
            from estates_opt.scenario import scenario_from_dict
            from estates_opt.synthetic import Scale, generate

            if __name__ == "__main__":
                scale = Scale(pcns=4, practices_per_pcn=2, community_sites=4,
                              lsoas_per_pcn=4, acute_sites=2, towns=2)
                data = dataset_from_tables(generate(scale, seed=3))
                sc = scenario_from_dict({"name": "s", "solver": {"backend": "direct"},
                                         "options": {"whole_sessions": True}})
                lp = build_model(data, sc, measure_travel(data, sc))
                whole = solve_model(lp, sc.solver)
                parts = solve_decomposed(lp, sc.solver, processes=2)
                print(abs(parts.objective - whole.objective) <= 0.02 * abs(whole.objective))
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("True")


def test_dask_local_cluster_gives_the_local_results():
    items = [6, 1, 9, 4]
    assert map_parallel(math.factorial, items, dask=True, processes=2) == [
        math.factorial(i) for i in items
    ]


def test_an_existing_scheduler_gives_the_local_results(cluster):
    items = [8, 2, 5]
    got = map_parallel(math.factorial, items, scheduler=cluster.scheduler_address)
    assert got == [math.factorial(i) for i in items]
    assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")


def test_decomposed_solve_on_dask_equals_the_local_one(towns_lp, cluster):
    scenario, lp = towns_lp
    local = solve_decomposed(lp, scenario.solver, processes=2)
    remote = solve_decomposed(lp, scenario.solver, scheduler=cluster.scheduler_address)
    assert remote.status == local.status
    assert remote.objective == local.objective
    assert (remote.values == local.values).all()
