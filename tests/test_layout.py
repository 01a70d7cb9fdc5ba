"""The package's layout: stages whose imports run one way, no import cycles, the public API.

Every ``import`` in the package is read from the source (function-level and
``TYPE_CHECKING`` imports included), so a lazy import that reaches back to a
later stage fails here just like a module-level one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import estates_opt as eo

PACKAGE = Path(eo.__file__).parent

#: The pipeline's stages, earliest first. A module may import from its own stage or an earlier one.
STAGES: tuple[tuple[str, ...], ...] = (
    ("errors", "schema", "scenario", "parallel", "text", "paths", "memo"),
    ("inputs",),
    ("model",),
    ("results",),
    ("outputs",),
    ("pipeline", "synthetic"),
    ("compare", "robust"),
    ("cli",),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def stage_of(module: str) -> int:
    """Index of the stage a module (``estates_opt.model.build``) belongs to."""
    top = module.split(".")[1]
    for index, names in enumerate(STAGES):
        if top in names:
            return index
    raise AssertionError(f"{module} belongs to no stage: add it to STAGES in {__file__}")


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported estates_opt module) for every import statement in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("estates_opt")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("estates_opt"):
                continue
            # `from estates_opt.results import explain` imports a module, not a name
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                sub = PACKAGE.parent / candidate.replace(".", "/")
                is_module = sub.with_suffix(".py").exists() or (sub / "__init__.py").exists()
                found.append((node.lineno, candidate if is_module else target))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))
FACE = PACKAGE / "__init__.py"  # the public API re-exports every stage


def test_every_module_belongs_to_a_stage():
    for path in SOURCES:
        if path != FACE:
            stage_of(module_name(path))


def test_no_module_imports_from_a_later_stage():
    backwards = []
    for path in SOURCES:
        if path == FACE:
            continue
        mine = stage_of(module_name(path))
        for line, target in imports_of(path):
            if target == "estates_opt":
                backwards.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} imports the package face"
                )
            elif stage_of(target) > mine:
                backwards.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} imports {target} (a later stage)"
                )
    assert not backwards, "\n".join(backwards)


def test_there_is_no_import_cycle():
    graph: dict[str, set[str]] = {}
    for path in SOURCES:
        if path != FACE:
            graph[module_name(path)] = {t for _, t in imports_of(path)} - {module_name(path)}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt in graph and not state.get(nxt):
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_a_backward_import(tmp_path):
    """The rule bites: a lazy import from a later stage inside a function is found."""
    fake = PACKAGE / "inputs" / "_layout_probe.py"
    fake.write_text("def f():\n    from estates_opt.outputs.files import csv_text\n")
    try:
        found = imports_of(fake)
        assert found == [(2, "estates_opt.outputs.files")]
        assert stage_of(found[0][1]) > stage_of(module_name(fake))
    finally:
        fake.unlink()


@pytest.mark.parametrize("name", eo.__all__)
def test_every_public_name_resolves(name):
    assert getattr(eo, name) is not None


def test_the_public_api_is_on_the_package_face():
    for name in ("read_dataset", "validate", "load_scenario", "Scenario", "solve", "Plan"):
        assert name in eo.__all__
    for name in ("write_plan", "read_plan", "plan_map", "hub_map", "compare_scenarios"):
        assert name in eo.__all__


def test_importing_the_package_loads_no_solver_and_no_maps():
    code = (
        "import sys, estates_opt as eo; eo.read_dataset; "
        "sys.exit(sorted(m for m in ('pulp', 'highspy', 'folium') if m in sys.modules) or 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_plan_is_a_plain_record_without_drawing_or_writing():
    for method in ("to_map", "hub_map", "write"):
        assert not hasattr(eo.Plan, method)
