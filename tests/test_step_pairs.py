"""Borough steps in pairs: the slack split, the pairing, the second process and its fallback."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures import handmade
from fixtures.programs import small_mip

from estates_opt.model import neighbourhood_search as search
from estates_opt.model.program import LinearProgram
from estates_opt.model.step_worker import StepWorker, solve_step

WHOLE = {"whole_sessions": True}


def _program(
    matrix: list[list[float]], upper: list[float], objective: list[float]
) -> LinearProgram:
    """A small MIP: integer columns in [0, 10], rows ``matrix @ x <= upper``."""
    return small_mip(matrix, upper, objective, top=10)


def test_each_step_of_a_pair_gets_half_the_slack_of_a_shared_row():
    # x0 + x1 <= 10 is shared; x0 <= 9 is the first step's alone
    lp = _program([[1, 1], [1, 0]], [10, 9], [-1, -1])
    current = np.array([2.0, 2.0])
    frees = [np.array([True, False]), np.array([False, True])]
    first, second = search.pair_models(lp, frees, current)
    # today 4 of 10: each step may add 3 of the 6 left; the row only one step touches is whole
    assert first.row_upper[0] == pytest.approx(7.0) and second.row_upper[0] == pytest.approx(7.0)
    assert first.row_upper[1] == 9.0
    options = handmade.scenario(options=WHOLE).solver
    a, b = solve_step(first, options).values, solve_step(second, options).values
    assert a.tolist() == [5.0, 2.0] and b.tolist() == [2.0, 5.0]
    merged = current + (a - current) + (b - current)
    assert (lp.matrix @ merged <= lp.row_upper + 1e-9).all()
    # with the whole slack each, both steps would take it all and break the row together
    alone = [solve_step(search.step_model(lp, f, current), options).values for f in frees]
    assert (lp.matrix @ (alone[0] + alone[1] - current))[0] > 10


def test_a_pair_is_the_group_sharing_fewest_rows_then_the_largest():
    # columns 0-1 group A, 2 group B, 3-4 group C, 5 group D; A shares a row with B only
    lp = _program(
        [[1, 0, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 1]],
        [10, 10, 10, 10],
        [-1] * 6,
    )

    def group(name: str, columns: list[int]) -> search.Group:
        mask = np.zeros(6, bool)
        mask[columns] = True
        return name, mask

    groups = [group("A", [0, 1]), group("B", [2]), group("C", [3, 4]), group("D", [5])]
    pairs = [[name for name, _ in pair] for pair in search.step_pairs(lp, groups)]
    # A (largest, tied with C; first by name) pairs with C: shares nothing, larger than D
    assert pairs == [["A", "C"], ["B", "D"]]
    assert [[n for n, _ in p] for p in search.step_pairs(lp, groups[:3])] == [["A", "C"], ["B"]]


def _handmade_start():
    from estates_opt.inputs.travel import measure_travel
    from estates_opt.model.build import build_model
    from estates_opt.model.staged import decisions_of, least_movement, within_tolerance

    data, scenario = handmade.dataset(), handmade.scenario(options=WHOLE)
    lp = build_model(data, scenario, measure_travel(data, scenario))
    least, first = least_movement(lp, scenario)
    staged = within_tolerance(lp, least, scenario.relocation.tolerance)
    groups = search.neighbourhoods(lp, data)
    assert len(groups) == 2  # North and South
    return staged, scenario, decisions_of(lp, first.values), groups


def test_the_plan_is_the_same_with_the_second_process_or_without(monkeypatch):
    staged, scenario, start, groups = _handmade_start()
    with StepWorker() as worker:
        assert worker.start()
        together, finished = search.improve(staged, scenario, start, groups, worker)
        assert finished
        # the worker answered (it is still there to take another step)
        assert worker.submit(staged, scenario.solver) and worker.result() is not None
    monkeypatch.setattr(StepWorker, "start", lambda self: False)
    in_turn, _ = search.improve(staged, scenario, start, groups)
    assert np.array_equal(together, in_turn)
    assert staged.objective @ together <= staged.objective @ start + 1e-6
    activity = staged.matrix @ together
    assert (activity <= staged.row_upper + 1e-6).all()
    assert (activity >= staged.row_lower - 1e-6).all()


def test_a_worker_that_died_is_replaced_by_solving_here():
    staged, scenario, start, groups = _handmade_start()
    worker = StepWorker()
    assert worker.start()
    worker._process.kill()
    worker._process.wait()
    assert not worker.submit(staged, scenario.solver)
    assert worker.result() is None
    values, finished = search.improve(staged, scenario, start, groups, worker)
    worker.close()
    with StepWorker() as healthy:
        fresh, _ = search.improve(staged, scenario, start, groups, healthy)
    assert finished and np.array_equal(values, fresh)


def test_a_compact_step_solves_to_the_same_plan_as_the_whole_model_with_the_rest_fixed():
    staged, scenario, start, groups = _handmade_start()
    for _, free in groups:
        step = search.step_model(staged, free, start)
        small = search.compact(step, free)
        assert len(small.columns) == int(free.sum()) and len(small.rows) < len(staged.rows)
        whole = solve_step(step, scenario.solver)
        alone = search.expand(solve_step(small, scenario.solver), free, start)
        assert alone.objective == pytest.approx(whole.objective, abs=1e-6)
        assert staged.objective @ alone.values == pytest.approx(staged.objective @ whole.values)
        assert (alone.values[~free] == start[~free]).all()
        activity = staged.matrix @ alone.values
        assert (activity <= staged.row_upper + 1e-6).all()
        assert (activity >= staged.row_lower - 1e-6).all()


def test_a_pair_that_does_not_combine_keeps_the_better_step_alone():
    # x0 + x1 <= 10 from (2, 2): +6 each breaks the row together; the dearer change is dropped
    lp = _program([[1, 1]], [10], [-1, -2])
    current = np.array([2.0, 2.0])
    changes = [np.array([6.0, 0.0]), np.array([0.0, 6.0])]
    assert search._combined(lp, current, changes).tolist() == [2.0, 8.0]
    assert search._combined(lp, current, [np.array([3.0, 0.0]), np.array([0.0, 3.0])]).tolist() == [
        5.0,
        5.0,
    ]


def test_a_step_changes_only_its_own_columns_even_where_the_start_is_not_whole():
    """A fixed integer column a little off whole (HiGHS's own output) is left as it is:
    rounding it in both steps once moved it twice, broke a tight row and dropped both."""
    from dataclasses import replace

    # x0, x1 free (one group each); x2 integer and x3 continuous, both fixed: 40 x2 - x3 <= 0
    lp = _program([[1, 1, 0, 0], [0, 0, 40, -1]], [10, 0], [-1, -1, 0, 0])
    lp = replace(
        lp,
        integer=np.array([True, True, True, False]),
        col_upper=np.array([10.0, 10.0, 10.0, 400.0]),
    )
    almost = 1 - 4e-7
    current = np.array([2.0, 2.0, almost, 40 * almost])
    groups = [
        ("A", np.array([True, False, False, False])),
        ("B", np.array([False, True, False, False])),
    ]
    values, finished = search.improve(lp, handmade.scenario(options=WHOLE), current, groups)
    assert finished
    assert values[:2].tolist() == [5.0, 5.0]  # half the row's slack of 6 each
    assert values[2] == almost and values[3] == 40 * almost


def test_the_second_process_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("ESTATES_OPT_STEP_WORKER", "off")
    with StepWorker() as worker:
        assert not worker.start()
        assert not worker.submit(_program([[1]], [1], [1]), handmade.scenario(options=WHOLE).solver)


def test_the_second_process_bounds_a_model_as_this_one_does_and_takes_one_job_at_a_time():
    from estates_opt.model.bounds import stage_two_bounds

    staged, scenario, _start, _groups = _handmade_start()
    here = stage_two_bounds(staged, scenario.solver)
    assert here.basis == "presolved LP relaxation" and here.objective is not None
    assert here.relocations is not None
    with StepWorker() as worker:
        assert worker.start()
        assert worker.submit(staged, scenario.solver, "bounds")
        assert not worker.submit(staged, scenario.solver)  # busy: the caller solves it itself
        assert worker.result() is None  # no step is pending: the bounds stay unread ...
        there = worker.bounds()  # ... until asked for
        assert there is not None
        assert there.objective == pytest.approx(here.objective, rel=1e-9)
        assert (there.basis, there.relocations) == (here.basis, here.relocations)
        assert worker.bounds() is None  # read once
        assert worker.submit(staged, scenario.solver) and worker.result() is not None
