"""What every bundled driver shares: one device from one config table.

A bundled driver subclasses :class:`GpioDriver`, declares ``options_class``
(a frozen dataclass whose fields are made with :func:`pi_indi.config.option`)
and implements :meth:`GpioDriver.build`, which makes its gpiozero devices
through ``self.gpio`` and returns its vectors, registering a handler per
writable vector with :meth:`GpioDriver.handle`. ``rxevent`` then dispatches
per vector name, never through one long ``if`` chain.

gpiozero calls its ``when_*`` callbacks on its own threads (lgpio's notify
thread, the "held" thread, a test's thread with the mock factory). They must
do nothing but :meth:`GpioDriver.from_thread`, which hands the work to the
event loop; driver state is only ever touched on the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pi_indi import __version__
from pi_indi.driver import Device, IPyDriver
from pi_indi.properties import PropertyVector, TextMember, TextVector

if TYPE_CHECKING:
    from pi_indi.registry import DriverContext
    from pi_indi_drivers._gpio import Gpio

__all__ = ["AUX_INTERFACE", "INPUT_INTERFACE", "OUTPUT_INTERFACE", "GpioDriver"]

logger = logging.getLogger(__name__)

# libindi's DRIVER_INTERFACE bits (libs/indibase/basedevice.h), which KStars
# and Ekos read from DRIVER_INFO to classify a device.
AUX_INTERFACE = 1 << 15
OUTPUT_INTERFACE = 1 << 16
INPUT_INTERFACE = 1 << 17

Handler = Callable[[Any], Awaitable[None]]


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
        loop.call_soon_threadsafe(callback, *args)

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
