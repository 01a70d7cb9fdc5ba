"""The notebooks are stored without outputs and run top to bottom without errors or warnings."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01_quickstart", "02_scenario_comparison", "03_bring_your_own_data"]
# The comparison notebook solves three NEL whole-session MIPs in one cell (about
# 300 s on 2 cores since the borough steps search their own part): room to spare.
CELL_TIMEOUT_S = 900


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: {cell.id} has outputs"
            assert cell.execution_count is None


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name):
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        book,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    for cell in book.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                assert "Warning" not in output["text"], f"{name} {cell.id}: {output['text']}"
    if name == "01_quickstart":
        html = [
            o["data"].get("text/html", "")
            for c in book.cells
            if c.cell_type == "code" and "plan_map" in c.source
            for o in c.outputs
            if "data" in o
        ]
        assert html and "leaflet" in html[0].lower(), "the map cell shows no map"
