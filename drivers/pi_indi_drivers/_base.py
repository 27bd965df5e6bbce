"""What every bundled driver shares: one device from one config table.

A bundled driver subclasses :class:`GpioDriver`, declares ``options_class``
(a frozen dataclass whose fields are made with :func:`pi_indi.config.option`)
and implements :meth:`GpioDriver.build`, which makes its gpiozero devices
through ``self.gpio`` and returns its vectors, registering a handler per
writable vector with :meth:`GpioDriver.handle`. ``rxevent`` then dispatches
per vector name, never through one long ``if`` chain.

Every bundled device has libindi's ``CONNECTION`` (``CONNECT``/``DISCONNECT``,
OneOfMany, "Main Control", as ``libs/indibase/defaultdevice.cpp`` defines it)
unless its class sets :attr:`GpioDriver.connection` to False. It is connected
when the service starts, so a headless appliance works with no client action.
DISCONNECT puts the outputs in their safe state, releases the pins (outputs
stay driven at their safe level, as at stop) and deletes the working vectors
(``delProperty`` each; ``CONNECTION`` and ``DRIVER_INFO`` stay); CONNECT runs
:meth:`GpioDriver.build` again, which claims the pins and makes the vectors
afresh from the last values, and defines them. A CONNECT whose pins cannot be
claimed answers Alert with the reason and stays disconnected.

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
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pi_indi import __version__
from pi_indi.driver import Device, IPyDriver
from pi_indi.events import newNumberVector, newTextVector
from pi_indi.properties import (
    NumberVector,
    PropertyVector,
    SwitchMember,
    SwitchVector,
    TextMember,
    TextVector,
)
from pi_indi.protocol import NewNumberVector, NewTextVector

if TYPE_CHECKING:
    from pi_indi.errors import HardwareError
    from pi_indi.registry import DriverContext
    from pi_indi_drivers._gpio import Gpio

__all__ = [
    "AUX_INTERFACE",
    "INPUT_INTERFACE",
    "OUTPUT_INTERFACE",
    "GpioDriver",
    "HardwareGuard",
    "Setting",
    "config_process_vector",
    "connection_vector",
]

logger = logging.getLogger(__name__)

# libindi's DRIVER_INTERFACE bits (libs/indibase/basedevice.h), which KStars
# and Ekos read from DRIVER_INFO to classify a device.
WEATHER_INTERFACE = 1 << 7
AUX_INTERFACE = 1 << 15
POWER_INTERFACE = 1 << 18
OUTPUT_INTERFACE = 1 << 16
INPUT_INTERFACE = 1 << 17

Handler = Callable[[Any], Awaitable[None]]


def connection_vector(connected: bool = True) -> SwitchVector:
    """The ``CONNECTION`` of libindi (``libs/indibase/defaultdevice.cpp``, ``initProperties``)."""
    return SwitchVector(
        name="CONNECTION",
        label="Connection",
        group="Main Control",
        perm="rw",
        rule="OneOfMany",
        state="Ok",
        switchmembers=[
            SwitchMember("CONNECT", "Connect", "On" if connected else "Off"),
            SwitchMember("DISCONNECT", "Disconnect", "Off" if connected else "On"),
        ],
    )


def config_process_vector() -> SwitchVector:
    """libindi's ``CONFIG_PROCESS`` (``libs/indibase/defaultdevice.cpp``, ``initProperties``)."""  # noqa: D403
    # ConfigProcessSP: CONFIG_LOAD "Load", CONFIG_SAVE "Save", CONFIG_DEFAULT
    # "Default", CONFIG_PURGE "Purge", all Off; "Configuration", "Options",
    # IP_RW, ISR_ATMOST1, IPS_IDLE.
    return SwitchVector(
        name="CONFIG_PROCESS",
        label="Configuration",
        group="Options",
        perm="rw",
        rule="AtMostOne",
        state="Idle",
        switchmembers=[
            SwitchMember("CONFIG_LOAD", "Load", "Off"),
            SwitchMember("CONFIG_SAVE", "Save", "Off"),
            SwitchMember("CONFIG_DEFAULT", "Default", "Off"),
            SwitchMember("CONFIG_PURGE", "Purge", "Off"),
        ],
    )


@dataclass(frozen=True, slots=True)
class Setting:
    """One value a client may change and pi-indi keeps in ``settings.toml``.

    Attributes:
        vector: the INDI vector, such as ``DIGITAL_OUTPUT_LABELS``.
        member: its member, such as ``DIGITAL_OUTPUT_1``.
        value: the text or number.
        saved: True when the value is one a client saved; False when it
            comes from the config file (or the driver's default).
    """

    vector: str
    member: str
    value: str | float
    saved: bool


_PULSE = re.compile(r"PULSE_\d+")


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
    #: Whether the device has ``CONNECTION`` (CONNECT/DISCONNECT); without it
    #: libindi's ``BaseDevice::isConnected()`` is false for the device.
    connection: ClassVar[bool] = True

    def __init__(self, context: DriverContext) -> None:
        self.context = context
        self.options: Any = context.options
        self.gpio: Gpio = context.hardware
        self._handlers: dict[str, Handler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Settings clients changed (labels, pulse durations), saved apart from the states.
        self.settings: dict[str, Any] = _plain(context.settings or {})
        #: The settings as last saved or loaded (what CONFIG_LOAD falls back on).
        self._saved_settings: dict[str, Any] | None = (
            _plain(context.settings) if context.settings is not None else None
        )
        #: labels vector -> member -> the label the config file gives it.
        self._label_defaults: dict[str, dict[str, str]] = {}
        #: True while CONFIG_LOAD/CONFIG_DEFAULT apply settings (libindi's
        #: ``isConfigLoading``): the handlers' saves are skipped.
        self._config_loading = False
        #: Whether the device is connected (its pins claimed, its vectors defined).
        self.connected = True
        self._online = asyncio.Event()
        self._online.set()
        self._offline = asyncio.Event()
        self._run_task: asyncio.Future[None] | None = None
        working = self.build()
        self._working = [vector.name for vector in working]
        vectors = [*working, self._driver_info(), *self.option_vectors()]
        if self.connection:
            vectors.insert(0, connection_vector())
            self.handle("CONNECTION", self._on_connection)
        super().__init__(Device(context.devicename, vectors))
        self.device: Device = self[context.devicename]

    @property
    def mock(self) -> bool:
        """Whether the pins and sensors are simulated (``pi-indi serve --mock``)."""
        return bool(getattr(self.gpio, "mock", False))

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

    def save_settings(self) -> bool:
        """Persist :attr:`settings` (``settings.toml`` in the state directory).

        Nothing is written while CONFIG_LOAD or CONFIG_DEFAULT apply settings
        (as libindi's ``saveConfig`` does nothing while ``isConfigLoading``).

        Returns:
            False when the settings could not be handed to the store.
        """
        if self._config_loading:
            return True
        try:
            self.context.save_settings(_plain(self.settings))
        except Exception:
            logger.exception("%s: could not save the settings", self.context.devicename)
            return False
        self._saved_settings = _plain(self.settings)
        return True

    def label_for(self, vectorname: str, member: str, default: str) -> str:
        """The label a client gave member *member* of labels vector *vectorname*, else *default*.

        The first *default* asked with for a member is its config-file label,
        which CONFIG_DEFAULT goes back to.
        """
        self._label_defaults.setdefault(vectorname, {}).setdefault(member, default)
        labels = self.settings.get("labels")
        if not isinstance(labels, dict):
            return default
        saved = labels.get(vectorname)
        text = saved.get(member) if isinstance(saved, dict) else None
        return text if isinstance(text, str) else default

    def labels_vector(
        self, name: str, label: str, members: list[tuple[str, str, str]]
    ) -> TextVector:
        """A rw labels vector (libindi's ``*_LABELS``), edits applied, saved and restored.

        Args:
            name: the vector name, such as ``DIGITAL_OUTPUT_LABELS``.
            label: its label.
            members: (member name, member label, default text); the text is
                the one a client saved, when there is one.
        """
        vector = TextVector(
            name=name,
            label=label,
            group=self.group,
            perm="rw",
            state="Idle",
            textmembers=[
                TextMember(member, member_label, self.label_for(name, member, text))
                for member, member_label, text in members
            ],
        )
        self.handle(name, self._on_labels)
        return vector

    async def _on_labels(self, event: Any) -> None:
        vector = event.vector
        labels = self.settings.setdefault("labels", {})
        saved = labels.setdefault(vector.name, {})
        for member, text in event.items():
            vector[member] = text
            saved[member] = text
            # The member is named after the vector it labels (libindi's
            # convention): its next definition carries the new label.
            if member in self.device and member != vector.name:
                self.device[member].label = text
        self.save_settings()
        await vector.send_setVector(state="Ok")

    @property
    def saved_state(self) -> Mapping[str, Any] | None:
        """What :meth:`save_state` last stored, when restoring is on; else None."""
        return self.context.saved_state

    def to_safe_state(self) -> None:
        """Put the outputs in their configured safe state (called on stop)."""

    def close_hardware(self) -> None:
        """Release the gpiozero devices (called on stop, after the safe state)."""

    def option_vectors(self) -> list[PropertyVector[Any]]:
        """The "Options" vectors, kept while disconnected (libindi's DefaultDevice ones).

        ``DEBUG`` here; polled sensors add ``POLLING_PERIOD``. A subclass
        extending it registers the handlers for what it adds.
        """
        debug = SwitchVector(
            # defaultdevice.cpp: DebugSP, "Options", IP_RW, ISR_1OFMANY, DISABLE On.
            name="DEBUG",
            label="Debug",
            group="Options",
            perm="rw",
            rule="OneOfMany",
            state="Idle",
            switchmembers=[
                SwitchMember("ENABLE", "Enable", "Off"),
                SwitchMember("DISABLE", "Disable", "On"),
            ],
        )
        self.handle("DEBUG", self._on_debug)
        self.handle("CONFIG_PROCESS", self._on_config_process)
        return [debug, config_process_vector()]

    async def _on_debug(self, event: Any) -> None:
        vector = event.vector
        enable = event.get("ENABLE") == "On" or event.get("DISABLE") == "Off"
        # IPyDriver logs this driver's XML, in and out, at DEBUG when it is set.
        self.debug_enable = enable
        vector["ENABLE"] = "On" if enable else "Off"
        vector["DISABLE"] = "Off" if enable else "On"
        logger.info(
            "%s: XML logging %s", self.context.devicename, "enabled" if enable else "disabled"
        )
        await vector.send_setVector(state="Ok")

    # -- CONFIG_PROCESS and the settings --

    def setting_values(self, settings: Mapping[str, Any] | None = None) -> list[Setting]:
        """Every client-changeable setting of the device, with *settings* on top of the config.

        The settings pi-indi keeps (those in ``settings.toml``) are the
        labels (``*_LABELS``, libindi saves them on change), the pulse
        durations (``PULSE_i.DURATION``, saved on change too) and the
        polling period (``POLLING_PERIOD.PERIOD_MS``).

        Args:
            settings: saved settings, in the shape of :attr:`settings`; the
                driver's own when omitted, none (the config file's values)
                when empty.
        """
        if settings is None:
            settings = self.settings
        found: list[Setting] = []
        labels = settings.get("labels")
        labels = labels if isinstance(labels, Mapping) else {}
        for vectorname, defaults in self._label_defaults.items():
            saved = labels.get(vectorname)
            saved = saved if isinstance(saved, Mapping) else {}
            for member, default in defaults.items():
                text = saved.get(member)
                if isinstance(text, str):
                    found.append(Setting(vectorname, member, text, True))
                else:
                    found.append(Setting(vectorname, member, default, False))
        pulses = settings.get("pulse_ms")
        pulses = pulses if isinstance(pulses, Mapping) else {}
        for name, vector in self.device.items():
            if _PULSE.fullmatch(name) and isinstance(vector, NumberVector):
                if "DURATION" not in vector:
                    continue
                found.append(_number(name, "DURATION", pulses.get(name), 0.0))
        polling = self.device.get("POLLING_PERIOD")
        interval = getattr(self.options, "interval", None)
        if isinstance(polling, NumberVector) and isinstance(interval, (int, float)):
            found.append(
                _number(
                    "POLLING_PERIOD",
                    "PERIOD_MS",
                    settings.get("polling_period_ms"),
                    float(interval) * 1000,
                )
            )
        return found

    async def apply_settings(self, settings: Mapping[str, Any]) -> None:
        """Apply *settings* on top of the config file's values, as requests to the handlers.

        As libindi's ``loadConfig`` replays the saved values through
        ``ISNewText``/``ISNewNumber``: each vector whose value changes goes
        through its own handler (so it is applied and sent to the clients),
        with saving suspended. While disconnected, the working vectors take
        them when CONNECT makes them again. Then :attr:`settings` is
        *settings*.
        """
        requests: dict[str, dict[str, str]] = {}
        for setting in self.setting_values(settings):
            vector = self.device.get(setting.vector)
            if vector is None or (not self.connected and setting.vector in self._working):
                continue
            if isinstance(vector, NumberVector):
                assert isinstance(setting.value, float)  # noqa: S101 - _number() made it
                if vector.getfloatvalue(setting.member) == setting.value:
                    continue
                text = repr(setting.value)
            elif vector[setting.member] == setting.value:
                continue
            else:
                text = str(setting.value)
            requests.setdefault(setting.vector, {})[setting.member] = text
        self._config_loading = True
        try:
            for vectorname, values in requests.items():
                handler = self._handlers.get(vectorname)
                vector = self.device[vectorname]
                if handler is None:
                    continue
                devicename = self.device.devicename
                event: Any
                if isinstance(vector, NumberVector):
                    event = newNumberVector(
                        vector,
                        NewNumberVector(device=devicename, name=vectorname, values=values),
                        dict(values),
                    )
                else:
                    event = newTextVector(
                        vector,
                        NewTextVector(device=devicename, name=vectorname, values=values),
                        dict(values),
                    )
                await handler(event)
        finally:
            self._config_loading = False
        self.settings = _plain(settings)

    def read_saved_settings(self) -> dict[str, Any] | None:
        """The device's settings as saved in ``settings.toml``, read again; None if none."""
        if self.context.load_settings is not None:
            saved = self.context.load_settings()
            return _plain(saved) if saved else None
        return _plain(self._saved_settings) if self._saved_settings else None

    async def _on_config_process(self, event: Any) -> None:
        # defaultdevice.cpp ConfigProcessSP.onUpdate: find the On switch, reset
        # them all, run it; Ok or Alert (all Off), Idle when none was On.
        vector = event.vector
        chosen = [name for name, value in event.items() if value == "On"]
        for member in vector:
            vector[member] = "Off"
        if not chosen:
            await vector.send_setVector(state="Idle")
            return
        action = {
            "CONFIG_LOAD": self._config_load,
            "CONFIG_SAVE": self._config_save,
            "CONFIG_DEFAULT": self._config_default,
            "CONFIG_PURGE": self._config_purge,
        }[chosen[0]]
        problem = await action()
        if problem is None:
            await vector.send_setVector(state="Ok")
        else:
            await vector.send_setVector(
                state="Alert", message=f"[WARNING] CONFIG_PROCESS: {problem}"
            )

    async def _config_load(self) -> str | None:
        saved = self.read_saved_settings()
        if saved is None:
            return "no saved settings to load"
        await self.apply_settings(saved)
        logger.info("%s: saved settings loaded", self.context.devicename)
        return None

    async def _config_save(self) -> str | None:
        if not self.save_settings():
            return "could not save the settings"
        logger.info("%s: settings saved", self.context.devicename)
        return None

    async def _config_default(self) -> str | None:
        # libindi loads <device>_config.xml.default, a file apart from the saved
        # config; here the config file's values, and settings.toml is kept.
        await self.apply_settings({})
        logger.info("%s: back to the config file's settings", self.context.devicename)
        return None

    async def _config_purge(self) -> str | None:
        # libindi's purgeConfig deletes the saved file; the values in effect stay.
        try:
            self.context.save_settings({})
        except Exception:
            logger.exception("%s: could not purge the settings", self.context.devicename)
            return "could not purge the saved settings"
        self._saved_settings = None
        logger.info("%s: saved settings purged", self.context.devicename)
        return None

    def before_disconnect(self) -> None:
        """Called on DISCONNECT before the safe state: remember what CONNECT restores."""

    # -- IPyDriver --

    async def rxevent(self, event: Any) -> None:
        """Dispatch a request to the handler registered for its vector."""
        handler = self._handlers.get(event.vectorname)
        if handler is not None:
            await handler(event)

    async def hardware(self) -> None:
        """Start handing gpiozero callbacks to this loop; :meth:`run` while connected."""
        self._loop = asyncio.get_running_loop()
        while True:
            await self._online.wait()
            task = self._run_task = asyncio.ensure_future(self.run())
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not task.cancelled() or (current is not None and current.cancelling()):
                    raise
            finally:
                self._run_task = None
            await self._offline.wait()

    # -- CONNECTION --

    async def _on_connection(self, event: Any) -> None:
        vector = event.vector
        connect = event.get("CONNECT") == "On" or event.get("DISCONNECT") == "Off"
        if connect == self.connected:
            await vector.send_setVector(state="Ok")
        elif connect:
            await self.connect()
        else:
            await self.disconnect()

    def _show_connection(self, connected: bool) -> SwitchVector:
        vector = self.device["CONNECTION"]
        assert isinstance(vector, SwitchVector)  # noqa: S101 - made by connection_vector()
        vector["CONNECT"] = "On" if connected else "Off"
        vector["DISCONNECT"] = "Off" if connected else "On"
        return vector

    async def disconnect(self) -> None:
        """Outputs to their safe state, pins released, working vectors deleted."""
        if not self.connected:
            return
        self._online.clear()
        self._offline.set()
        task = self._run_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.before_disconnect()
        self.connected = False
        self._release(hold=True)
        vector = self._show_connection(False)
        await vector.send_setVector(state="Ok")
        for name in self._working:
            await self.device[name].send_delProperty()
        logger.info("%s: disconnected", self.context.devicename)

    async def connect(self) -> None:
        """Claim the pins again, make and define the working vectors, resume :meth:`run`."""
        if self.connected:
            return
        try:
            vectors = self.build()
        except Exception as exc:
            error = self.gpio.as_hardware_error(exc)
            reason = str(error) if error is not None else f"{type(exc).__name__}: {exc}"
            if error is None:
                logger.exception("%s: cannot connect", self.context.devicename)
            else:
                logger.error(  # noqa: TRY400 - the reason says it all
                    "%s: cannot connect: %s", self.context.devicename, reason
                )
            with contextlib.suppress(Exception):
                self.close_hardware()
            vector = self._show_connection(False)
            await vector.send_setVector(
                state="Alert", message=f"[ERROR] CONNECTION: cannot connect: {reason}"
            )
            return
        names = [new.name for new in vectors]
        for new in vectors:
            new.devicename = self.device.devicename
            new.driver = self
            self.device.data[new.name] = new
        for gone in set(self._working) - set(names):
            self.device.data.pop(gone, None)
        self._working = names
        self.connected = True
        vector = self._show_connection(True)
        await vector.send_setVector(state="Ok")
        for new in vectors:
            await new.send_defVector()
        self._offline.clear()
        self._online.set()
        logger.info("%s: connected", self.context.devicename)

    def _release(self, *, hold: bool) -> None:
        try:
            self.to_safe_state()
        except Exception:
            logger.exception("%s: could not set the safe state", self.context.devicename)
        try:
            with self.gpio.holding(hold):
                self.close_hardware()
        except Exception:
            logger.exception("%s: could not release the hardware", self.context.devicename)

    async def run(self) -> None:
        """Override for work that runs while the driver runs (polling a sensor)."""

    def shutdown(self) -> None:
        """Stop the driver: outputs to their safe state, devices closed."""
        already = self.stop
        super().shutdown()
        if already:
            return
        self._loop = None
        if not self.connected:
            return  # already safe and released by DISCONNECT
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


def _number(vector: str, member: str, saved: Any, default: float) -> Setting:
    if isinstance(saved, (int, float)) and not isinstance(saved, bool):
        return Setting(vector, member, float(saved), True)
    return Setting(vector, member, float(default), False)


def _plain(value: Any) -> Any:
    """A deep copy of plain TOML data (dicts copied, so edits do not reach the store)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
