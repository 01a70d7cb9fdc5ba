"""The phase MIP (best n relocations) with its own reductions, against brute force."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from estates_opt import pipeline
from estates_opt.errors import SolveInterrupted
from estates_opt.model.highs_direct import STOP_SOLVES, solve_direct
from estates_opt.model.program import LinearProgram
from estates_opt.results import phases
from estates_opt.scenario import Solver

EXACT = Solver(mip_gap=0.0)


def _instance(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Eight rooms and 7-9 relocations of one or two legs each.

    Rooms 0-3 send. Each is over its cap by 0 to 30 h, so the hours leaving it may
    fall short of, or go past, what it holds over; room 0 sends most, room 3 rarely
    (often a single leaver). Rooms 4-7 receive with 3, 6 or 100 h of headroom, so
    some sets of relocations do not fit where they land; room 1 also receives, so a
    relocation into it may only fit once something leaves it.
    """
    rng = np.random.default_rng(seed)
    n_rooms = 8
    before = rng.integers(20, 30, n_rooms).astype(float)
    limit = before.copy()
    limit[4:] = before[4:] + rng.choice([3.0, 6.0, 100.0], 4)
    over = np.zeros(n_rooms)
    over[:4] = rng.choice([0.0, 2.0, 5.0, 12.0, 30.0], 4)
    rooms = pd.DataFrame(
        {
            "site_id": [f"S{i}" for i in range(n_rooms)],
            "room_type": "clinic",
            "band": "weekday",
            "today_hours": before,  # the rooms' hours the legs start from
            "limit": limit,
            "over": over,
        }
    )
    rows = []
    n_rel = int(rng.integers(7, 10))
    for rel in range(n_rel):
        for _ in range(int(rng.integers(1, 3))):
            src = int(rng.choice(4, p=[0.4, 0.3, 0.2, 0.1]))
            dst = int(rng.choice([1, 4, 5, 6, 7]))
            if dst == src:
                dst = 4
            rows.append(
                {
                    "relocation": rel,
                    "from_site_id": f"S{src}",
                    "to_site_id": f"S{dst}",
                    "room_type": "clinic",
                    "from_band": "weekday",
                    "to_band": "weekday",
                    "hours_per_week": float(rng.choice([1.5, 3.0, 4.0, 8.0])),
                }
            )
    return pd.DataFrame(rows), rooms, n_rel


def _plan(legs: pd.DataFrame, rooms: pd.DataFrame) -> phases.Relocations:
    return phases.Relocations.of(legs, rooms)


def _value(legs: pd.DataFrame, rooms: pd.DataFrame, chosen: np.ndarray) -> float | None:
    """Relief plus the tie-break, or None if a receiving room ends over its limit."""
    live = legs[chosen[legs["relocation"].to_numpy()]]
    at = {site: i for i, site in enumerate(rooms["site_id"])}
    load = rooms["today_hours"].to_numpy(float).copy()
    departures = np.zeros(len(rooms))
    for leg in live.itertuples():
        load[at[leg.to_site_id]] += leg.hours_per_week
        load[at[leg.from_site_id]] -= leg.hours_per_week
        departures[at[leg.from_site_id]] += leg.hours_per_week
    if (load > rooms["limit"].to_numpy() + 1e-6).any():
        return None
    relief = np.minimum(departures, rooms["over"].to_numpy()).sum()
    return float(relief + 1e-3 * live["hours_per_week"].sum())


def _brute_force(
    legs: pd.DataFrame, rooms: pd.DataFrame, n_rel: int, most: int, before: np.ndarray
) -> float:
    fixed = set(np.flatnonzero(before > 0.5))
    best = -1.0
    for size in range(most + 1):
        for subset in itertools.combinations(range(n_rel), size):
            if not fixed <= set(subset):
                continue
            chosen = np.zeros(n_rel, bool)
            chosen[list(subset)] = True
            value = _value(legs, rooms, chosen)
            if value is not None:
                best = max(best, value)
    return best


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize("most", [1, 2, 4])
def test_the_reduced_phase_mip_finds_the_best_relocations(seed, most):
    legs, rooms, n_rel = _instance(seed)
    before = np.zeros(n_rel)
    found = phases._choose(_plan(legs, rooms), most, before, EXACT)
    assert found is not None
    chosen, _ = found
    assert chosen.sum() <= most
    value = _value(legs, rooms, chosen > 0.5)
    assert value is not None, "the chosen relocations push a receiving room over its limit"
    assert value == pytest.approx(_brute_force(legs, rooms, n_rel, most, before), abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_a_later_phase_keeps_the_relocations_of_the_one_before(seed):
    legs, rooms, n_rel = _instance(seed)
    first = phases._choose(_plan(legs, rooms), 1, np.zeros(n_rel), EXACT)
    assert first is not None
    second = phases._choose(_plan(legs, rooms), 3, first[0], EXACT)
    assert second is not None
    assert (second[0] >= first[0]).all()
    value = _value(legs, rooms, second[0] > 0.5)
    assert value == pytest.approx(_brute_force(legs, rooms, n_rel, 3, first[0]), abs=1e-6)


def test_the_reductions_drop_rows_and_columns_but_keep_the_count_row():
    legs, rooms, n_rel = _instance(0)
    program = phases._phase_program(_plan(legs, rooms), 2, np.zeros(n_rel))
    reduced, cols = phases._reduced(program, n_rel, 2)
    assert reduced.matrix.shape[0] < program.matrix.shape[0]
    assert reduced.matrix.shape == (reduced.row_upper.size, cols.size)
    assert reduced.row_upper[-1] == 2.0  # the count row, last as in the full program


# --- the phase MIPs run beside the rest of the explain stage ------------------------------------


def _market_split(seed: int = 3) -> LinearProgram:
    """A market-split MIP (40 binaries, four equality rows): minutes of branch and bound to
    prove, on any machine, so a stop request always finds it running."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, (4, 40)).astype(float)
    b = np.floor(a.sum(axis=1) / 2)
    n = a.shape[1]
    return LinearProgram(
        columns=pd.DataFrame({"family": ["x"] * n}),
        rows=pd.DataFrame({"family": ["split"] * 4, "row_name": [f"r{i}" for i in range(4)]}),
        matrix=sp.csr_matrix(a),
        objective=np.zeros(n),
        terms={},
        col_lower=np.zeros(n),
        col_upper=np.ones(n),
        row_lower=b,
        row_upper=b,
        integer=np.ones(n, bool),
    )


def test_a_stop_request_cancels_a_solve_running_in_another_thread():
    # Ctrl-C reaches only the main thread; the phase MIPs solve in a background one.
    outcome: dict[str, BaseException | None] = {}

    def solve() -> None:
        try:
            solve_direct(_market_split(), Solver(mip_gap=0.0, time_limit_s=120))
            outcome["error"] = None
        except BaseException as exc:  # the outcome is what is tested
            outcome["error"] = exc

    worker = threading.Thread(target=solve)
    worker.start()
    time.sleep(0.5)
    assert worker.is_alive(), "the MIP finished before it could be stopped"
    started = time.monotonic()
    STOP_SOLVES.set()
    try:
        worker.join(timeout=30)
    finally:
        STOP_SOLVES.clear()
    assert not worker.is_alive()
    assert time.monotonic() - started < 10
    assert isinstance(outcome["error"], SolveInterrupted)


def test_a_failure_beside_the_phase_mips_stops_them_and_is_raised(tiny_dataset, monkeypatch):
    started = threading.Event()

    def long_phases(*_args: object) -> None:
        started.set()
        solve_direct(_market_split(), Solver(mip_gap=0.0, time_limit_s=120))

    def interrupted_check(*_args: object) -> None:
        assert started.wait(30)
        time.sleep(0.3)  # inside HiGHS now
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "phased_plan", long_phases)
    monkeypatch.setattr(pipeline, "verify_plan", interrupted_check)
    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt) as raised:
        pipeline.solve(tiny_dataset)
    assert not isinstance(raised.value, SolveInterrupted)  # the main thread's own error
    assert time.monotonic() - began < 30
    assert not STOP_SOLVES.is_set()
    assert not [t for t in threading.enumerate() if t.name.startswith("estates-opt-alongside")]


def test_the_plan_made_beside_the_phases_has_them(tiny_dataset):
    plan = pipeline.solve(tiny_dataset)
    assert plan.kpis["first_quarter"] == {} or plan.kpis["first_quarter"]["relocations"] >= 1
    assert set(plan.moves["phase"]) <= set(plan.phases["phase"]) | {0}
    assert list(plan.kpis["seconds"])[-2:] == ["explain", "verify"]


def test_a_greedy_choice_is_taken_only_when_its_bound_proves_it_within_the_gap():
    taken = 0
    for seed, most, gap in itertools.product(range(16), [1, 2, 4], [0.0, 0.05]):
        legs, rooms, n_rel = _instance(seed)
        before = np.zeros(n_rel)
        greedy = phases._greedy_choice(_plan(legs, rooms), most, before, gap)
        if greedy is None:
            continue  # the caller solves the phase MIP
        taken += 1
        chosen, proved = greedy
        assert chosen.sum() <= most and proved <= gap + 1e-12
        value = _value(legs, rooms, chosen > 0.5)
        assert value is not None, "the greedy choice pushes a receiving room over its limit"
        best = _brute_force(legs, rooms, n_rel, most, before)
        assert best * (1 - gap) - 1e-9 <= value <= best + 1e-9
    assert taken >= 4  # the bound does prove some choices (8 of these 96)


def test_a_greedy_choice_keeps_the_relocations_of_the_phase_before():
    legs, rooms, n_rel = _instance(3)
    before = np.zeros(n_rel)
    before[[0, 2]] = 1.0
    greedy = phases._greedy_choice(_plan(legs, rooms), 4, before, 1.0)  # any proof will do
    assert greedy is not None
    assert (greedy[0][[0, 2]] == 1.0).all() and greedy[0].sum() <= 4


def _rounded(legs, rooms, n_rel, most, before, gap):
    plan = _plan(legs, rooms)
    program, cols = phases._reduced(phases._phase_program(plan, most, before), n_rel, most)
    return phases._rounded_choice(plan, program, cols, most, before, Solver(mip_gap=gap))


def test_a_choice_rounded_from_the_lp_is_taken_only_when_the_lp_bound_proves_it():
    taken = 0
    for seed, most, gap in itertools.product(range(16), [1, 2, 4], [0.0, 0.05]):
        legs, rooms, n_rel = _instance(seed)
        before = np.zeros(n_rel)
        rounded = _rounded(legs, rooms, n_rel, most, before, gap)
        if rounded is None:
            continue  # the caller solves the phase MIP
        taken += 1
        chosen, proved = rounded
        assert isinstance(proved, float) and 0.0 <= proved <= gap + 1e-12
        assert chosen.sum() <= most
        value = _value(legs, rooms, chosen > 0.5)
        assert value is not None, "the rounded choice pushes a receiving room over its limit"
        best = _brute_force(legs, rooms, n_rel, most, before)
        assert best * (1 - gap) - 1e-9 <= value <= best + 1e-9
    assert taken >= 2  # small rungs are often fractional in the LP: it proves 3 of these 96


def test_a_rounded_choice_keeps_the_relocations_of_the_phase_before():
    kept = 0
    for seed in range(16):
        legs, rooms, n_rel = _instance(seed)
        first = phases._choose(_plan(legs, rooms), 2, np.zeros(n_rel), EXACT)
        assert first is not None
        rounded = _rounded(legs, rooms, n_rel, 4, first[0], 1.0)  # any proof will do
        if rounded is None:
            continue  # the LP kept no whole relocation beyond them that fits
        kept += 1
        assert (rounded[0] >= first[0]).all() and rounded[0].sum() <= 4
        assert _value(legs, rooms, rounded[0] > 0.5) is not None
    assert kept >= 8
