"""Saved output states: atomic TOML file, tolerant of a broken one."""

from __future__ import annotations

import asyncio
import os
import tomllib
from pathlib import Path

import pytest

from pi_indi.state import StateStore


def test_save_writes_toml_that_load_reads_back(tmp_path: Path):
    store = StateStore(tmp_path / "state")
    store.save("Relays", {"DIGITAL_OUTPUT_1": "On", "duty": 42.5})
    store.save("Lamp", {"on": False})
    again = StateStore(tmp_path / "state")
    assert again.load() == {
        "Relays": {"DIGITAL_OUTPUT_1": "On", "duty": 42.5},
        "Lamp": {"on": False},
    }
    assert again.get("Lamp") == {"on": False}
    assert again.get("Nobody") is None


def test_no_temporary_files_are_left(tmp_path: Path):
    store = StateStore(tmp_path)
    for i in range(20):
        store.save("Relays", {"n": i})
    assert sorted(os.listdir(tmp_path)) == ["state.toml"]
    assert tomllib.loads((tmp_path / "state.toml").read_text())["Relays"] == {"n": 19}


async def test_saves_from_the_loop_are_written_off_it_and_the_last_one_wins(tmp_path: Path):
    store = StateStore(tmp_path)
    for i in range(50):
        store.save("Relays", {"n": i})
    loop = asyncio.get_running_loop()
    # The writes run in the default executor; wait for them by queueing one more job.
    await loop.run_in_executor(None, lambda: None)
    for _ in range(100):
        if (tmp_path / "state.toml").exists() and tomllib.loads(
            (tmp_path / "state.toml").read_text()
        )["Relays"] == {"n": 49}:
            break
        await asyncio.sleep(0.01)
    assert tomllib.loads((tmp_path / "state.toml").read_text())["Relays"] == {"n": 49}


@pytest.mark.parametrize("content", [b"this is = = not toml", b"\xff\xfe"])
def test_a_broken_file_gives_no_states_and_a_log_line(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
):
    (tmp_path / "state.toml").write_bytes(content)
    assert StateStore(tmp_path).load() == {}
    assert "cannot read saved states" in caplog.text


def test_an_unwritable_directory_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = StateStore(blocker / "sub")  # a directory under a plain file cannot exist
    store.save("Relays", {"n": 1})
    assert "cannot save output states" in caplog.text
    assert store.get("Relays") == {"n": 1}


def test_a_second_store_in_the_same_directory_keeps_its_own_file(tmp_path: Path):
    states = StateStore(tmp_path)
    settings = StateStore(tmp_path, "settings.toml", "settings")
    states.save("Relays", {"GPIO17": {"mode": "on"}})
    settings.save("Relays", {"labels": {"DIGITAL_OUTPUT_LABELS": {"DIGITAL_OUTPUT_1": "Roof"}}})
    assert sorted(os.listdir(tmp_path)) == ["settings.toml", "state.toml"]
    again = StateStore(tmp_path, "settings.toml")
    assert again.load() == {
        "Relays": {"labels": {"DIGITAL_OUTPUT_LABELS": {"DIGITAL_OUTPUT_1": "Roof"}}}
    }
