"""The driver model against hostile requests: log lines clients cannot forge or flood,
and requests naming no member (which libindi's IUUpdate* treat as changing nothing,
except OneOfMany, left with no switch On, which it refuses)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import pi_indi as ipd
from pi_indi.protocol import (
    NewBLOBVector,
    NewNumberVector,
    NewSwitchVector,
    NewTextVector,
    PropertyState,
    SetBLOBVector,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
    SwitchState,
)
from tests.helpers import Recorder, make_device

DRIVER_LOGGER = "pi_indi.driver"


def driver_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name.startswith("pi_indi") and r.levelno >= logging.WARNING
    ]


# -- log lines --


async def test_client_text_cannot_put_a_newline_in_the_log(run_driver, caplog):
    caplog.set_level(logging.INFO)
    r = await run_driver(Recorder(make_device()))
    # A valid INDI number (sexagesimal, fields split by blanks) holding a newline.
    await r.link.request(NewNumberVector(device="Dev", name="LEVEL", values={"PCT": "500\n0"}))
    reply = await r.link.reply()
    assert reply.state is PropertyState.ALERT
    (record,) = driver_records(caplog)
    message = record.getMessage()
    assert "\n" not in message
    assert "500\\n0" in message


async def test_many_refused_requests_write_a_few_lines(run_driver, caplog):
    caplog.set_level(logging.INFO)
    r = await run_driver(Recorder(make_device()))
    for n in range(10_000):
        # Refused for three reasons, over and over.
        await r.link.request(NewNumberVector(device="Dev", name="LEVEL", values={"PCT": "500"}))
        await r.link.request(NewNumberVector(device="Dev", name="TEMP", values={"C": "1"}))
        await r.link.request(
            NewSwitchVector(device="Dev", name="MODE", values={f"X{n}": SwitchState.ON})
        )
        for _ in range(3):
            assert (await r.link.reply()).state is PropertyState.ALERT
    records = driver_records(caplog)
    assert 3 <= len(records) <= 6
    assert all(record.levelno == logging.WARNING for record in records)


async def test_a_failing_rxevent_is_logged_with_its_traceback_a_few_times(run_driver, caplog):
    class Broken(Recorder):
        async def rxevent(self, event: Any) -> None:
            raise RuntimeError("boom")

    caplog.set_level(logging.INFO)
    r = await run_driver(Broken(make_device()))
    for _ in range(1000):
        await r.link.request(NewTextVector(device="Dev", name="NOTE", values={"TEXT": "y"}))
        assert (await r.link.reply()).state is PropertyState.ALERT
    (record,) = driver_records(caplog)
    assert record.exc_info is not None
    assert "rxevent failed on NOTE" in record.getMessage()


# -- requests naming no member --


async def test_empty_one_of_many_request_is_refused_and_changes_nothing(run_driver):
    r = await run_driver(Recorder(make_device()))
    await r.link.request(NewSwitchVector(device="Dev", name="MODE", values={}))
    reply = await r.link.reply()
    assert isinstance(reply, SetSwitchVector)
    assert reply.state is PropertyState.ALERT
    assert "exactly one" in (reply.message or "")
    assert r.driver.received == []
    assert r.driver["Dev"]["MODE"]["A"] == "On"


async def test_all_off_one_of_many_request_is_refused_as_libindi_does(run_driver):
    # libindi's IUUpdateSwitch resets a OneOfMany vector first: {B: Off} leaves none On.
    r = await run_driver(Recorder(make_device()))
    await r.link.request(NewSwitchVector(device="Dev", name="MODE", values={"B": SwitchState.OFF}))
    reply = await r.link.reply()
    assert reply.state is PropertyState.ALERT
    assert "exactly one" in reply.message
    assert r.driver.received == []
    assert r.driver["Dev"]["MODE"]["A"] == "On"


@pytest.mark.parametrize(
    ("event", "answer"),
    [
        pytest.param(
            NewSwitchVector(device="Dev", name="RELAY", values={}),
            SetSwitchVector,
            id="at-most-one",
        ),
        pytest.param(
            NewNumberVector(device="Dev", name="LEVEL", values={}), SetNumberVector, id="number"
        ),
        pytest.param(NewTextVector(device="Dev", name="NOTE", values={}), SetTextVector, id="text"),
        pytest.param(NewBLOBVector(device="Dev", name="DATA", blobs=()), SetBLOBVector, id="blob"),
    ],
)
async def test_empty_request_changes_nothing_and_is_answered(run_driver, event, answer):
    r = await run_driver(Recorder(make_device()))
    before = {name: dict(vector.items()) for name, vector in r.driver["Dev"].items()}
    await r.link.request(event)
    reply = await r.link.reply()
    assert type(reply) is answer
    assert reply.name == event.name
    assert reply.state == r.driver["Dev"][event.name].state  # as it was
    assert r.driver.received == []  # rxevent has nothing to do
    after = {name: dict(vector.items()) for name, vector in r.driver["Dev"].items()}
    assert after == before
    assert await r.link.nothing_more()


# -- names with control characters --

BAD_NAMES = ["A\x01B", "A\nB", "A\x1b[31mB", "A\x00B", "A\u2028B", "A\x7fB", "A\ufffeB"]


def _vector(name: str = "V", member: str = "M") -> ipd.SwitchVector:
    return ipd.SwitchVector(name, "V", "G", "rw", "AnyOfMany", "Ok", [ipd.SwitchMember(member)])


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda n: ipd.Device(n, [_vector()]), id="device"),
        pytest.param(lambda n: _vector(name=n), id="vector"),
        pytest.param(lambda n: ipd.SwitchMember(n), id="switch-member"),
        pytest.param(lambda n: ipd.LightMember(n), id="light-member"),
        pytest.param(lambda n: ipd.TextMember(n), id="text-member"),
        pytest.param(lambda n: ipd.NumberMember(n), id="number-member"),
        pytest.param(lambda n: ipd.BLOBMember(n), id="blob-member"),
        pytest.param(
            lambda n: ipd.NumberVector(n, "L", "G", "rw", "Ok", [ipd.NumberMember("X")]),
            id="number-vector",
        ),
        pytest.param(
            lambda n: ipd.TextVector(n, "L", "G", "rw", "Ok", [ipd.TextMember("X")]),
            id="text-vector",
        ),
        pytest.param(
            lambda n: ipd.LightVector(n, "L", "G", "Ok", [ipd.LightMember("X")]), id="light-vector"
        ),
        pytest.param(
            lambda n: ipd.BLOBVector(n, "L", "G", "rw", "Ok", [ipd.BLOBMember("X")]),
            id="blob-vector",
        ),
    ],
)
def test_names_with_control_characters_are_refused(make, name):
    with pytest.raises(ValueError, match="control"):
        make(name)


def test_printable_names_are_taken():
    device = ipd.Device("Température 1", [_vector("Ω-Vector", "Ünit ☃")])
    assert "Ω-Vector" in device
