"""What every bundled driver shares: one device from one config table.

A bundled driver subclasses :class:`GpioDriver`, declares ``options_class``
(a frozen dataclass whose fields are made with :func:`pi_indi.config.option`)
and implements :meth:`GpioDriver.build`, which makes its gpiozero devices
through ``self.gpio`` and returns its vectors, registering a handler per
writable vector with :meth:`GpioDriver.handle`. ``rxevent`` then dispatches
per vector name, never through one long ``if`` chain.

Every call into gpiozero made while the driver runs (``on()``, ``off()``, a
value set, ``blink()``, a read) goes through :meth:`GpioDriver.attempt` or
``async with self.hardware_errors(vector):`` (a :class:`HardwareGuard`): an
error from the hardware becomes the vector in Alert with a message saying why,
and an ERROR log line with the traceback, never an exception out of a request
handler or a polling loop. Which errors come from the hardware is decided by
the back end (:meth:`pi_indi_drivers._gpio.Gpio.as_hardware_error`), the only
code that knows gpiozero's exception types. Anything else is a bug: it goes on
up to :class:`~pi_indi.driver.IPyDriver`, which answers the request with an
Alert, or restarts ``hardware()``.

gpiozero calls its ``when_*`` callbacks on its own threads (lgpio's notify
thread, the "held" thread, a test's thread with the mock factory). They must
do nothing but :meth:`GpioDriver.from_thread`, which hands the work to the
event loop; driver state is only ever touched on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pi_indi import __version__
from pi_indi.driver import Device, IPyDriver
from pi_indi.properties import PropertyVector, TextMember, TextVector

if TYPE_CHECKING:
    from pi_indi.errors import HardwareError
    from pi_indi.registry import DriverContext
    from pi_indi_drivers._gpio import Gpio

__all__ = ["AUX_INTERFACE", "INPUT_INTERFACE", "OUTPUT_INTERFACE", "GpioDriver", "HardwareGuard"]

logger = logging.getLogger(__name__)

# libindi's DRIVER_INTERFACE bits (libs/indibase/basedevice.h), which KStars
# and Ekos read from DRIVER_INFO to classify a device.
AUX_INTERFACE = 1 << 15
OUTPUT_INTERFACE = 1 << 16
INPUT_INTERFACE = 1 << 17

Handler = Callable[[Any], Awaitable[None]]


class HardwareGuard:
    """``async with guard:`` around calls into gpiozero; a hardware error becomes an Alert.

    When the block raises an error the back end recognises as the hardware's
    (:meth:`~pi_indi_drivers._gpio.Gpio.as_hardware_error`), the guard logs
    it at ERROR with its traceback, puts *vectors* in Alert, sends them (the
    first with the message ``[ERROR] <vector>: <failure>: <reason>``) and
    swallows the error; :attr:`failed` tells the code after the block. Other
    errors, and cancellation, pass through untouched. The vectors' values are
    not touched, so the Alert carries the values they had, as libindi
    reverts a refused change.

    One guard may be entered again and again (a polling loop). With
    ``once=True`` the same failure twice in a row is told once: the repeat is
    logged at DEBUG and nothing is sent (the vectors are still in Alert).

    Args:
        driver: the driver the vectors belong to (for the log).
        gpio: the back end that classifies errors.
        vectors: the vectors to put in Alert; the first carries the message.
        failure: what failed, put before the reason ("cannot read the sensor").
        once: tell a repeated failure once.
    """

    def __init__(
        self,
        driver: IPyDriver,
        gpio: Gpio,
        *vectors: PropertyVector[Any],
        failure: str = "",
        once: bool = False,
    ) -> None:
        self.driver = driver
        self.gpio = gpio
        self.vectors = vectors
        self.failure = failure
        self.once = once
        #: True when the last block failed with a hardware error.
        self.failed = False
        #: That error, as a HardwareError (its ``__cause__`` is the original).
        self.error: HardwareError | None = None
        #: The text of the last failure, until a block succeeds.
        self.problem: str | None = None

    def _where(self) -> str:
        return ", ".join(self.driver.data) or type(self.driver).__name__

    async def __aenter__(self) -> Self:
        self.failed = False
        self.error = None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None:
            if self.problem is not None and self.once:
                logger.info("%s: works again after: %s", self._where(), self.problem)
            self.problem = None
            return False
        if not isinstance(exc, Exception):
            return False  # cancellation, KeyboardInterrupt: not ours to stop
        error = self.gpio.as_hardware_error(exc)
        if error is None:
            return False
        self.failed = True
        self.error = error
        text = f"{self.failure}: {error}" if self.failure else str(error)
        if self.once and text == self.problem:
            logger.debug("%s: still failing: %s", self._where(), text)
            return True
        self.problem = text
        names = ", ".join(v.name for v in self.vectors)
        logger.error("%s: %s: %s", self._where(), names, text, exc_info=exc)
        message = f"[ERROR] {self.vectors[0].name}: {text}" if self.vectors else ""
        for vector in self.vectors:
            vector.state = "Alert"
            await vector.send_setVector(message=message)
            message = ""
        return True


class GpioDriver(IPyDriver):
    """Base of the bundled drivers: one INDI device built from one config table.

    Subclasses set :attr:`options_class` and :attr:`interface` and implement
    :meth:`build`.
    """

    #: The frozen dataclass the config table is checked against.
    options_class: ClassVar[type[Any]]
    #: libindi DRIVER_INTERFACE bits for DRIVER_INFO.
    interface: ClassVar[int] = AUX_INTERFACE
    #: The INDI group the main vectors go in.
    group: ClassVar[str] = "Main Control"

    def __init__(self, context: DriverContext) -> None:
        self.context = context
        self.options: Any = context.options
        self.gpio: Gpio = context.hardware
        self._handlers: dict[str, Handler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        vectors = [*self.build(), self._driver_info()]
        super().__init__(Device(context.devicename, vectors))
        self.device: Device = self[context.devicename]

    @classmethod
    def from_config(cls, context: DriverContext) -> GpioDriver:
        """Build the driver for one config table (what the appliance calls)."""
        return cls(context)

    # -- for subclasses --

    def build(self) -> list[PropertyVector[Any]]:
        """Make the gpiozero devices (``self.gpio.create``) and return the vectors."""
        raise NotImplementedError

    def handle(self, vectorname: str, handler: Handler) -> None:
        """Call *handler* (a coroutine function) with each request for *vectorname*."""
        self._handlers[vectorname] = handler

    def from_thread(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run *callback(*args)* on the event loop; safe from any thread.

        Edges that come before the driver runs are dropped: the vectors'
        definitions carry the state read at that time.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed since: the driver is gone
            loop.call_soon_threadsafe(callback, *args)

    def hardware_errors(
        self, *vectors: PropertyVector[Any], failure: str = "", once: bool = False
    ) -> HardwareGuard:
        """A :class:`HardwareGuard` for calls into gpiozero that answer for *vectors*.

        Example:
            .. code-block:: python

                async with self.hardware_errors(self.switch) as guard:
                    self.led.on()
                if guard.failed:
                    return  # the client has the Alert and the reason
        """
        return HardwareGuard(self, self.gpio, *vectors, failure=failure, once=once)

    async def attempt(self, vector: PropertyVector[Any], action: Callable[[], object]) -> bool:
        """Run *action* (a call into gpiozero); a hardware error answers *vector* with Alert.

        Returns:
            True when the action succeeded.
        """
        async with self.hardware_errors(vector) as guard:
            action()
        return not guard.failed

    async def refuse(self, vector: PropertyVector[Any], reason: str) -> None:
        """Answer a request with *vector* in Alert and a message saying why."""
        vector.state = "Alert"
        await vector.send_setVector(message=f"[ERROR] {vector.name}: {reason}")

    def spawn(self, coro: Awaitable[Any]) -> None:
        """Run *coro* as a task of this driver (cancelled when it stops)."""
        self._start_task(coro)  # type: ignore[arg-type]

    def save_state(self, state: Mapping[str, Any]) -> None:
        """Persist *state* (plain TOML values) for restoring at the next start."""
        self.context.save_state(state)

    @property
    def saved_state(self) -> Mapping[str, Any] | None:
        """What :meth:`save_state` last stored, when restoring is on; else None."""
        return self.context.saved_state

    def to_safe_state(self) -> None:
        """Put the outputs in their configured safe state (called on stop)."""

    def close_hardware(self) -> None:
        """Release the gpiozero devices (called on stop, after the safe state)."""

    # -- IPyDriver --

    async def rxevent(self, event: Any) -> None:
        """Dispatch a request to the handler registered for its vector."""
        handler = self._handlers.get(event.vectorname)
        if handler is not None:
            await handler(event)

    async def hardware(self) -> None:
        """Start handing gpiozero callbacks to this loop; subclasses extend it."""
        self._loop = asyncio.get_running_loop()
        await self.run()

    async def run(self) -> None:
        """Override for work that runs while the driver runs (polling a sensor)."""

    def shutdown(self) -> None:
        """Stop the driver: outputs to their safe state, devices closed."""
        already = self.stop
        super().shutdown()
        if already:
            return
        self._loop = None
        try:
            self.to_safe_state()
        except Exception:
            logger.exception("%s: could not set the safe state", self.context.devicename)
        try:
            self.close_hardware()
        except Exception:
            logger.exception("%s: could not release the hardware", self.context.devicename)

    def _driver_info(self) -> TextVector:
        return TextVector(
            name="DRIVER_INFO",
            label="Driver info",
            group="General Info",
            perm="ro",
            state="Ok",
            textmembers=[
                TextMember("DRIVER_NAME", "Name", type(self).__name__),
                TextMember("DRIVER_EXEC", "Exec", "pi-indi"),
                TextMember("DRIVER_VERSION", "Version", __version__),
                TextMember("DRIVER_INTERFACE", "Interface", str(self.interface)),
            ],
        )
