"""Shared fixtures: a tiny synthetic dataset, the real NEL dataset, a solved NEL plan."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

# Every test reads and checks its files itself (and writes nothing to the user's cache);
# tests/test_dataset_cache.py turns the validated-dataset cache on in a temporary folder.
os.environ["ESTATES_OPT_CACHE"] = "off"

from estates_opt import read_dataset
from estates_opt.synthetic import generate, write_dataset

ROOT = Path(__file__).resolve().parent.parent
NEL = ROOT / "geodata" / "nel"
MODELS = ROOT / "models"


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """A valid 2-PCN synthetic dataset on disk (read-only by convention: copy to break it)."""
    return write_dataset(generate("tiny", seed=1), tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def tiny_copy(tiny_dir, tmp_path) -> Path:
    """A private copy of the tiny dataset that a test may break."""
    target = tmp_path / "data"
    shutil.copytree(tiny_dir, target)
    return target


@pytest.fixture
def tiny_scenario(tiny_dir, tmp_path) -> Path:
    """A scenario file of defaults on the tiny dataset, for CLI tests."""
    path = tmp_path / "tiny.toml"
    path.write_text(f'dataset = "{tiny_dir}"\n', encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_dataset(tiny_dir):
    return read_dataset(tiny_dir)


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory) -> Path:
    return write_dataset(generate("small", seed=2), tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="session")
def nel_dataset():
    return read_dataset(NEL)


@pytest.fixture(scope="session")
def nel_plan(nel_dataset):
    from estates_opt.pipeline import solve
    from estates_opt.scenario import load_scenario

    return solve(nel_dataset, load_scenario(MODELS / "nel_baseline.toml"))


def chromium_path() -> str | None:
    """The Debian chromium binary, if installed (the test setup installs it)."""
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


@pytest.fixture
def restore_logging():
    """The CLI reconfigures logging onto CliRunner's stream; put it back afterwards (CLI test
    modules use it for every test: ``pytestmark = pytest.mark.usefixtures(...)``)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    package = logging.getLogger("estates_opt")
    package_level = package.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    package.setLevel(package_level)
