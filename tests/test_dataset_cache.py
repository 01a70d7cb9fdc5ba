"""The validated-dataset cache: reused only for the same bytes, private, never in the dataset."""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

from estates_opt import read_dataset
from estates_opt.errors import InputDataError
from estates_opt.inputs import cache


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ESTATES_OPT_CACHE", str(folder))
    return folder


def _same(a, b) -> None:
    for name in ("premises", "capacity", "opening", "pcns", "lsoas", "services", "demand"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.attribution == b.attribution


def test_second_read_comes_from_the_cache_and_equals_the_first(tiny_dir, tmp_path, cache_dir):
    before = sorted(p.name for p in tiny_dir.iterdir())
    first = read_dataset(tiny_dir)
    (entry,) = cache_dir.glob("*.pickle")
    assert entry.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tiny_dir.iterdir()) == before  # nothing written there
    again = read_dataset(tiny_dir)
    _same(first, again)
    moved = shutil.copytree(tiny_dir, tmp_path / "elsewhere")
    copy = read_dataset(moved)  # same bytes, another folder: the same entry, its own source
    assert copy.source == str(moved)
    assert len(list(cache_dir.glob("*.pickle"))) == 1
    _same(first, copy)


def test_an_edited_file_is_read_and_checked_again(tiny_copy, cache_dir):
    read_dataset(tiny_copy)
    capacity = tiny_copy / "capacity.csv"
    last = capacity.read_text(encoding="utf-8").rstrip("\n").rsplit("\n", 1)[1]
    with open(capacity, "a", encoding="utf-8") as handle:  # a room at a site that is not there
        handle.write("NOSUCHSITE," + last.split(",", 1)[1] + "\n")
    with pytest.raises(InputDataError) as cached_run:
        read_dataset(tiny_copy)
    os.environ["ESTATES_OPT_CACHE"] = "off"
    with pytest.raises(InputDataError) as plain_run:
        read_dataset(tiny_copy)
    assert str(cached_run.value) == str(plain_run.value)
    assert "NOSUCHSITE" in str(cached_run.value)


def test_an_entry_others_can_write_is_not_trusted(tiny_dir, cache_dir, monkeypatch):
    read_dataset(tiny_dir)
    (entry,) = cache_dir.glob("*.pickle")
    entry.write_bytes(cache.FORMAT + b"not a pickle")
    entry.chmod(0o666)
    loads = []
    monkeypatch.setattr(cache.pickle, "load", lambda handle: loads.append(handle))
    key = cache.dataset_key(tiny_dir)
    assert cache.load(key) is None
    assert not loads  # never unpickled
    entry.chmod(0o600)
    assert cache.load(key) is None  # a broken entry is only a miss
    assert loads


def test_cache_off_writes_nothing(tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ESTATES_OPT_CACHE", "off")
    assert cache.cache_folder() is None
    read_dataset(tiny_dir)
    # Unset is off too, whatever XDG_CACHE_HOME says: estates-opt writes nothing outside
    # the folders a user names.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("ESTATES_OPT_CACHE")
    assert cache.cache_folder() is None
    read_dataset(tiny_dir)
    assert not (tmp_path / "xdg").exists()
