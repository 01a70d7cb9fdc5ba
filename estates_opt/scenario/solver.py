"""The ``[solver]`` table: solver choice and limits, and the allow-list of HiGHS options
a scenario may pass through (none that can touch files)."""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import Field, field_validator

from estates_opt.scenario.base import Strict

#: HiGHS options a scenario may pass through: numerical and algorithmic settings
#: only. Anything that names a file (``solution_file``, ``log_file``,
#: ``write_model_file``, ...) or switches on writing one is refused, so a
#: scenario can never make the solver overwrite inputs or outputs.
ALLOWED_HIGHS_OPTIONS = frozenset(
    {
        "presolve",
        "solver",
        "parallel",
        "run_crossover",
        "random_seed",
        "simplex_strategy",
        "simplex_scale_strategy",
        "simplex_dual_edge_weight_strategy",
        "simplex_primal_edge_weight_strategy",
        "simplex_iteration_limit",
        "ipm_iteration_limit",
        "primal_feasibility_tolerance",
        "dual_feasibility_tolerance",
        "ipm_optimality_tolerance",
        "objective_bound",
        "objective_target",
        "mip_feasibility_tolerance",
        "mip_heuristic_effort",
        "mip_heuristic_run_feasibility_jump",
        "mip_heuristic_run_rens",
        "mip_heuristic_run_rins",
        "mip_heuristic_run_root_reduced_cost",
        "mip_heuristic_run_shifting",
        "mip_heuristic_run_zi_round",
        "mip_detect_symmetry",
        "mip_max_nodes",
        "mip_max_stall_nodes",
        "mip_max_leaves",
        "mip_abs_gap",
        "mip_pool_soft_limit",
        "mip_pscost_minreliable",
        "small_matrix_value",
        "large_matrix_value",
        "infinite_cost",
        "infinite_bound",
    }
)
#: HiGHS options that have a key of their own in ``[solver]``.
HIGHS_OPTIONS_SET_ELSEWHERE = {
    "time_limit": "time_limit_s",
    "mip_rel_gap": "mip_gap",
    "threads": "threads",
}


class Solver(Strict):
    """Solver choice and limits."""

    name: Literal["highs", "cbc"] = Field("highs", description="solver")
    backend: Literal["pulp", "direct"] = Field(
        "pulp", description="'pulp' builds a PuLP model; 'direct' hands arrays to highspy"
    )
    time_limit_s: float = Field(120.0, gt=0, description="time limit, seconds")
    mip_gap: float = Field(0.01, ge=0, le=1, description="relative MIP gap to stop at")
    threads: int | None = Field(None, ge=1, description="solver threads (default: solver's)")
    decompose: bool = Field(False, description="solve independent PCN-site blocks separately")
    effort: Literal["thorough", "quick", "deep"] = Field(
        "thorough",
        description="whole-session plans: 'thorough' passes over the boroughs, each "
        "service's clinics everywhere, then the boroughs again; 'quick' makes one borough "
        "pass (NEL: about 3 s faster, objective 4.7% higher, 487 relocations instead of "
        "459); 'deep' makes two borough passes, then alternates passes over the services "
        "and the boroughs until a pass gains under 0.1% (NEL: about 6 s more, objective "
        "0.9% lower, 454 relocations)",
    )
    prove_s: float = Field(
        0.0,
        ge=0,
        le=86400,
        description="whole-session plans: seconds the whole MIP may spend, started from the "
        "finished plan, proving how far it is from the optimum (a tighter bound and gap than "
        "the LP's; a better plan it finds is taken); 0: no proof",
    )
    highs_options: dict[str, float | int | str | bool] = Field(
        default_factory=dict,
        description="extra HiGHS options from an allow-list of options that cannot touch files",
    )

    @field_validator("highs_options")
    @classmethod
    def _allowed_highs_options(
        cls, value: dict[str, float | int | str | bool]
    ) -> dict[str, float | int | str | bool]:
        refused = []
        for key in value:
            if key in HIGHS_OPTIONS_SET_ELSEWHERE:
                refused.append(f"'{key}' (set it with solver.{HIGHS_OPTIONS_SET_ELSEWHERE[key]})")
            elif key not in ALLOWED_HIGHS_OPTIONS:
                close = difflib.get_close_matches(key, sorted(ALLOWED_HIGHS_OPTIONS), n=1)
                refused.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        if refused:
            raise ValueError(
                "HiGHS options not allowed here: " + ", ".join(refused) + ". Only numerical and "
                "algorithmic options may be passed through (options that read or write files or "
                "logs are refused): remove them, or see models/README.md, [solver], for the list"
            )
        return value
