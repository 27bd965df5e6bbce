"""IPyDriver and Device: what a driver author subclasses and fills.

The driver never touches stdin, stdout or XML itself. ``asyncrun()`` hands it a
link (stdio by default; the server's in-process link when served) that turns
its events into bytes and back.

Requests from clients are checked here before ``rxevent`` sees them: a request
for a vector of the wrong type, an unknown member, a read-only vector, a value
that is not a number or is out of range, or switches that break the vector's
rule are answered with the vector in Alert and a message saying why. A request
naming no member changes nothing, as libindi's IUUpdate* with none: it is
answered with the vector as it is and ``rxevent`` does not see it, except on a
OneOfMany switch, where it would leave no switch On and is refused (as is a
OneOfMany request turning none On). The log line of a refusal shows what the
client sent escaped, and comes once per 10 s for the same kind on one vector.
``rxevent`` and ``snoopevent`` calls for one driver run one at a time, in the
order the requests arrived, whichever way the driver is run.

Failures stay inside the driver. A ``rxevent`` that raises is logged with its
traceback and the request is answered with the vector in Alert and a message
naming the error; a ``snoopevent`` that raises is logged. A ``hardware()``
that raises is logged, every vector goes to Alert with a device message, and
it is started again after a delay that doubles from
:attr:`IPyDriver.hardware_restart_delay` up to
:attr:`IPyDriver.hardware_restart_max_delay`; one that returns is done. In
every case the driver goes on answering requests.

A request that finds the driver idle is handled at once, inside the loop
callback that read it, as the driver's dispatch task (the way Python 3.12's
eager tasks start): a round trip then costs no task switch. Should the
handling wait for something, the dispatch task carries it on to the end before
it takes the next request.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import inspect
import logging
import time
from collections import UserDict
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from typing import Any

from pi_indi import _logger, events
from pi_indi._backoff import Backoff
from pi_indi._log import LogLimiter, shown
from pi_indi.properties import (
    BLOBVector,
    LightVector,
    NumberVector,
    PropertyVector,
    SwitchVector,
    TextVector,
    _timestamp,
    _unprintable,
    getfloat,
)
from pi_indi.protocol import (
    BLOBPolicy,
    DefBLOBVector,
    DefLightVector,
    DefNumberVector,
    DefSwitchVector,
    DefTextVector,
    DelProperty,
    EnableBLOB,
    Event,
    GetProperties,
    Message,
    NewBLOBVector,
    NewNumberVector,
    NewSwitchVector,
    NewTextVector,
    Permission,
    PingReply,
    PingRequest,
    SwitchRule,
    encode,
    parse_number,
)

__all__ = ["Device", "DriverLink", "IPyDriver"]

logger = _logger(__name__, "indipydriver.ipydriver")

# What asyncio's own eager tasks use to make a task current (3.11 to 3.13 at
# least); without them, requests always go through the dispatch task.
_enter_task = getattr(asyncio.tasks, "_enter_task", None)
_leave_task = getattr(asyncio.tasks, "_leave_task", None)

_DEF_TYPES = (DefTextVector, DefNumberVector, DefSwitchVector, DefLightVector, DefBLOBVector)
_NEW_FOR: dict[type, type[PropertyVector[Any]]] = {
    NewSwitchVector: SwitchVector,
    NewTextVector: TextVector,
    NewNumberVector: NumberVector,
    NewBLOBVector: BLOBVector,
}
_NONE_ON = "OneOfMany needs exactly one switch On; to change it, turn another On"
_NEW_TAG = {
    SwitchVector: "newSwitchVector",
    TextVector: "newTextVector",
    NumberVector: "newNumberVector",
    BLOBVector: "newBLOBVector",
    LightVector: "nothing (lights are read-only)",
}


class DriverLink(abc.ABC):
    """How a running driver talks to the world: stdio, or a server in-process.

    The contract, both ways: a link is attached with
    :meth:`IPyDriver.attach_link` before the driver runs; the driver sends
    through :meth:`send` (or :attr:`send_nowait`); the link's :meth:`run`
    hands what arrives to :meth:`IPyDriver.offer_event` from loop callbacks
    (it returns False when the driver's queue is full) or awaits
    :meth:`IPyDriver.receive_event`, in order, until the peer goes away.
    """

    #: A link whose sending never waits may set this to a plain function that
    #: sends one event; the driver then calls it instead of awaiting :meth:`send`.
    send_nowait: Callable[[Event], None] | None = None

    @abc.abstractmethod
    async def send(self, event: Event) -> None:
        """Deliver one event from the driver."""

    @abc.abstractmethod
    async def run(self, driver: IPyDriver) -> None:
        """Feed incoming events to ``driver.receive_event`` until the peer goes away."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the link's resources."""


class _Rejected(Exception):
    """A client request that breaks the vector's rules; the text goes to the client.

    *kind* names the rule broken (one word), for rate-limiting the log line.
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Suspended:
    """A request handled eagerly that waits for something; the dispatch task finishes it."""

    __slots__ = ("coro", "waiting_on")

    def __init__(self, coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self.coro = coro
        self.waiting_on = waiting_on


async def _carry_on(coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    """Run to its end, in the current task, a coroutine started outside any task.

    Each value the coroutine yields is awaited as asyncio's Task would: a
    future until it is done (its result or error reaches the coroutine when it
    resumes), None as one pass of the loop. Cancelling this task cancels the
    coroutine.
    """
    while True:
        error: BaseException | None = None
        if waiting_on is None:
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError as exc:
                error = exc
        elif asyncio.isfuture(waiting_on):
            # Taken, as Task takes what a coroutine yields; else it cannot be awaited again.
            waiting_on._asyncio_future_blocking = False
            try:
                await waiting_on
            except asyncio.CancelledError as exc:
                if not waiting_on.cancelled():
                    error = exc  # this task was cancelled, not what it waited for
            except Exception:
                if not waiting_on.done():
                    coro.close()
                    raise
                # The future's own error: the coroutine gets it when it resumes.
        else:
            error = RuntimeError(f"a request handler yielded {waiting_on!r}")
        try:
            waiting_on = coro.send(None) if error is None else coro.throw(error)
        except StopIteration:
            return


def _reason(exc: BaseException) -> str:
    """An exception as one short line for a client: ``RuntimeError: boom``."""
    text = " ".join(str(exc).split())
    if len(text) > 200:
        text = text[:199] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _coroutine(coro: Any) -> Coroutine[Any, Any, Any]:
    if not inspect.iscoroutine(coro):
        raise TypeError(
            "add_background() takes a coroutine object, e.g. add_background(self.poll())"
        )
    return coro


class Device(UserDict[str, PropertyVector[Any]]):
    """One device: a mapping of vector name to vector.

    Args:
        devicename: the INDI device name clients see.
        properties: the device's vectors.
        **devicedata: anything the driver wants to keep with the device, in
            ``devicedata``.

    Raises:
        ValueError: the name is empty, or two vectors share a name.
    """

    def __init__(
        self, devicename: str, properties: Iterable[PropertyVector[Any]], **devicedata: Any
    ) -> None:
        super().__init__()
        if not isinstance(devicename, str) or not devicename or devicename != devicename.strip():
            raise ValueError(f"device name must be a non-empty string: {devicename!r}")
        if not devicename.isprintable():
            raise ValueError(_unprintable("device name", devicename))
        self.devicename = devicename
        self.enable = True
        self.devicedata = devicedata
        self.driver: IPyDriver | None = None
        self._stop = False
        self._backgroundlist: list[Coroutine[Any, Any, Any]] = []
        for vector in properties:
            if not isinstance(vector, PropertyVector):
                raise TypeError(f"{vector!r} is not a vector")
            if vector.name in self.data:
                raise ValueError(f"vector {vector.name!r} appears twice in device {devicename!r}")
            vector.devicename = devicename
            self.data[vector.name] = vector

    def __setitem__(self, key: str, value: PropertyVector[Any]) -> None:
        raise TypeError("a device's vectors are fixed when it is made")

    def __delitem__(self, key: str) -> None:
        raise TypeError("a device's vectors are fixed when it is made")

    @staticmethod
    def indi_number_to_float(value: str | float) -> float:
        """Any INDI number (decimal or sexagesimal) as a float."""
        return getfloat(value)

    def properties(self) -> list[PropertyVector[Any]]:
        """The device's vectors, as a list."""
        return list(self.data.values())

    def add_background(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a coroutine in the background while the driver runs."""
        coro = _coroutine(coro)
        if self.driver is not None and self.driver._running:
            self.driver._start_task(coro)
        else:
            self._backgroundlist.append(coro)

    def shutdown(self) -> None:
        """Mark the device stopped (the driver's ``shutdown()`` calls this)."""
        self._stop = True

    @property
    def stop(self) -> bool:
        """True once the driver is shutting down."""
        return self._stop

    async def send_device_message(
        self, message: str = "", timestamp: datetime | None = None
    ) -> None:
        """Send a ``<message>`` from this device (nothing while it is disabled)."""
        if not self.enable or self.driver is None:
            return
        await self.driver.send(
            Message(
                device=self.devicename, timestamp=_timestamp(timestamp), message=message or None
            )
        )

    async def send_delProperty(self, message: str = "", timestamp: datetime | None = None) -> None:
        """Tell clients the whole device is gone, and stop its traffic.

        Set ``device.enable = True`` and send each vector's definition to bring it back.
        """
        if self.driver is None:
            return
        self.enable = False
        await self.driver.send(
            DelProperty(
                device=self.devicename, timestamp=_timestamp(timestamp), message=message or None
            )
        )

    async def devhardware(self, *args: Any, **kwargs: Any) -> None:
        """Override to run this device's hardware; call it from the driver's ``hardware``."""

    async def devrxevent(self, event: Any, *args: Any, **kwargs: Any) -> None:
        """Override to handle this device's requests; call it from the driver's ``rxevent``."""

    async def devsnoopevent(self, event: Any, *args: Any, **kwargs: Any) -> None:
        """Override to handle snooped events; call it from the driver's ``snoopevent``."""


class IPyDriver(UserDict[str, Device]):
    """The driver: a mapping of device name to :class:`Device`.

    Subclass it and override :meth:`rxevent` (client requests), :meth:`hardware`
    (a long-running task that drives the instrument) and, when snooping,
    :meth:`snoopevent`. Then ``await driver.asyncrun()`` to speak INDI on
    stdin/stdout, or give the driver to an ``IPyServer``.

    Args:
        *devices: the devices this driver controls.
        **driverdata: anything the driver needs (an instrument object, a pin),
            kept in ``driverdata``.

    Raises:
        ValueError: two devices share a name.
    """

    #: Seconds before a ``hardware()`` that raised is started again. The delay
    #: doubles at each failure in a row, up to :attr:`hardware_restart_max_delay`,
    #: and is back to this after a run that lasted at least that long.
    hardware_restart_delay: float = 1.0
    #: The longest wait before ``hardware()`` is started again, in seconds.
    hardware_restart_max_delay: float = 60.0

    def __init__(self, *devices: Device, **driverdata: Any) -> None:
        super().__init__()
        for device in devices:
            if not isinstance(device, Device):
                raise TypeError(f"{device!r} is not a Device")
            if device.devicename in self.data:
                raise ValueError(f"device name {device.devicename!r} is duplicated in this driver")
            self.data[device.devicename] = device
            device.driver = self
            for vector in device.values():
                vector.driver = self
        self.driverdata = driverdata
        self.snoopall = False
        self.snoopdevices: set[str] = set()
        # (device, vector) -> None, or [timeout seconds, monotonic time of last data]
        self.snoopvectors: dict[tuple[str, str], list[float] | None] = {}
        self.debug_enable = False
        self.auto_send_def = True
        self._stop = False
        self.stopped = asyncio.Event()
        self.shutdownrequested = asyncio.Event()
        self._backgroundlist: list[Coroutine[Any, Any, Any]] = []
        self._link: DriverLink | None = None
        self._sent = 0
        self._running = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._inbox: asyncio.Queue[Event | _Suspended] | None = None
        # getProperties requests waiting in the inbox: one the same as a
        # waiting one is answered by it (definitions go to every client that
        # watches), so a flood of them costs one answer, not one each.
        self._queued_gets: set[tuple[str | None, str | None]] = set()
        self._dispatcher: asyncio.Task[None] | None = None
        # True while a request or snooped event is being handled.
        self._busy = False
        self._snoop_changed: asyncio.Event | None = None
        # Lines caused by clients or other drivers: one per 10 s per kind.
        self._log_limiter = LogLimiter(logger)

    def __setitem__(self, key: str, value: Device) -> None:
        raise TypeError("a driver's devices are fixed when it is made")

    def __delitem__(self, key: str) -> None:
        raise TypeError("a driver's devices are fixed when it is made")

    # -- what a driver author overrides --

    async def rxevent(self, event: Any) -> None:
        """Override: handle a client request (``newSwitchVector`` and friends).

        With ``auto_send_def`` False, also receives a ``getProperties`` event per
        vector asked for. Calls come one at a time, in arrival order.
        """

    async def hardware(self) -> None:
        """Override: run the instrument, e.g. ``while not self.stop: ...``.

        Started by ``asyncrun``; cancelled when the driver shuts down. If it
        raises, the error is logged, every vector goes to Alert, and it is
        started again after :attr:`hardware_restart_delay` seconds (doubling
        at each failure in a row, up to :attr:`hardware_restart_max_delay`),
        unless the driver is stopping. If it returns, it is not started again.
        """

    async def snoopevent(self, event: Any) -> None:
        """Override: handle an event snooped from another driver's device."""

    # -- helpers for driver authors --

    @staticmethod
    def indi_number_to_float(value: str | float) -> float:
        """Any INDI number (decimal or sexagesimal) as a float."""
        return getfloat(value)

    def devices(self) -> list[Device]:
        """The driver's devices, as a list."""
        return list(self.data.values())

    @property
    def stop(self) -> bool:
        """True once :meth:`shutdown` has been called."""
        return self._stop

    def shutdown(self) -> None:
        """Stop the driver: ``asyncrun`` cancels the driver's tasks and returns."""
        self._stop = True
        self.shutdownrequested.set()
        for device in self.data.values():
            device.shutdown()

    def add_background(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a coroutine in the background while the driver runs.

        Raises:
            TypeError: *coro* is not a coroutine object.
        """
        coro = _coroutine(coro)
        if self._running:
            self._start_task(coro)
        else:
            self._backgroundlist.append(coro)

    async def send(self, event: Event) -> None:
        """Send one protocol event (the vectors' send_* methods use this)."""
        link = self._link
        if self._stop or link is None:
            return
        if self.debug_enable and logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "driver %s TX:: %s",
                type(self).__name__,
                encode(event).decode("utf-8", "replace").rstrip(),
            )
        send_nowait = link.send_nowait
        if send_nowait is None:
            await link.send(event)
        else:
            send_nowait(event)
        self._sent += 1
        if not self._sent & 63:
            # A driver sending in a tight loop would never suspend otherwise;
            # let the output go out and requests come in now and then.
            await asyncio.sleep(0)

    async def send_message(self, message: str = "", timestamp: datetime | None = None) -> None:
        """Send a site-wide ``<message>`` (no device)."""
        await self.send(Message(timestamp=_timestamp(timestamp), message=message or None))

    async def send_getProperties(
        self, devicename: str | None = None, vectorname: str | None = None
    ) -> None:
        """Ask for another device's definitions, and snoop on what it sends.

        With no arguments, snoop on everything; with a device, on that device;
        with both, on that one vector. A driver cannot snoop on its own devices.
        """
        if devicename is not None and devicename in self.data:
            logger.error("cannot snoop on %r: it is a device of this driver", devicename)
            return
        if devicename is None:
            self.snoopall = True
        elif vectorname is None:
            self.snoopdevices.add(devicename)
        else:
            self.snoopvectors.setdefault((devicename, vectorname), None)
        await self.send(GetProperties(version="1.7", device=devicename, name=vectorname))

    async def send_enableBLOB(
        self, value: str, devicename: str, vectorname: str | None = None
    ) -> None:
        """Say whether snooped BLOBs of another device should come to :meth:`snoopevent`.

        *value* is "Never", "Also" or "Only", as a client's ``enableBLOB``
        (the signature is indipyclient's ``send_enableBLOB``). Under an
        ``IPyServer`` an in-process driver gets snooped BLOBs without asking,
        as under indipyserver; this stops them ("Never") or starts them again.
        A driver run on stdio (under indiserver, or ``add_exdriver``) gets
        none until it asks with "Also", as a libindi driver asks with
        ``IDSnoopBLOBs``. BLOBs from behind a remote link come only when it
        was added with ``blob_enable=True``.

        Raises:
            ValueError: *value* is not one of the three.
        """
        try:
            policy = BLOBPolicy(value)
        except ValueError:
            raise ValueError(
                f"enableBLOB value must be Never, Also or Only, not {value!r}"
            ) from None
        if devicename in self.data:
            logger.error("cannot snoop on %r: it is a device of this driver", devicename)
            return
        await self.send(EnableBLOB(device=devicename, name=vectorname, policy=policy))

    def snoop(self, devicename: str, vectorname: str, timeout: float = 30) -> None:
        """Snoop on one vector, asking again whenever it is silent for *timeout* seconds.

        The first request goes out at once when the driver is running (at start
        otherwise). Asking again copes with servers that restart and forget.

        Raises:
            ValueError: *timeout* is under 5 seconds, or the device is this driver's.
        """
        if devicename in self.data:
            raise ValueError(f"cannot snoop on {devicename!r}: it is a device of this driver")
        if timeout < 5:
            raise ValueError("snoop timeout must be at least 5 seconds")
        # Due at once: "last heard from" is one timeout ago.
        self.snoopvectors[(devicename, vectorname)] = [
            float(timeout),
            time.monotonic() - float(timeout),
        ]
        if self._snoop_changed is not None:
            self._snoop_changed.set()

    # -- running --

    async def asyncrun(self) -> None:
        """Run the driver on stdin/stdout until stdin closes or :meth:`shutdown`.

        Do not call this for a driver given to an IPyServer: the server runs it.
        """
        if self._link is None:
            from pi_indi._stdio import StdioLink

            self._link = StdioLink(self)
        await self._run()

    def _start_task(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error(
                "driver %s: background task %s failed",
                type(self).__name__,
                task.get_coro(),
                exc_info=exc,
            )

    async def _run(self) -> None:
        assert self._link is not None  # noqa: S101
        logger.info("driver %s started", type(self).__name__)
        self._stop = False
        self._running = True
        self._inbox = asyncio.Queue(256)
        self._queued_gets.clear()  # a driver run again starts with none waiting
        self._snoop_changed = asyncio.Event()
        link_task = self._start_task(self._link.run(self))
        self._dispatcher = self._start_task(self._dispatch())
        self._start_task(self._run_hardware())
        self._start_task(self._monitor_snoop())
        for coro in self._backgroundlist:
            self._start_task(coro)
        self._backgroundlist.clear()
        for device in self.data.values():
            for coro in device._backgroundlist:
                self._start_task(coro)
            device._backgroundlist.clear()
        stop_wait = asyncio.ensure_future(self.shutdownrequested.wait())
        try:
            await asyncio.wait({link_task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if link_task.done() and not stop_wait.done():
                # The peer closed: nobody is left to talk to.
                await self._drain_inbox()
                self.shutdown()
        finally:
            stop_wait.cancel()
            self.shutdown()
            self._running = False
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._dispatcher = None
            while self._inbox is not None and not self._inbox.empty():
                item = self._inbox.get_nowait()
                if type(item) is GetProperties:
                    self._queued_gets.discard((item.device, item.name))
                if type(item) is _Suspended:
                    item.coro.close()
            # Stopped: what a link offers now waits in the link until a run
            # makes a new queue (a driver served again), not in this one.
            self._inbox = None
            self._queued_gets.clear()
            self._link.close()
            self.stopped.set()
            logger.info("driver %s stopped", type(self).__name__)

    async def _run_hardware(self) -> None:
        """Run ``hardware()``; start it again, with a growing delay, each time it raises."""
        loop = asyncio.get_running_loop()
        name = type(self).__name__
        # A run as long as the longest delay was a good one: start over.
        backoff = Backoff(
            self.hardware_restart_delay,
            self.hardware_restart_max_delay,
            reset_after=self.hardware_restart_max_delay,
        )
        # The vectors put in Alert by the last failure, with the state each had.
        alerted: list[tuple[PropertyVector[Any], str]] = []
        while True:
            started = loop.time()
            try:
                await self.hardware()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stop:
                    logger.info("driver %s: hardware() ended while stopping: %r", name, exc)
                    return
                delay = backoff.next(loop.time() - started)
                logger.exception(
                    "driver %s: hardware() failed; starting it again in %g s", name, delay
                )
                await self._hardware_failed(exc, delay, alerted)
            else:
                return  # done, as indipydriver's hardware() is when it returns
            await asyncio.sleep(delay)
            if self._stop:
                return
            logger.info("driver %s: starting hardware() again", name)
            await self._hardware_restarting(alerted)

    async def _hardware_failed(
        self, exc: Exception, delay: float, alerted: list[tuple[PropertyVector[Any], str]]
    ) -> None:
        # Shown on every vector: which of them the failed task served, only the driver knows.
        message = f"[ERROR] hardware task failed ({_reason(exc)}); restarting it in {delay:g} s"
        try:
            for device in self.data.values():
                if not device.enable:
                    continue
                await device.send_device_message(message)
                for vector in device.data.values():
                    if not vector.enable:
                        continue
                    if vector.state != "Alert":
                        alerted.append((vector, vector.state))
                        vector.state = "Alert"
                    await vector.send_setVectorMembers(members=[])
        except Exception:
            logger.exception(
                "driver %s: could not report the hardware failure", type(self).__name__
            )

    async def _hardware_restarting(self, alerted: list[tuple[PropertyVector[Any], str]]) -> None:
        # Vectors still in the Alert the failure set go back to what they were.
        restored, alerted[:] = list(alerted), []
        try:
            for device in self.data.values():
                if device.enable:
                    await device.send_device_message("[INFO] hardware task restarted")
            for vector, state in restored:
                if vector.state == "Alert":
                    vector.state = state
                    await vector.send_setVectorMembers(members=[])
        except Exception:
            logger.exception("driver %s: could not report the restart", type(self).__name__)

    async def _drain_inbox(self) -> None:
        # Let requests read before EOF be handled before stopping.
        if self._inbox is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            async with asyncio.timeout(5):
                await self._inbox.join()

    def _log_rx(self, event: Event) -> None:
        if self.debug_enable and logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "driver %s RX:: %s",
                type(self).__name__,
                encode(event).decode("utf-8", "replace").rstrip(),
            )

    def attach_link(self, link: DriverLink) -> None:
        """Run on *link*, not stdin/stdout (a server does this before it starts the driver)."""
        self._link = link

    async def receive_event(self, event: Event) -> None:
        """Queue one incoming event (links call this; it waits when the queue is full)."""
        self._log_rx(event)
        assert self._inbox is not None  # noqa: S101
        if type(event) is GetProperties:
            key = (event.device, event.name)
            if key in self._queued_gets:
                return
            self._queued_gets.add(key)
            try:
                await self._inbox.put(event)
            except BaseException:
                self._queued_gets.discard(key)
                raise
            return
        await self._inbox.put(event)

    def offer_event(self, event: Event) -> bool:
        """Take one incoming event without waiting; False when there is no room for it.

        Links call this from loop callbacks. When the driver is idle the event
        is handled here and now; otherwise it is queued behind the others.
        """
        inbox = self._inbox
        if inbox is None or inbox.full():
            return False
        self._log_rx(event)
        if type(event) is GetProperties and (event.device, event.name) in self._queued_gets:
            return True
        dispatcher = self._dispatcher
        if (
            self._busy
            or not inbox.empty()
            or dispatcher is None
            or _enter_task is None
            or asyncio.current_task() is not None
            or dispatcher.done()
        ):
            if type(event) is GetProperties:
                self._queued_gets.add((event.device, event.name))
            inbox.put_nowait(event)
        else:
            self._handle_now(dispatcher, event)
        return True

    def _handle_now(self, dispatcher: asyncio.Task[None], event: Event) -> None:
        # As asyncio's eager tasks do (3.12): run the handler's first steps
        # here, as the dispatch task, which is idle waiting for its queue.
        assert _enter_task is not None  # noqa: S101
        assert _leave_task is not None  # noqa: S101
        loop = dispatcher.get_loop()
        coro = self._handle_safely(event)
        self._busy = True
        _enter_task(loop, dispatcher)
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            self._busy = False
            return
        except asyncio.CancelledError:
            self._busy = False
            logger.exception("driver %s: handling %r was cancelled", type(self).__name__, event)
            return
        except BaseException:
            self._busy = False
            raise
        finally:
            _leave_task(loop, dispatcher)
        # It waits for something: the dispatch task carries it on, and takes
        # nothing from the queue before it ends (the driver stays busy).
        assert self._inbox is not None  # noqa: S101
        self._inbox.put_nowait(_Suspended(coro, waiting_on))

    async def _dispatch(self) -> None:
        assert self._inbox is not None  # noqa: S101
        inbox = self._inbox
        while True:
            item = await inbox.get()
            if type(item) is GetProperties:
                self._queued_gets.discard((item.device, item.name))
            self._busy = True
            try:
                if type(item) is _Suspended:
                    await _carry_on(item.coro, item.waiting_on)
                else:
                    await self._handle_safely(item)  # type: ignore[arg-type]
            finally:
                self._busy = False
                inbox.task_done()

    async def _handle_safely(self, event: Event) -> None:
        try:
            if type(event) in _NEW_FOR:
                await self._handle_new(event)  # type: ignore[arg-type]
            else:
                await self._handle(event)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - logged with its traceback
            self._log_limiter.log(
                logging.ERROR,
                ("failed", type(event)),
                "driver %s failed handling %s",
                type(self).__name__,
                shown(repr(event), 300),
                exc_info=True,
            )

    async def _handle(self, event: Event) -> None:
        kind = type(event)
        if kind in _NEW_FOR:
            await self._handle_new(event)  # type: ignore[arg-type]
        elif kind is GetProperties:
            await self._handle_get_properties(event)  # type: ignore[arg-type]
        elif kind is PingRequest:
            await self.send(PingReply(uid=event.uid))  # type: ignore[union-attr]
        elif kind is EnableBLOB or kind is PingReply:
            return  # for servers; a driver has nothing to do with them
        else:
            await self._handle_snoop(event)

    async def _handle_get_properties(self, event: GetProperties) -> None:
        # "*": every device, as libindi's drivers read it (indiserver passes a
        # chained server's <getProperties device="*"/> on as it is).
        if event.device is None or event.device == "*":
            devices = list(self.data.values())
        elif event.device in self.data:
            devices = [self.data[event.device]]
        else:
            return
        for device in devices:
            if not device.enable:
                continue
            if event.name is None:
                vectors = list(device.values())
            elif event.name in device:
                vectors = [device[event.name]]
            else:
                continue
            for vector in vectors:
                if not vector.enable:
                    continue
                if self.auto_send_def:
                    await vector.send_defVector()
                else:
                    await self._call_rxevent(
                        vector, events.getProperties(device.devicename, vector.name, vector, event)
                    )

    async def _handle_new(
        self, event: NewSwitchVector | NewTextVector | NewNumberVector | NewBLOBVector
    ) -> None:
        device = self.data.get(event.device)
        if device is None or not device.enable:
            return
        vector = device.get(event.name)
        if vector is None:
            await self.send(
                Message(
                    device=device.devicename,
                    timestamp=_timestamp(None),
                    message=f"[ERROR] {device.devicename} has no property {event.name!r}",
                )
            )
            return
        if not vector.enable:
            return
        try:
            rx = self._check_request(vector, event)
        except _Rejected as exc:
            # The device and vector exist, so the keys are as many as the vectors.
            self._log_limiter.warning(
                ("refused", exc.kind, event.device, event.name),
                "refused %s for %s.%s: %s",
                type(event).__name__,
                shown(event.device),
                shown(event.name),
                shown(exc, 300),
            )
            await self._alert(vector, f"[ERROR] {vector.name}: {exc}")
            return
        if rx is None:
            # Nothing to change: answered with the vector as it is, as a libindi
            # driver answers after IUUpdate* (rxevent could read a request naming
            # no member as "all Off"). BLOBs are not sent again.
            names = () if isinstance(vector, BLOBVector) else tuple(vector.data)
            await vector.send_setVectorMembers(members=names)
            return
        await self._call_rxevent(vector, rx)

    async def _call_rxevent(self, vector: PropertyVector[Any], rx: Any) -> None:
        try:
            await self.rxevent(rx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - logged with its traceback
            self._log_limiter.log(
                logging.ERROR,
                ("rxevent failed", vector.devicename, vector.name, type(exc)),
                "driver %s: rxevent failed on %s",
                type(self).__name__,
                shown(vector.name),
                exc_info=True,
            )
            await self._alert(
                vector,
                f"[ERROR] {vector.name}: the driver failed to handle the request ({_reason(exc)})",
            )

    async def _alert(self, vector: PropertyVector[Any], message: str) -> None:
        # As libindi's drivers do (IUUpdate* failing -> IPS_ALERT): the vector
        # stays in Alert, for every client, until its driver sets a state.
        vector.state = "Alert"
        await vector.send_setVectorMembers(message=message, members=[])

    @staticmethod
    def _check_request(vector: PropertyVector[Any], event: Any) -> events.newVector | None:
        """The request as rxevent gets it; None when it changes nothing."""
        expected = _NEW_FOR[type(event)]
        if not isinstance(vector, expected):
            raise _Rejected(
                f"this is a {type(vector).__name__}: it takes {_NEW_TAG[type(vector)]},"
                f" not {type(event).__name__[0].lower()}{type(event).__name__[1:]}",
                "type",
            )
        if vector._perm is Permission.RO:
            raise _Rejected("this property is read-only", "read-only")
        data = vector.data
        if isinstance(event, NewBLOBVector):
            unknown = [b.name for b in event.blobs if b.name not in data]
            empty = not event.blobs
        else:
            unknown = [n for n in event.values if n not in data]
            empty = not event.values
        if unknown:
            raise _Rejected(f"no member {', '.join(map(repr, unknown))}", "member")
        if empty:
            # The DTD wants one member or more. libindi's IUUpdate* with none
            # changes nothing, except that OneOfMany is then left with no
            # switch On, which it refuses.
            if isinstance(vector, SwitchVector) and vector._rule == SwitchRule.ONE_OF_MANY:
                raise _Rejected(_NONE_ON, "rule")
            return None
        if isinstance(event, NewBLOBVector):
            return events.newBLOBVector(vector, event)
        if isinstance(event, NewNumberVector):
            for name, text in event.values.items():
                value = parse_number(text)
                member = vector.data[name]
                if not member.in_range(value):
                    raise _Rejected(f"{name}={text} is outside {member.min}..{member.max}", "range")
            return events.newNumberVector(vector, event, dict(event.values))
        if isinstance(event, NewSwitchVector):
            assert isinstance(vector, SwitchVector)  # noqa: S101
            return events.newSwitchVector(vector, event, _apply_switch_rule(vector, event))
        return events.newTextVector(vector, event, dict(event.values))

    async def _handle_snoop(self, event: Event) -> None:
        device = getattr(event, "device", None)
        if device is not None and device in self.data:
            if isinstance(event, _DEF_TYPES):
                self._log_limiter.log(
                    logging.ERROR,
                    ("defines", device),
                    "another driver defines %r, a device of this driver; ignoring it",
                    device,
                )
            return
        name = getattr(event, "name", None)
        key = (device, name)
        if not (
            self.snoopall
            or (device is not None and device in self.snoopdevices)
            or key in self.snoopvectors
        ):
            return
        snooped = events.snoop_event(event)
        if snooped is None:
            return
        timer = self.snoopvectors.get(key)  # type: ignore[arg-type]
        if timer is not None:
            timer[1] = time.monotonic()
        try:
            await self.snoopevent(snooped)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - logged with its traceback
            # Snooped events come from other drivers and servers: keys bounded by the limiter.
            self._log_limiter.log(
                logging.ERROR,
                ("snoopevent failed", type(event), device, name),
                "driver %s: snoopevent failed on %s %s.%s",
                type(self).__name__,
                type(event).__name__,
                shown(device),
                shown(name),
                exc_info=True,
            )

    async def _monitor_snoop(self) -> None:
        # Sleeps until the next snoop() deadline; no periodic tick.
        assert self._snoop_changed is not None  # noqa: S101
        changed = self._snoop_changed
        while True:
            now = time.monotonic()
            wait: float | None = None
            for (device, name), timer in list(self.snoopvectors.items()):
                if timer is None:
                    continue
                due = timer[1] + timer[0]
                if due <= now:
                    timer[1] = now
                    await self.send(GetProperties(version="1.7", device=device, name=name))
                    due = now + timer[0]
                wait = due - now if wait is None else min(wait, due - now)
            changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                async with asyncio.timeout(wait):
                    await changed.wait()


def _apply_switch_rule(vector: SwitchVector, event: NewSwitchVector) -> dict[str, str]:
    """The switch values a request asks for, checked against the vector's rule.

    For OneOfMany and AtMostOne, a member turned On implies every other member
    Off. The result must then hold exactly one On (OneOfMany) or at most one
    (AtMostOne); otherwise the request is refused and nothing changes. As
    libindi's IUUpdateSwitch resets a OneOfMany vector before applying a
    request, a OneOfMany request that turns no switch On (all Off, or none
    named) leaves none On and is refused.
    """
    # str() of a SwitchState is its wire text, as .value is, only cheaper.
    requested = {name: str(value) for name, value in event.values.items()}
    rule = vector._rule
    if rule == SwitchRule.ANY_OF_MANY:
        return requested
    turned_on = [name for name, value in requested.items() if value == "On"]
    if rule == SwitchRule.ONE_OF_MANY and not turned_on:
        raise _Rejected(_NONE_ON, "rule")
    if len(turned_on) > 1:
        raise _Rejected(
            f"{rule} allows one switch On, the request turns on {len(turned_on)}", "rule"
        )
    result = dict(requested)
    if turned_on:
        for name in vector.data:
            result.setdefault(name, "Off")
    # AtMostOne turning none On: the members named change, the others stay.
    return result
