"""What the waiting thread does while HiGHS solves: its jobs, and how a stop reaches HiGHS."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from test_phase_choice import _market_split

from estates_opt.memo import IdentityMemo
from estates_opt.model.highs_direct import (
    import_highspy,
    pass_model,
    run_interruptibly,
    solve_direct,
    while_solving,
)
from estates_opt.model.program import LinearProgram
from estates_opt.scenario import Solver


def _running_mip(time_limit: float = 1.0):
    """HiGHS with the market-split MIP loaded: it runs until the time limit."""
    highspy = import_highspy()
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("time_limit", time_limit)
    pass_model(highs, highspy, _market_split())
    return highs


def _small_lp() -> LinearProgram:
    """min x + y with x + y >= 1: solved in no time."""
    return LinearProgram(
        columns=pd.DataFrame({"family": ["x", "x"]}),
        rows=pd.DataFrame({"family": ["cover"]}),
        matrix=sp.csr_matrix(np.ones((1, 2))),
        objective=np.ones(2),
        terms={},
        col_lower=np.zeros(2),
        col_upper=np.full(2, np.inf),
        row_lower=np.ones(1),
        row_upper=np.full(1, np.inf),
        integer=np.zeros(2, bool),
    )


def test_a_job_runs_once_in_the_waiting_thread_while_highs_works():
    highs = _running_mip()
    seen: list[tuple[int, bool]] = []

    def job(value: int) -> int:
        seen.append((threading.get_ident(), highs.is_solver_running()))
        return value + 1

    with while_solving(job, 3) as pending:
        run_interruptibly(highs)
    assert seen == [(threading.get_ident(), True)]
    assert pending.result() == 4
    assert len(seen) == 1  # result() does not run it again


def test_only_the_mip_check_calls_back_into_python():
    # The simplex check runs every iteration; a Python callback there waits for the GIL
    # each time (an England LP took 61 s beside a busy thread instead of 1 s).
    highs = _running_mip()
    hooked: list[tuple[int, int, int]] = []

    def count() -> None:
        hooked.append(
            (
                len(highs.cbSimplexInterrupt.callbacks),
                len(highs.cbIpmInterrupt.callbacks),
                len(highs.cbMipInterrupt.callbacks),
            )
        )

    with while_solving(count):
        run_interruptibly(highs)
    assert hooked == [(0, 0, 1)]
    assert len(highs.cbMipInterrupt.callbacks) == 0  # and gone after the solve


def test_a_job_no_solve_ran_runs_on_result_and_its_error_is_raised_there():
    def fails() -> None:
        raise ValueError("bad lookup")

    with while_solving(fails) as pending:
        solved = solve_direct(_small_lp(), Solver())  # the job's error does not stop it
    assert solved.status.has_plan
    with pytest.raises(ValueError, match="bad lookup"):
        pending.result()
    with while_solving(lambda: "late") as unused:
        pass
    assert unused.result() == "late"


def test_a_job_is_run_by_its_own_thread_s_solve_only():
    ran: list[int] = []
    with while_solving(lambda: ran.append(threading.get_ident())) as pending:
        other = threading.Thread(target=solve_direct, args=(_small_lp(), Solver()))
        other.start()
        other.join()
        assert ran == []  # the other thread's solve left it alone
    pending.result()
    assert ran == [threading.get_ident()]


def test_identity_memo_keeps_a_value_while_its_object_lives():
    class Geometry:  # stands for a geometry array: weakly referenceable, not hashed
        pass

    memo: IdentityMemo[int] = IdentityMemo()
    calls: list[int] = []
    first = Geometry()
    assert memo.value_for(first, lambda: calls.append(1) or 7) == 7
    assert memo.value_for(first, lambda: calls.append(2) or 8) == 7
    assert calls == [1] and len(memo) == 1
    del first
    gc.collect()
    assert len(memo) == 0  # gone with its object: a reused id cannot return it


def _tables(plan) -> dict[str, object]:
    kpis = {k: v for k, v in plan.kpis.items() if k != "seconds"}
    frames = ("allocations", "moves", "utilisation", "pcn_summary", "phases")
    return {**{name: getattr(plan, name) for name in frames}, "kpis": kpis}


def _same(one: dict[str, object], other: dict[str, object]) -> None:
    for name, value in one.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(value, other[name], check_exact=True)
        else:
            assert value == other[name], name


@pytest.mark.parametrize("whole_sessions", [False, True])
def test_what_is_worked_out_while_solving_changes_no_plan(tiny_dataset, whole_sessions):
    import dataclasses

    from estates_opt import pipeline
    from estates_opt.inputs.changes import apply_scenario
    from estates_opt.inputs.travel import measure_travel
    from estates_opt.model.build import build_model
    from estates_opt.scenario import Scenario

    scenario = Scenario.model_validate({"options": {"whole_sessions": whole_sessions}})
    data = apply_scenario(tiny_dataset, scenario)
    built = build_model(data, scenario, measure_travel(data, scenario))
    lp, result, prepared = pipeline.solve_program(data, scenario, built)
    # the LP is solved as built, so its program parts apply; the staged solve's is another
    assert prepared.explain.of_program(lp) is not whole_sessions
    assert prepared.explain.of_inputs(data, scenario) and prepared.checks.dataset is data
    ahead = _tables(pipeline.explain_and_verify(data, scenario, lp, result, {}, prepared))
    _same(ahead, _tables(pipeline.explain_and_verify(data, scenario, lp, result, {})))
    # made from another dataset (no baseline at all), the prepared parts are not used
    other = dataclasses.replace(data, baseline=data.baseline.iloc[:0])
    stale = pipeline.Prepared(
        pipeline.prepare_explanation(other, scenario, lp),
        pipeline.prepare_verification(other, scenario),
    )
    assert len(stale.explain.today_slots) == 0
    _same(ahead, _tables(pipeline.explain_and_verify(data, scenario, lp, result, {}, stale)))


def test_a_failure_working_out_ahead_leaves_the_stage_to_make_its_own(tiny_dataset, monkeypatch):
    from estates_opt import pipeline

    def broken(*_args: object) -> None:
        raise RuntimeError("no lookups today")

    monkeypatch.setattr(pipeline, "prepare_verification", broken)
    monkeypatch.setattr(pipeline, "prepare_explanation", broken)
    plan = pipeline.solve(tiny_dataset)
    assert plan.kpis["verified"] is True
    monkeypatch.undo()  # the plan made with what was worked out ahead is the same
    _same(_tables(plan), _tables(pipeline.solve(tiny_dataset, plan.scenario)))
