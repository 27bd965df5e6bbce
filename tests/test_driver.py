"""The driver model: requests checked and answered, snooping, ordering, lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import zlib
from datetime import datetime
from typing import Any

import pytest

import pi_indi as ipd
from pi_indi.protocol import (
    DefNumberVector,
    DefTextVector,
    DelProperty,
    GetProperties,
    Message,
    NewBLOBVector,
    NewNumberVector,
    NewSwitchVector,
    NewTextVector,
    OneBLOB,
    PingReply,
    PingRequest,
    PropertyState,
    SetBLOBVector,
    SetNumberVector,
    SetSwitchVector,
    SetTextVector,
    SwitchState,
)
from tests.helpers import Recorder, Running, make_device


async def test_get_properties_is_answered_with_every_definition(run_driver):
    r = await run_driver(Recorder(make_device()))
    await r.link.request(GetProperties())
    names = [(await r.link.reply()).name for _ in range(7)]
    assert names == ["MODE", "RELAY", "LEVEL", "TEMP", "NOTE", "LAMP", "DATA"]
    assert await r.link.nothing_more()


async def test_get_properties_without_version_is_answered_not_fatal(run_driver):
    r = await run_driver(Recorder(make_device()))
    await r.link.request(GetProperties(version=None, device="Dev", name="LEVEL"))
    reply = await r.link.reply()
    assert isinstance(reply, DefNumberVector)
    assert reply.members[0].format == "%.1f"
    await r.link.request(GetProperties(device="Other"))
    assert await r.link.nothing_more()


async def test_default_number_format_is_one_clients_accept():
    member = ipd.NumberMember("X")
    assert member.format == "%g"
    assert ipd.NumberMember("Y", format="").format == "%g"


async def test_one_of_many_request_turning_one_on_implies_the_others_off(run_driver):
    r = await run_driver(Recorder(make_device()))
    await r.link.request(NewSwitchVector(device="Dev", name="MODE", values={"B": SwitchState.ON}))
    reply = await r.link.reply()
    assert isinstance(reply, SetSwitchVector)
    assert reply.values == {"A": SwitchState.OFF, "C": SwitchState.OFF, "B": SwitchState.ON}
    assert dict(r.driver.received[0]) == {"A": "Off", "B": "On", "C": "Off"}


@pytest.mark.parametrize(
    ("name", "values", "why"),
    [
        pytest.param("MODE", {"A": "Off"}, "exactly one", id="one-of-many-none-on"),
        pytest.param("MODE", {"A": "On", "B": "On"}, "one switch On", id="one-of-many-two-on"),
        pytest.param("RELAY", {"ON": "On", "OFF": "On"}, "one switch On", id="at-most-one-two-on"),
    ],
)
async def test_switch_requests_breaking_the_rule_are_refused_with_alert(
    run_driver, name, values, why
):
    r = await run_driver(Recorder(make_device()))
    before = dict(r.driver["Dev"][name])
    await r.link.request(NewSwitchVector(device="Dev", name=name, values=values))
    reply = await r.link.reply()
    assert isinstance(reply, SetSwitchVector)
    assert reply.state is PropertyState.ALERT
    assert why in (reply.message or "")
    assert r.driver.received == []
    assert dict(r.driver["Dev"][name]) == before


async def test_at_most_one_allows_all_off(run_driver):
    r = await run_driver(Recorder(make_device()))
    await r.link.request(
        NewSwitchVector(device="Dev", name="RELAY", values={"OFF": SwitchState.OFF})
    )
    reply = await r.link.reply()
    assert reply.state is PropertyState.OK
    assert dict(r.driver["Dev"]["RELAY"]) == {"ON": "Off", "OFF": "Off"}


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        pytest.param(
            NewNumberVector(device="Dev", name="MODE", values={"A": "1"}),
            "it takes newSwitchVector, not newNumberVector",
            id="wrong-type",
        ),
        pytest.param(
            NewNumberVector(device="Dev", name="LEVEL", values={"NOPE": "1"}),
            "no member 'NOPE'",
            id="unknown-member",
        ),
        pytest.param(
            NewNumberVector(device="Dev", name="LEVEL", values={"PCT": "101"}),
            "outside 0..100",
            id="out-of-range",
        ),
        pytest.param(
            NewNumberVector(device="Dev", name="TEMP", values={"C": "1"}),
            "read-only",
            id="read-only",
        ),
        pytest.param(
            NewTextVector(device="Dev", name="LAMP", values={"L": "Ok"}),
            "lights are read-only",
            id="light",
        ),
    ],
)
async def test_bad_requests_are_answered_with_alert_and_reason(run_driver, request_, why):
    r = await run_driver(Recorder(make_device()))
    await r.link.request(request_)
    reply = await r.link.reply()
    assert reply.state is PropertyState.ALERT
    assert reply.name == request_.name
    assert why in (reply.message or "")
    assert r.driver.received == []


async def test_request_for_unknown_vector_gets_a_message(run_driver):
    r = await run_driver(Recorder(make_device()))
    await r.link.request(NewSwitchVector(device="Dev", name="NOPE", values={"X": SwitchState.ON}))
    reply = await r.link.reply()
    assert isinstance(reply, Message)
    assert "NOPE" in (reply.message or "")


async def test_sexagesimal_number_request_reaches_rxevent_as_sent(run_driver):
    r = await run_driver(Recorder(make_device()))
    await r.link.request(NewNumberVector(device="Dev", name="LEVEL", values={"PCT": "12:30:00"}))
    reply = await r.link.reply()
    assert isinstance(reply, SetNumberVector)
    assert reply.values == {"PCT": "12.5"}
    event = r.driver.received[0]
    assert event["PCT"] == "12:30:00"
    assert event.getfloatvalue("PCT") == 12.5
    assert event.getformattedvalue("PCT") == "12.5"


async def test_rxevent_failure_is_logged_and_answered_driver_keeps_running(run_driver, caplog):
    class Broken(Recorder):
        async def rxevent(self, event: Any) -> None:
            if event.vectorname == "NOTE":
                raise RuntimeError("boom")
            await super().rxevent(event)

    r = await run_driver(Broken(make_device()))
    await r.link.request(NewTextVector(device="Dev", name="NOTE", values={"TEXT": "y"}))
    reply = await r.link.reply()
    assert reply.state is PropertyState.ALERT
    assert reply.message == (
        "[ERROR] NOTE: the driver failed to handle the request (RuntimeError: boom)"
    )
    assert "boom" in caplog.text
    await r.link.request(NewNumberVector(device="Dev", name="LEVEL", values={"PCT": "7"}))
    assert (await r.link.reply()).state is PropertyState.OK


async def test_rxevent_calls_run_one_at_a_time_in_arrival_order(run_driver):
    log: list[str] = []

    class Slow(ipd.IPyDriver):
        async def rxevent(self, event: Any) -> None:
            log.append(f"start {event['TEXT']}")
            await asyncio.sleep(0.02 if event["TEXT"] == "1" else 0)
            log.append(f"end {event['TEXT']}")

    r = await run_driver(Slow(make_device()))
    for n in "123":
        await r.link.request(NewTextVector(device="Dev", name="NOTE", values={"TEXT": n}))
    async with asyncio.timeout(2):
        while len(log) < 6:
            await asyncio.sleep(0.01)
    assert log == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]


async def offer_from_a_callback(r: Running, event: Any) -> int:
    """Offer *event* to ``r.driver`` as its link does, from a loop callback.

    Returns how many replies it sent on ``r.link`` before offer_event returned.
    """
    driver, link = r.driver, r.link
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def callback() -> None:
        before = link.sent.qsize()
        assert driver.offer_event(event)
        done.set_result(link.sent.qsize() - before)

    asyncio.get_running_loop().call_soon(callback)
    return await done


def note(text: str) -> NewTextVector:
    return NewTextVector(device="Dev", name="NOTE", values={"TEXT": text})


async def test_a_request_to_an_idle_driver_is_answered_within_the_callback(run_driver):
    r = await run_driver(Recorder(make_device()))
    await asyncio.sleep(0.01)  # the driver is up and idle
    assert await offer_from_a_callback(r, note("now")) == 1
    assert (await r.link.reply()).values == {"TEXT": "now"}


async def test_requests_handled_at_once_keep_their_order_when_one_waits(run_driver):
    log: list[str] = []
    tasks: set[asyncio.Task[Any] | None] = set()

    class Slow(ipd.IPyDriver):
        async def rxevent(self, event: Any) -> None:
            tasks.add(asyncio.current_task())
            log.append(f"start {event['TEXT']}")
            if event["TEXT"] == "1":
                # Started in the callback, it waits: the dispatch task carries it on,
                # and asyncio.timeout works as in any task.
                try:
                    async with asyncio.timeout(0.02):
                        await asyncio.sleep(1)
                except TimeoutError:
                    log.append("timed out 1")
            log.append(f"end {event['TEXT']}")

    r = await run_driver(Slow(make_device()))
    await asyncio.sleep(0.01)
    for n in "123":
        await offer_from_a_callback(r, note(n))
    await r.link.request(note("4"))  # from a task: queued behind the others
    async with asyncio.timeout(2):
        while len(log) < 9:
            await asyncio.sleep(0.01)
    assert log == [
        "start 1",
        "timed out 1",
        "end 1",
        *("start 2", "end 2", "start 3", "end 3", "start 4", "end 4"),
    ]
    assert tasks == {r.driver._dispatcher}


async def test_shutdown_cancels_a_request_handler_that_waits(run_driver):
    log: list[str] = []

    class Stuck(ipd.IPyDriver):
        async def rxevent(self, event: Any) -> None:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                log.append("cancelled")
                raise

    r = await run_driver(Stuck(make_device()))
    await asyncio.sleep(0.01)
    assert await offer_from_a_callback(r, note("x")) == 0
    await asyncio.sleep(0.01)
    r.driver.shutdown()
    async with asyncio.timeout(2):
        await r.task
    assert log == ["cancelled"]


async def test_message_is_sent_once_and_can_be_cleared(run_driver):
    r = await run_driver(Recorder(make_device()))
    vector = r.driver["Dev"]["NOTE"]
    await vector.send_setVector(message="first")
    assert (await r.link.reply()).message == "first"
    await vector.send_setVector()
    assert (await r.link.reply()).message is None
    vector.message = "pending"
    vector.message = ""
    await vector.send_defVector()
    assert (await r.link.reply()).message is None


async def test_blob_size_is_measured_for_each_blob(run_driver):
    r = await run_driver(Recorder(make_device()))
    vector = r.driver["Dev"]["DATA"]
    vector["FILE"] = b"x" * 64
    await vector.send_setVectorMembers(members=["FILE"])
    first = await r.link.reply()
    vector["FILE"] = b"y" * 10
    await vector.send_setVectorMembers(members=["FILE"])
    second = await r.link.reply()
    assert isinstance(first, SetBLOBVector)
    assert isinstance(second, SetBLOBVector)
    assert (first.blobs[0].size, second.blobs[0].size) == (64, 10)
    assert second.blobs[0].data == b"y" * 10


async def test_zlib_blob_size_is_the_inflated_length(run_driver):
    device = ipd.Device(
        "Z",
        [ipd.BLOBVector("IMG", "Img", "", "ro", "Ok", [ipd.BLOBMember("I", blobformat=".fits.z")])],
    )
    r = await run_driver(Recorder(device))
    vector = r.driver["Z"]["IMG"]
    vector["I"] = zlib.compress(b"\0" * 5000)
    await vector.send_setVector()
    sent = await r.link.reply()
    assert sent.blobs[0].size == 5000


async def test_blob_request_reaches_rxevent_with_size_and_format(run_driver):
    r = await run_driver(Recorder(make_device()))
    await r.link.request(
        NewBLOBVector(
            device="Dev",
            name="DATA",
            blobs=(OneBLOB(name="FILE", size=3, format=".bin", data=b"abc"),),
        )
    )
    await r.link.reply()
    event = r.driver.received[0]
    assert isinstance(event, ipd.newBLOBVector)
    assert event["FILE"] == b"abc"
    assert event.sizeformat == {"FILE": (3, ".bin")}


async def test_snooped_message_and_updates_reach_snoopevent(run_driver):
    r = await run_driver(Recorder(make_device()))
    await r.driver.send_getProperties("Other")
    assert (await r.link.reply()) == GetProperties(device="Other")
    ts = datetime(2026, 1, 2, 3, 4, 5)
    await r.link.request(Message(device="Other", timestamp=ts, message="hello"))
    await r.link.request(SetTextVector(device="Other", name="T", values={"t": "v"}))
    await r.link.request(SetTextVector(device="Unwatched", name="T", values={"t": "v"}))
    await r.link.request(DelProperty(device="Other", name="T"))
    async with asyncio.timeout(2):
        while len(r.driver.snooped) < 3:
            await asyncio.sleep(0.01)
    message, update, deletion = r.driver.snooped
    assert isinstance(message, ipd.Message)
    assert message.message == "hello"
    assert message.timestamp is not None
    assert message.timestamp.isoformat() == "2026-01-02T03:04:05+00:00"
    assert isinstance(update, ipd.setTextVector)
    assert dict(update) == {"t": "v"}
    assert isinstance(deletion, ipd.delProperty)
    assert deletion.vectorname == "T"
    assert await r.link.nothing_more()


async def test_auto_send_def_off_gives_rxevent_one_get_properties_per_vector(run_driver):
    driver = Recorder(make_device())
    driver.auto_send_def = False
    r = await run_driver(driver)
    await r.link.request(GetProperties(device="Dev"))
    async with asyncio.timeout(2):
        while len(driver.received) < 7:
            await asyncio.sleep(0.01)
    assert all(isinstance(e, ipd.getProperties) for e in driver.received)
    assert [e.vectorname for e in driver.received][:2] == ["MODE", "RELAY"]


async def test_ping_request_is_answered(run_driver):
    r = await run_driver(Recorder(make_device()))
    await r.link.request(PingRequest(uid="7"))
    assert await r.link.reply() == PingReply(uid="7")


async def test_deleted_vector_ignores_requests_until_redefined(run_driver):
    r = await run_driver(Recorder(make_device()))
    vector = r.driver["Dev"]["NOTE"]
    await vector.send_delProperty()
    assert isinstance(await r.link.reply(), DelProperty)
    await r.link.request(NewTextVector(device="Dev", name="NOTE", values={"TEXT": "z"}))
    assert await r.link.nothing_more()
    vector.enable = True
    await vector.send_defVector()
    assert isinstance(await r.link.reply(), DefTextVector)


async def test_shutdown_cancels_hardware_that_never_checks_stop(run_driver):
    class Stubborn(ipd.IPyDriver):
        async def hardware(self) -> None:
            while True:
                await asyncio.sleep(3600)

    r = await run_driver(Stubborn(make_device()))
    r.driver.shutdown()
    async with asyncio.timeout(2):
        await r.task
    assert r.driver.stopped.is_set()


async def test_background_coroutines_run_and_add_background_rejects_non_coroutines(run_driver):
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    driver = Recorder(make_device())
    driver.add_background(job())
    with pytest.raises(TypeError):
        driver.add_background(job)  # type: ignore[arg-type]
    await run_driver(driver)
    async with asyncio.timeout(2):
        await ran.wait()


def test_model_rejects_bad_values_at_the_assignment():
    device = make_device()
    with pytest.raises(ValueError, match="switch value"):
        device["MODE"]["A"] = "maybe"
    with pytest.raises(ValueError, match="not an INDI number"):
        device["LEVEL"]["PCT"] = "ten"
    with pytest.raises(KeyError):
        device["LEVEL"]["NOPE"] = 1
    with pytest.raises(ValueError, match="duplicated"):
        ipd.IPyDriver(make_device(), make_device())
    with pytest.raises(TypeError):
        ipd.IPyDriver(make_device())["X"] = device


def test_getfloat_accepts_every_indi_number_and_raises_type_error_otherwise():
    assert ipd.getfloat("12:30") == 12.5
    assert ipd.getfloat(3) == 3.0
    with pytest.raises(TypeError):
        ipd.getfloat("twelve")
    with pytest.raises(ValueError, match="not an INDI number"):
        ipd.getfloat("-12:-30")


async def test_events_the_model_builds_pass_the_constructors_checks(run_driver):
    # The model skips the event constructors' checks (its members check every
    # value as it is assigned); rebuilding through the checked constructor
    # proves nothing invalid slips through.
    r = await run_driver(Recorder(make_device()))
    device = r.driver["Dev"]
    device["NOTE"]["TEXT"] = "  padded <&> text  "
    device["LEVEL"]["PCT"] = "12:30"
    device["LAMP"]["L"] = "Busy"
    for name in ("MODE", "RELAY", "LEVEL", "TEMP", "NOTE", "LAMP"):
        await device[name].send_setVector(message="note")
        event = await r.link.reply()
        fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
        assert type(event)(**fields) == event
    assert fields["values"] == {"L": PropertyState.BUSY}


async def test_snoopevent_failure_is_logged_and_the_driver_keeps_running(run_driver, caplog):
    class Broken(Recorder):
        async def snoopevent(self, event: Any) -> None:
            await super().snoopevent(event)
            raise RuntimeError("snoop boom")

    r = await run_driver(Broken(make_device()))
    await r.driver.send_getProperties("Other")
    assert (await r.link.reply()) == GetProperties(device="Other")
    await r.link.request(SetTextVector(device="Other", name="T", values={"t": "v"}))
    await r.link.request(NewNumberVector(device="Dev", name="LEVEL", values={"PCT": "7"}))
    assert (await r.link.reply()).state is PropertyState.OK
    assert len(r.driver.snooped) == 1
    assert "snoopevent failed on SetTextVector Other.T" in caplog.text
    assert "snoop boom" in caplog.text


class FailingHardware(Recorder):
    """hardware() raises every time (after *runs_for* seconds), counting its runs."""

    hardware_restart_delay = 0.01
    hardware_restart_max_delay = 0.04

    def __init__(self, runs_for: float = 0.0, limit: int = 5) -> None:
        super().__init__(make_device())
        self.runs_for = runs_for
        self.limit = limit
        self.runs = 0
        self.done = asyncio.Event()

    async def hardware(self) -> None:
        self.runs += 1
        if self.runs > self.limit:
            self.done.set()
            return
        if self.runs_for:
            await asyncio.sleep(self.runs_for)
        raise OSError(f"run {self.runs} failed")


async def restart_delays(r: Any) -> list[float]:
    """The delays announced by each "hardware task failed" message, once hardware() is done."""
    async with asyncio.timeout(5):
        await r.driver.done.wait()
    delays = []
    while not r.link.sent.empty():
        event = r.link.sent.get_nowait()
        if isinstance(event, Message) and event.message and "hardware task failed" in event.message:
            delays.append(float(event.message.rsplit(" in ", 1)[1].removesuffix(" s")))
    return delays


async def test_hardware_that_raises_restarts_with_a_doubling_bounded_delay(run_driver, caplog):
    r = await run_driver(FailingHardware())
    assert await restart_delays(r) == [0.01, 0.02, 0.04, 0.04, 0.04]
    assert r.driver.runs == 6  # five failures, then it returned: not started again
    failures = [rec for rec in caplog.records if "hardware() failed" in rec.getMessage()]
    assert len(failures) == 5
    assert all(rec.exc_info is not None for rec in failures)


async def test_the_restart_delay_starts_over_after_a_long_run(run_driver):
    r = await run_driver(FailingHardware(runs_for=0.06, limit=3))
    assert await restart_delays(r) == [0.01, 0.01, 0.01]


async def test_hardware_failure_puts_every_vector_in_alert_then_restores_them(run_driver):
    driver = FailingHardware(limit=1)
    driver.hardware_restart_delay = 0.05
    driver["Dev"]["LAMP"].state = "Busy"
    r = await run_driver(driver)
    failed = await r.link.reply()
    assert isinstance(failed, Message)
    assert failed.device == "Dev"
    assert failed.message == (
        "[ERROR] hardware task failed (OSError: run 1 failed); restarting it in 0.05 s"
    )
    alerts = [await r.link.reply() for _ in range(7)]
    assert [e.name for e in alerts] == ["MODE", "RELAY", "LEVEL", "TEMP", "NOTE", "LAMP", "DATA"]
    assert {e.state for e in alerts} == {PropertyState.ALERT}
    restarted = await r.link.reply()
    assert isinstance(restarted, Message)
    assert restarted.message == "[INFO] hardware task restarted"
    restored = {e.name: e.state for e in [await r.link.reply() for _ in range(7)]}
    assert restored["LAMP"] is PropertyState.BUSY
    assert restored["MODE"] is PropertyState.OK
    assert restored["DATA"] is PropertyState.IDLE
    async with asyncio.timeout(2):
        await driver.done.wait()


async def test_hardware_that_returns_is_not_started_again(run_driver):
    driver = FailingHardware(limit=0)
    r = await run_driver(driver)
    async with asyncio.timeout(2):
        await driver.done.wait()
    assert await r.link.nothing_more()
    assert driver.runs == 1


async def test_hardware_that_raises_while_stopping_is_not_started_again(run_driver, caplog):
    class Stopping(Recorder):
        hardware_restart_delay = 0.01
        runs = 0

        async def hardware(self) -> None:
            self.runs += 1
            with contextlib.suppress(asyncio.CancelledError):
                await self.shutdownrequested.wait()
            raise OSError("the pins were released")

    r = await run_driver(Stopping(make_device()))
    await asyncio.sleep(0)
    r.driver.shutdown()
    async with asyncio.timeout(2):
        await r.task
    assert r.driver.runs == 1
    assert r.link.sent.empty()  # no Alert: nothing failed that anyone needs to know about
    assert "hardware() failed" not in caplog.text
