"""State files: coalesced writes, leftovers of a crash, and files that are not state files."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
import tomllib
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pi_indi.state import StateStore


def _big_state(i: int) -> dict[str, Any]:
    # About 100 KB of states once copied: a per-save copy would show.
    return {f"KEY_{k}": f"value {i} {k}" for k in range(1000)}


class Writes:
    """Counts (and can hold back) every rename of a state file over the old one."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        real = os.replace

        def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            if str(dst).endswith(".toml"):
                self.started.set()
                assert self.gate.wait(10), "the test never let the write finish"
                self.count += 1
            real(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "replace", replace)


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Writes]:
    counter = Writes(monkeypatch)
    yield counter
    counter.gate.set()


async def _settled(store: StateStore, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while store.pending:
            await asyncio.sleep(0.01)


def _on_disk(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


async def test_many_saves_from_the_loop_are_at_most_two_writes_and_the_last_wins(
    tmp_path: Path, writes: Writes
):
    store = StateStore(tmp_path)
    writes.gate.clear()  # the first write stays in flight while the client toggles
    store.save("Relays", {"DIGITAL_OUTPUT_1": "On"})
    assert await asyncio.to_thread(writes.started.wait, 5)
    for i in range(500):
        store.save("Relays", {"DIGITAL_OUTPUT_1": "On" if i % 2 else "Off", "n": i})
    writes.gate.set()
    await _settled(store)
    # The one in flight, then one with the newest states: never one per save.
    assert writes.count == 2
    assert _on_disk(tmp_path / "state.toml")["Relays"] == {"DIGITAL_OUTPUT_1": "On", "n": 499}


async def test_the_file_is_never_staler_than_the_write_in_flight_and_the_next(
    tmp_path: Path, writes: Writes
):
    store = StateStore(tmp_path)
    writes.gate.clear()
    store.save("Relays", {"DIGITAL_OUTPUT_1": "On"})
    assert await asyncio.to_thread(writes.started.wait, 5)
    store.save("Relays", {"DIGITAL_OUTPUT_1": "Off"})  # answered Ok to the client
    writes.gate.set()
    await _settled(store)
    assert writes.count == 2
    assert _on_disk(tmp_path / "state.toml")["Relays"] == {"DIGITAL_OUTPUT_1": "Off"}


async def test_saves_waiting_for_a_write_do_not_each_keep_a_copy_of_the_states(
    tmp_path: Path, writes: Writes
):
    store = StateStore(tmp_path)
    writes.gate.clear()
    store.save("Relays", _big_state(-1))
    assert await asyncio.to_thread(writes.started.wait, 5)
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for i in range(200):
            store.save("Relays", _big_state(i))
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        writes.gate.set()
    # One state is ~100 KB in memory; 200 queued copies would be ~20 MB.
    assert after - before < 2_000_000
    await _settled(store)
    assert _on_disk(tmp_path / "state.toml")["Relays"] == _big_state(199)


async def test_flush_writes_what_is_pending_before_it_returns(tmp_path: Path):
    store = StateStore(tmp_path)
    for i in range(100):
        store.save("Relays", {"n": i})
    store.flush()
    assert not store.pending
    assert _on_disk(tmp_path / "state.toml")["Relays"] == {"n": 99}


def test_flush_with_nothing_pending_does_nothing(tmp_path: Path):
    store = StateStore(tmp_path)
    store.flush()
    assert not (tmp_path / "state.toml").exists()


def test_saves_without_a_loop_are_written_at_once(tmp_path: Path, writes: Writes):
    store = StateStore(tmp_path)
    for i in range(3):
        store.save("Relays", {"n": i})
        assert _on_disk(tmp_path / "state.toml")["Relays"] == {"n": i}
    assert writes.count == 3
    assert not store.pending


async def test_a_failed_write_is_not_retried_for_ever_and_the_next_save_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    store = StateStore(tmp_path)
    real = os.replace
    calls: list[str] = []

    def failing(src: Any, dst: Any) -> None:
        calls.append(str(dst))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing)
    store.save("Relays", {"n": 1})
    async with asyncio.timeout(5):
        while not calls:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    assert len(calls) == 1
    assert "cannot save output states" in caplog.text
    assert store.pending
    assert sorted(os.listdir(tmp_path)) == []  # the temporary file went too
    monkeypatch.setattr(os, "replace", real)
    store.save("Relays", {"n": 2})
    await _settled(store)
    assert _on_disk(tmp_path / "state.toml")["Relays"] == {"n": 2}


async def test_load_waits_for_pending_writes_so_the_newest_states_stay(tmp_path: Path):
    store = StateStore(tmp_path)
    store.save("Relays", {"n": 1})
    await _settled(store)
    for i in range(2, 50):
        store.save("Relays", {"n": i})
    assert store.load()["Relays"] == {"n": 49}
    await _settled(store)
    assert _on_disk(tmp_path / "state.toml")["Relays"] == {"n": 49}


# -- leftovers of a crash ---------------------------------------------------------------


def test_load_removes_temporary_files_left_by_a_crash(tmp_path: Path):
    store = StateStore(tmp_path)
    store.save("Relays", {"n": 1})
    # What an earlier pi-indi left when killed mid-write, and what this one would.
    (tmp_path / ".state-k2j4h5_a").write_text("half")
    (tmp_path / ".state.toml-abcd1234").write_text("half")
    # Not ours: another store's, not regular files, other names.
    (tmp_path / ".settings.toml-abcd1234").write_text("half")
    (tmp_path / ".state.toml-adir").mkdir()
    (tmp_path / ".state.toml-link").symlink_to(tmp_path / "state.toml")
    (tmp_path / "state-notes.txt").write_text("mine")
    assert StateStore(tmp_path).load() == {"Relays": {"n": 1}}
    assert sorted(os.listdir(tmp_path)) == [
        ".settings.toml-abcd1234",
        ".state.toml-adir",
        ".state.toml-link",
        "state-notes.txt",
        "state.toml",
    ]
    StateStore(tmp_path, "settings.toml", "settings").load()
    assert ".settings.toml-abcd1234" not in os.listdir(tmp_path)


def test_the_temporary_files_of_two_stores_do_not_share_a_prefix(tmp_path: Path):
    made: list[str] = []
    import tempfile

    real = tempfile.mkstemp

    def mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        fd, name = real(*args, **kwargs)
        made.append(os.path.basename(name))
        return fd, name

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "mkstemp", mkstemp)
        StateStore(tmp_path).save("A", {"n": 1})
        StateStore(tmp_path, "settings.toml", "settings").save("A", {"n": 1})
    assert made[0].startswith(".state.toml-")
    assert made[1].startswith(".settings.toml-")


# -- files that cannot be read as state files --------------------------------------------

DEEP = "a = " + "[" * 100000 + "]" * 100000


def test_a_deeply_nested_file_is_a_broken_file(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    (tmp_path / "state.toml").write_text(DEEP)
    store = StateStore(tmp_path)
    assert store.load() == {}
    assert "cannot read saved states" in caplog.text
    assert "nested too deeply" in caplog.text
    caplog.clear()
    assert store.read("a") is None
    assert "cannot read saved output states" in caplog.text


def _bounded(call: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Run *call* in a thread; fail (not hang) if it does not return in time."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(timeout)
    return result


def _unblock(fifo: Path) -> None:
    # A reader stuck opening the FIFO goes on once a writer opens it.
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_a_fifo_as_the_state_file_is_refused_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    fifo = tmp_path / "state.toml"
    os.mkfifo(fifo)
    store = StateStore(tmp_path)
    try:
        assert _bounded(store.load) == [{}], "load() hung on a FIFO"
        assert "not a regular file" in caplog.text
        caplog.clear()
        assert _bounded(lambda: store.read("Relays")) == [None], "read() hung on a FIFO"
        assert "not a regular file" in caplog.text
    finally:
        _unblock(fifo)


@pytest.mark.parametrize("kind", ["directory", "device"])
def test_other_files_that_are_not_regular_are_refused(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
):
    if kind == "directory":
        (tmp_path / "state.toml").mkdir()
    else:
        (tmp_path / "state.toml").symlink_to("/dev/null")
    assert _bounded(StateStore(tmp_path).load) == [{}]
    assert "not a regular file" in caplog.text
