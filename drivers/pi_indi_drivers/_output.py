"""What the bundled output drivers share: their devices, their saved state, refusals.

An output driver makes its gpiozero devices with :meth:`OutputDriver.create`
(so they are released when it stops, or when ``build()`` fails half way),
applies every change through :meth:`GpioDriver.attempt` (a refusal from
gpiozero, lgpio or the OS becomes the vector in Alert plus a message, never an
exception out of ``rxevent``) and calls :meth:`OutputDriver.persist` after each
change, which saves :meth:`OutputDriver.snapshot` for the next start.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from pi_indi_drivers._base import OUTPUT_INTERFACE, GpioDriver

if TYPE_CHECKING:
    import asyncio

    from pi_indi.registry import DriverContext

__all__ = ["OutputDriver", "requested_on", "saved_number"]

logger = logging.getLogger(__name__)


def saved_number(
    entry: Mapping[str, Any], key: str, default: float, low: float, high: float
) -> float:
    """``entry[key]`` when it is a number within low..high, else *default*.

    Saved state is a file a person may edit; a value that no longer fits the
    options is ignored rather than trusted.
    """
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    if not math.isfinite(value) or not low <= value <= high:
        return default
    return float(value)


def requested_on(event: Mapping[str, str]) -> bool | None:
    """What an AtMostOne ``OFF``/``ON`` request asks: on, off, or None for nothing.

    ``ON`` named decides; else ``OFF`` turned On means off. A request naming
    neither, or only ``OFF`` turned Off, changes nothing, as libindi's
    IUUpdateSwitch leaves the members it is not given as they are.
    """
    value = event.get("ON")
    if value is None:
        return False if event.get("OFF") == "On" else None
    return value == "On"


class OutputDriver(GpioDriver):
    """Base of the bundled output drivers.

    Subclasses implement :meth:`build` (making devices with :meth:`create`)
    and :meth:`snapshot`; options with a ``restore`` field decide whether
    :attr:`restoring` hands them the saved state.
    """

    interface = OUTPUT_INTERFACE

    def __init__(self, context: DriverContext) -> None:
        self._devices: list[Any] = []
        # The outputs' state at DISCONNECT, which CONNECT starts from.
        self._resume: dict[str, Any] | None = None
        try:
            super().__init__(context)
        except BaseException:
            # build() failed part way: free the pins it already claimed.
            self.close_hardware()
            raise

    # -- for subclasses --

    def create(self, class_name: str, /, **kwargs: Any) -> Any:
        """Make a gpiozero device that this driver releases when it stops.

        Raises:
            pi_indi.errors.HardwareError: gpiozero refused the device.
        """
        device = self.gpio.create(class_name, **kwargs)
        self._devices.append(device)
        return device

    @property
    def restoring(self) -> Mapping[str, Any]:
        """The state to start from.

        After a DISCONNECT, the state the outputs had then; at start, the
        saved state when there is one and ``restore`` is on; else empty.
        """
        if self._resume is not None:
            return self._resume
        saved = self.saved_state
        if saved is None or not getattr(self.options, "restore", True):
            return {}
        return saved

    def snapshot(self) -> dict[str, Any]:
        """The output state to persist (plain TOML values)."""
        raise NotImplementedError

    def persist(self) -> None:
        """Save :meth:`snapshot` for the next start."""
        try:
            self.save_state(self.snapshot())
        except Exception:
            logger.exception("%s: could not save the output state", self.context.devicename)

    def start_task(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run *coro* as a task of this driver and return it (to cancel it early).

        Tasks still running when the driver stops are cancelled.
        """
        return self._start_task(coro)

    # -- GpioDriver --

    def before_disconnect(self) -> None:
        """Remember the outputs' state, which CONNECT restores."""
        self._resume = self.snapshot()

    def close_hardware(self) -> None:
        """Release this driver's devices (their pins become free)."""
        devices, self._devices = self._devices, []
        for device in reversed(devices):
            self.gpio.release(device)
