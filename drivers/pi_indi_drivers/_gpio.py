"""The gpiozero back end: the only module that imports gpiozero.

Drivers never import gpiozero; they ask :class:`Gpio` for devices by gpiozero
class name (``gpio.create("LED", pin="GPIO17")``), so the pin factory is always
the injected one (never the global ``Device.pin_factory``), every device is
closed when the service stops, and gpiozero's errors come out as
:class:`~pi_indi.errors.HardwareError` with a message fit for a user.

On the mock pin factory the pins are PWM-capable, input pins can be driven by
an INDI client through the control device (``pi_indi.registry.simulation_driver``), and
sensors read simulated values that the same device sets.

The pin factory starts with the first device that uses pins: the system
sensors (CPU temperature, load average, disk usage) need none, so a config of
those alone, or of no devices at all, runs on any machine. On lgpio an output
starts at the level its device wants: its line is claimed once, as an output
at that level (gpiozero claims every line as an input first, then as an
output at level 0, then writes the level). When the service stops, the
outputs stay driven at the safe states their drivers set: closing a gpiozero
device would turn its pins back into inputs.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import glob
import grp
import logging
import os
import pwd
import shutil
import stat
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import gpiozero
from gpiozero.pins import Factory
from gpiozero.pins.local import LocalPiPin
from gpiozero.pins.mock import (
    MockChargingPin,
    MockFactory,
    MockPin,
    MockPWMPin,
    MockSPIDevice,
    MockTriggerPin,
)
from gpiozero.pins.pi import PiFactory

from pi_indi.errors import HardwareError
from pi_indi_drivers._simulation import Sensor, SimulatedInput, SimulatedReading

if TYPE_CHECKING:
    pass

# Sensor and the simulated values live apart from gpiozero (_simulation), for
# plugins; they are re-exported here, where the bundled drivers found them.
__all__ = ["FACTORIES", "Gpio", "Sensor", "SimulatedInput", "SimulatedReading"]

logger = logging.getLogger(__name__)

#: The pin factory names a config may give ("auto": the first of AUTO_ORDER that starts).
FACTORIES = ("auto", "lgpio", "rpigpio", "pigpio", "native", "mock")

#: The pin factories "auto" tries, in gpiozero 2's order (Device._default_pin_factory).
AUTO_ORDER = ("lgpio", "rpigpio", "pigpio", "native")

#: Where the kernel's GPIO character devices are, which lgpio opens.
DEV = "/dev"

#: The board the mock factory simulates unless told otherwise: a Raspberry Pi 5.
DEFAULT_MOCK_REVISION = "d04170"

#: The speed of sound gpiozero's DistanceSensor assumes, in m/s.
SPEED_OF_SOUND = 343.26

#: Seconds a read waits for a smoothed sensor's first full queue of samples.
FIRST_READING_TIMEOUT = 3.0


def _smoothed(device: Any, attribute: str, timeout: float = FIRST_READING_TIMEOUT) -> float:
    # gpiozero's SmoothedInputDevice.value waits with no timeout until its
    # queue of samples is full (GPIOQueue.value); a sensor that never answers
    # (an HC-SR04 with no echo) would hold the reading thread for ever. So wait
    # for that queue first, with a timeout. The queue is gpiozero's private
    # attribute: this is the one place that knows about it.
    full = getattr(getattr(device, "_queue", None), "full", None)
    if full is not None and not device.partial and not full.wait(timeout):
        raise HardwareError(f"no reading from the {type(device).__name__} yet: is it wired?")
    return float(getattr(device, attribute))


def _echo_time(metres: float) -> float:
    """How long an HC-SR04's echo lasts for an object *metres* away."""
    return 2.0 * max(metres, 0.0) / SPEED_OF_SOUND


def _charge_time(level: float, limit: float) -> float:
    """How long a LightSensor's capacitor takes to charge at light *level* (0..1)."""
    return (1.0 - min(max(level, 0.0), 1.0)) * limit


class _SimulatedFile:
    """A file in the mock's temporary directory standing in for a /sys or /proc file."""

    def __init__(self, directory: str, prefix: str, text: str) -> None:
        fd, self.path = tempfile.mkstemp(prefix=prefix, dir=directory)
        os.close(fd)
        self.write(text)

    def write(self, text: str) -> None:
        # Replaced whole, so a read in another thread never sees half a file.
        new = self.path + ".new"
        with open(new, "w", encoding="ascii") as f:
            f.write(text)
        os.replace(new, self.path)


#: How many state changes each mock pin remembers (gpiozero's MockPin keeps all).
MOCK_PIN_HISTORY = 1000


class _BoundedStates:
    """Mixed into a gpiozero mock pin class: ``states`` keeps the last changes only.

    gpiozero's MockPin appends every change to a list, for ever: a client
    toggling a simulated pin, or a sensor polled over mock SPI, would grow
    memory without end. ``states`` becomes a deque with a length limit, which
    ``_change_state`` appends to as before and ``assert_states`` reads as before.
    """

    states: Any

    def clear_states(self) -> None:
        super().clear_states()  # type: ignore[misc]
        self.states = collections.deque(self.states, maxlen=MOCK_PIN_HISTORY)


_BOUNDED: dict[type, type] = {}


def _bounded(pin_class: type) -> type:
    """*pin_class* with a bounded ``states`` (same name, still a subclass)."""
    if issubclass(pin_class, _BoundedStates):
        return pin_class
    bounded = _BOUNDED.get(pin_class)
    if bounded is None:
        bounded = type(
            pin_class.__name__,
            (_BoundedStates, pin_class),
            {"__qualname__": pin_class.__qualname__, "__module__": __name__},
        )
        _BOUNDED[pin_class] = bounded
    return bounded


class _MockFactory(MockFactory):  # type: ignore[misc]
    """gpiozero's MockFactory whose pins, of whatever mock class, keep a bounded history.

    MockSPIDevice asks for MockSPIClockPin and MockSPISelectPin itself, so
    the class is swapped here, where every mock pin is made.
    """

    def pin(self, name: Any, pin_class: Any = None, **kwargs: Any) -> Any:
        return super().pin(name, _bounded(pin_class or self.pin_class), **kwargs)


# Named as gpiozero's in logs ("pin factory: MockFactory") and messages.
_MockFactory.__name__ = _MockFactory.__qualname__ = "MockFactory"


class _MockMCP3xxx(MockSPIDevice):  # type: ignore[misc]
    """The chip's side of an MCP3xxx conversation on mock pins, for simulated voltages.

    Once selected, the chip waits for a start bit, reads the single-ended or
    differential bit and the channel bits (one on the 3x02, three on the
    others), then clocks out the conversion: a don't-care bit, a null bit (and
    a sign bit on the 33xx) and the result. The 3x01 chips take no command and
    answer at once. gpiozero's own tests have a fuller MockMCP3xxx family.
    """

    rx_buf: list[int]

    def __init__(self, chip: str, vref: float, *pins: Any, pin_factory: Any) -> None:
        super().__init__(*pins, pin_factory=pin_factory)
        self.vref = vref
        self.bits = 10 if chip.startswith("MCP30") else 12
        self.signed = chip.startswith("MCP33")
        self.no_command = chip.endswith("1")
        self.channel_bits = 1 if chip.endswith("2") and not self.signed else 3
        self.voltages = [0.0] * 8
        self._stage = "idle"
        self._single = True

    def on_start(self) -> None:
        super().on_start()
        self._stage = "start"
        if self.no_command:
            self._stage = "done"
            self._convert(self.voltages[0] - self.voltages[1], differential=True)

    def on_bit(self) -> None:
        received = self.rx_buf
        if self._stage == "start":
            if received[-1]:
                self._stage = "mode"
                self.rx_buf = []
        elif self._stage == "mode":
            self._single = bool(received[-1])
            self._stage = "channel"
            self.rx_buf = []
        elif self._stage == "channel" and len(received) == self.channel_bits:
            channel = self.rx_word()
            self._stage = "done"
            if self._single:
                self._convert(self.voltages[channel], differential=False)
            else:
                volts = self.voltages[channel] - self.voltages[channel ^ 1]
                self._convert(volts, differential=True)

    def _convert(self, volts: float, *, differential: bool) -> None:
        lowest = -self.vref if self.signed and differential else 0.0
        volts = min(max(volts, lowest), self.vref)
        span = 2 ** (self.bits + 1)
        raw = int((volts / self.vref + 1) / 2 * (span - 1) - span // 2)
        if raw < 0:
            raw += span
        padding = (3 if self.no_command else 2) + self.signed
        self.tx_word(raw, self.bits + padding)


def _local_revision() -> str | None:
    """This Raspberry Pi's board revision (hex), or None when this is not a Pi.

    Read the way gpiozero's local pin factories read it (pins/local.py), but
    without starting a pin factory: ``gpiozero.pi_info()`` would start one,
    trying every pin library in turn, with a warning for each.
    """
    try:
        with open("/proc/device-tree/system/linux,revision", "rb") as f:
            return f"{int.from_bytes(f.read(4), 'big'):x}"
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Revision"):
                    revision = line.partition(":")[2].strip().lower()
                    # Over-volted boards have the warranty bit set in front.
                    return revision[-6:] if len(revision) > 6 else revision
    except OSError:
        pass
    return None


def _factory_class(name: str) -> Any:
    for ep in entry_points(group="gpiozero_pin_factories"):
        if ep.name == name:
            return ep.load()
    raise HardwareError(f"gpiozero has no pin factory {name!r}")


class _Clock(Factory):  # type: ignore[misc]
    """The factory gpiozero's InternalDevices are given: they use its clock, never a pin.

    So the system sensors need no pin library, and run where none can start.
    """

    @staticmethod
    def ticks() -> float:
        return time.monotonic()

    @staticmethod
    def ticks_diff(later: float, earlier: float) -> float:
        return later - earlier


#: A pin factory's library: (the module it imports, its name, how to install it).
_LIBRARIES = {
    "lgpio": (
        "lgpio",
        "lgpio",
        "sudo apt install python3-lgpio, or pip install lgpio in pi-indi's venv",
    ),
    "rpigpio": (
        "RPi",
        "RPi.GPIO",
        "sudo apt install python3-rpi-lgpio (python3-rpi.gpio before a Pi 5)",
    ),
    "pigpio": ("pigpio", "pigpio", "sudo apt install python3-pigpio pigpiod"),
}


def _auto_order() -> tuple[str, ...]:
    # gpiozero's own choice honours $GPIOZERO_PIN_FACTORY; so does "auto".
    chosen = os.environ.get("GPIOZERO_PIN_FACTORY")
    return (chosen.lower(),) if chosen else AUTO_ORDER


#: How to run without the pins, for a machine that is not a Pi.
MOCK_HINT = 'to simulate the pins, use --mock (pi-indi serve --mock) or pin_factory = "mock"'


def _start_factory(name: str) -> Any:
    """Start gpiozero's pin factory *name*, or raise HardwareError saying why not (one line)."""
    with warnings.catch_warnings(record=True) as caught:
        # gpiozero and the pin libraries warn as they start or fall back, in
        # several lines each; why one cannot start is in its error, said
        # once. The warnings are for the debug log only.
        warnings.simplefilter("always")
        try:
            factory = _factory_class(name)()
        except HardwareError:
            raise
        except Exception as exc:
            raise HardwareError(_why_not_started(name, exc)) from exc
        finally:
            for warning in caught:
                logger.debug(
                    "pin factory %s: %s: %s",
                    name,
                    warning.category.__name__,
                    " ".join(str(warning.message).split()),
                )
    _claim_lines_once(factory)
    return factory


def _not_a_pi(exc: BaseException) -> bool:
    return isinstance(exc.__cause__, gpiozero.PinUnknownPi)


def _start_first(names: Sequence[str]) -> Any:
    """The first of pin factories *names* that starts; else HardwareError, a line per reason.

    Not gpiozero's Device._default_pin_factory(): it warns once per library
    it falls back from, several lines each, and keeps only the last error.
    """
    reasons: list[str] = []
    not_a_pi = False
    for name in names:
        try:
            factory = _start_factory(name)
        except HardwareError as exc:
            reasons.append(f"  {name}: {exc}")
            not_a_pi = not_a_pi or _not_a_pi(exc)
            continue
        if reasons:
            # Said, not swallowed: a fallback (lgpio refused for want of a
            # permission, say) may behave differently from the first choice.
            logger.warning(
                "pin factory %s, after these could not start:\n%s", name, "\n".join(reasons)
            )
        return factory
    hint = f"\n{MOCK_HINT}" if not_a_pi else ""
    raise HardwareError("no pin factory could start here:\n" + "\n".join(reasons) + hint)


def _why_not_started(name: str, exc: BaseException) -> str:
    """One line on why pin factory *name* raised *exc*: the cause, and the fix where there is one.

    The pin libraries' own words are often no help: lgpio says "can not open
    gpiochip" with no errno, whether there is no chip or no permission.
    """
    # lgpio's error shows its text quoted (its __str__ is repr(value)).
    words = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)
    text = " ".join(words.split()) or type(exc).__name__
    if isinstance(exc, ImportError):
        module, library, install = _LIBRARIES.get(name, (None, name, None))
        missing = (exc.name or "").partition(".")[0]
        if isinstance(exc, ModuleNotFoundError) and missing == module:
            return f"the {library} module is not installed: {install}"
        return f"cannot import {library}: {text}"
    if isinstance(exc, gpiozero.PinUnknownPi):
        # First: a PC has gpiochips too, and gpiozero stops before opening one.
        return "not a Raspberry Pi (no board revision in /proc/device-tree or /proc/cpuinfo)"
    if name == "lgpio":
        problem = _gpiochip_problem()
        if problem is not None:
            return problem
    if name == "pigpio" and "connect" in text:
        return f"{text} (is the pigpiod daemon running?)"
    return text


def _lgpio_chip() -> str:
    # The chip gpiozero's LGPIOFactory opens (pins/lgpio.py): gpiochip4 on a
    # Pi 5 whose kernel numbers the RP1's lines there, else gpiochip0.
    revision = _local_revision()
    try:
        pi5 = revision is not None and (int(revision, 16) & 0xFF0) >> 4 == 0x17
    except ValueError:
        pi5 = False
    chip4 = os.path.join(DEV, "gpiochip4")
    return chip4 if pi5 and os.path.exists(chip4) else os.path.join(DEV, "gpiochip0")


def _chip_access(path: str) -> tuple[bool, str, str]:
    """Whether this process may open *path* read-write (as lgpio does); its mode and group."""
    info = os.stat(path)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return os.access(path, os.R_OK | os.W_OK), stat.filemode(info.st_mode), group


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _gpiochip_problem() -> str | None:
    """Why lgpio cannot open its GPIO chip, fix included; None when the chip is there to open."""
    chips = sorted(glob.glob(os.path.join(DEV, "gpiochip*")))
    if not chips:
        return (
            f"there is no {DEV}/gpiochip*: this is not a Raspberry Pi, or its GPIO driver"
            f" is not loaded ({MOCK_HINT})"
        )
    chip = _lgpio_chip()
    if chip not in chips:
        return f"there is no {chip} (there is {', '.join(chips)})"
    try:
        allowed, mode, group = _chip_access(chip)
    except OSError as exc:
        return f"cannot look at {chip}: {exc.strerror}"
    if allowed:
        return None
    where = f"permission denied on {chip} ({mode}, group {group})"
    if group != "gpio" or mode[4:6] != "rw":
        return (
            f"{where}: pi-indi's udev rule gives {DEV}/gpiochip* to group gpio, read-write;"
            " apply it: sudo udevadm trigger --subsystem-match=gpio --action=add"
        )
    user = _user()
    return (
        f"{where}: user {user} is not in group gpio (the service is, by SupplementaryGroups="
        f"gpio); to run it by hand: sudo usermod -aG gpio {user}, then log in again"
    )


class _ClaimedOnce(LocalPiPin):  # type: ignore[misc]
    """An LGPIOPin (gpiozero's) claiming its line once, as what its device makes it.

    Put in front of LGPIOPin by :func:`_lgpio_pin_class`. gpiozero's LGPIOPin
    claims its line as an input, bias disabled, as soon as the pin object is
    made (``LGPIOPin.__init__``: ``gpio_claim_input(handle, n, SET_PULL_NONE)``),
    before any device says what it wants. An output device then calls
    ``Pin.output_with_state(state)``, which sets ``function = "output"``
    (``LGPIOPin._set_function``: ``gpio_claim_output(handle, n)``, at level 0)
    and only then writes the state; a PWM device sets ``function = "output"``,
    then ``frequency`` (``tx_pwm(handle, n, frequency, 0)``), then its duty.
    So an active-low relay meant to start off was on for a moment at each
    start, and a line the kernel kept driven since the last stop floated.

    Here nothing is claimed until the pin is used. A line that becomes an
    output is claimed as one, at the level its device wants
    (``gpio_claim_output(handle, n, level, 0)``): by ``output_with_state``;
    after ``function = "output"``, by the first state written (a PWM pin at
    the level nearest its duty, its PWM then started at that duty), or else
    at the level the line has (:meth:`claim_pending_output`, which
    :meth:`Gpio.create` calls once a device is made: gpiozero's
    ``initial_value=None``). Any other use claims it first as gpiozero does,
    so inputs get the very same calls; a line never used is never touched.
    """

    _lgpio: Any  # the lgpio module, set by _lgpio_pin_class

    def __init__(self, factory: Any, info: Any) -> None:
        # LocalPiPin's __init__, not LGPIOPin's (which claims the line); then LGPIOPin's state.
        LocalPiPin.__init__(self, factory, info)
        self._pwm: tuple[Any, int] | None = None
        self._bounce: int | None = None
        self._callback: Any = None
        self._edges = self._lgpio.BOTH_EDGES
        #: whether this process holds the line (as an input, an output or an alert)
        self._claimed = False
        #: function "output" was set: the line is claimed by the next state written
        self._output_pending = False
        #: the line is held as an output by this process's handle (claimed so,
        #: and not claimed again as anything else since)
        self._claimed_as_output = False

    def _claim(self) -> None:
        # As gpiozero claims every line, when it makes the pin object.
        if not self._claimed:
            self._lgpio.gpio_claim_input(
                self.factory._handle, self._number, self._lgpio.SET_PULL_NONE
            )
            self._claimed = True
            self._claimed_as_output = False

    def _claim_output(self, level: int) -> None:
        if self._callback is not None:  # as LGPIOPin._set_function does
            self._callback.cancel()
            self._callback = None
        held_already = self._claimed_as_output
        self._lgpio.gpio_claim_output(self.factory._handle, self._number, level, 0)
        self._claimed_as_output = True
        if held_already:
            # lgpio leaves a line this handle already holds as an output as it
            # is (the kernel trace shows no change): a device built again on a
            # pin that was released held (CONNECT after DISCONNECT) must set
            # its level itself.
            self._lgpio.gpio_write(self.factory._handle, self._number, level)
        self._claimed = True
        self._output_pending = False

    def _ready(self) -> None:
        # Claimed before gpiozero's own code uses the line.
        if self._output_pending:
            self.claim_pending_output()
        else:
            self._claim()

    def claim_pending_output(self) -> None:
        """Claim an output still waiting for its first state, at the level its line has."""
        if not self._output_pending:
            return
        if self._pwm is not None:
            self._set_state(self._pwm[1] / 100)
            return
        self._claim()
        level = self._lgpio.gpio_read(self.factory._handle, self._number)
        self._claim_output(1 if level else 0)

    def output_with_state(self, state: Any) -> None:
        if self._pwm is not None:
            super().output_with_state(state)
        else:
            self._claim_output(1 if state else 0)

    def close(self) -> None:
        self._output_pending = False
        if self._claimed:
            super().close()  # gpiozero claims it as an input
            self._claimed_as_output = False
        else:
            self._pwm = None  # never claimed: there is nothing to give back

    def _get_function(self) -> Any:
        if self._output_pending:
            return "output"
        if not self._claimed:
            return "input"  # what gpiozero would have claimed it as
        return super()._get_function()

    def _set_function(self, value: Any) -> None:
        if value == "output" and self._pwm is None:
            self._output_pending = True
            return
        if value == "input":
            self._output_pending = False
            self._claim()
        super()._set_function(value)
        self._claimed_as_output = value == "output"

    def _get_state(self) -> Any:
        if self._pwm is None:  # else the duty, which needs no line
            self._ready()
        return super()._get_state()

    def _set_state(self, value: Any) -> None:
        if not self._output_pending:
            super()._set_state(value)  # unclaimed: gpiozero's PinSetInput
        elif self._pwm is None:
            self._claim_output(1 if value else 0)
        else:
            self._claim_output(1 if value >= 0.5 else 0)
            super()._set_state(value)  # tx_pwm at the duty

    def _set_frequency(self, value: Any) -> None:
        if not self._output_pending:
            super()._set_frequency(value)
        elif value is not None and value > 0:
            # PWM starts with the first duty written, not at 0 before it.
            self._pwm = (value, self._pwm[1] if self._pwm is not None else 0)
        elif value is None or value == 0:
            self._pwm = None

    def _get_pull(self) -> Any:
        self._ready()
        return super()._get_pull()

    def _set_pull(self, value: Any) -> None:
        if not self._output_pending:  # else gpiozero's PinFixedPull: an output
            self._claim()
        super()._set_pull(value)

    def _set_bounce(self, value: Any) -> None:
        self._ready()
        super()._set_bounce(value)

    def _enable_event_detect(self) -> None:
        self._ready()
        super()._enable_event_detect()

    def _disable_event_detect(self) -> None:
        self._ready()
        super()._disable_event_detect()


@functools.cache
def _lgpio_pin_class(base: type[Any]) -> type[Any]:
    """The LGPIOPin class *base* (gpiozero's), with :class:`_ClaimedOnce` in front of it."""
    lgpio = sys.modules[base.__module__].lgpio
    return type(f"{base.__name__}ClaimedOnce", (_ClaimedOnce, base), {"_lgpio": lgpio})


def _claim_lines_once(factory: Any) -> None:
    """Make an lgpio *factory*'s pins claim each line once, as what its device makes it."""
    module = sys.modules.get("gpiozero.pins.lgpio")
    if module is None or not isinstance(factory, module.LGPIOFactory):
        return
    base = factory.pin_class
    if issubclass(base, module.LGPIOPin) and not issubclass(base, _ClaimedOnce):
        factory.pin_class = _lgpio_pin_class(base)


def _claim_pending_outputs(factory: Any) -> None:
    # A device made with initial_value=None set function "output" and no state.
    for pin in list(getattr(factory, "pins", {}).values()):
        claim = getattr(pin, "claim_pending_output", None)
        if claim is not None:
            claim()


#: The top-level modules whose exceptions come from the hardware: gpiozero and
#: the pin libraries under it (lgpio, pigpio, RPi.GPIO, spidev and smbus raise
#: their own types, or RuntimeError, for a line that is busy or gone).
_HARDWARE_MODULES = frozenset({"gpiozero", "lgpio", "pigpio", "RPi", "spidev", "smbus", "smbus2"})


#: The group owning each kind of device, by path: Raspberry Pi OS's udev
#: rules (99-com.rules) and pi-indi's give GPIO, SPI and I2C to gpio, spi and i2c.
_DEVICE_GROUPS = (
    ("/dev/gpiochip", "gpio"),
    ("/dev/gpiomem", "gpio"),
    ("/sys/class/gpio", "gpio"),
    ("/sys/class/pwm", "gpio"),
    ("/dev/spidev", "spi"),
    ("/dev/i2c-", "i2c"),
)


def _device_group(filename: object) -> str | None:
    """The group that may use the device *filename*; gpio when no file is named."""
    if filename is None:
        return "gpio"  # a pin library's own error: most likely a GPIO line
    path = os.fsdecode(filename) if isinstance(filename, (str, bytes)) else str(filename)
    for prefix, group in _DEVICE_GROUPS:
        if path.startswith(prefix):
            return group
    return None


def _hardware_reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, PermissionError):
        text = text or "permission denied"
        group = _device_group(exc.filename)
        return f"{text} (is the service user in the {group} group?)" if group else text
    if isinstance(exc, gpiozero.PinPWMUnsupported):
        return f"{text or 'PWM is not supported'} (use a pin that can do PWM)"
    if isinstance(exc, gpiozero.DeviceClosed):
        return f"{text or 'the device is closed'}: the pin was released"
    return text or type(exc).__name__


#: Pin factories whose close() sets every pin they ever used back to an input,
#: whatever its pin's close() did: RPi.GPIO's cleanup() (rpi-lgpio's as well).
_RESETS_EVERY_PIN = frozenset({"RPiGPIOFactory"})


def _leave_driven() -> None:
    """A held pin's close(): the line stays as it is."""


def _hold_outputs(factory: Any) -> list[tuple[Any, Any]]:
    """Make closing leave every output pin of *factory* driven; their (pin, level) pairs.

    gpiozero's pin close() resets a pin: LGPIOPin claims the line as an input,
    MockPin and NativePin set function "input", RPiGPIOPin cleans it up,
    PiGPIOPin sets it to input, each after stopping PWM. The devices call it
    as they close, and so does the factory's close(). For the pins that are
    outputs, it is replaced (on the pin object, until :func:`_unhold`) by one
    that does nothing.
    """
    held: list[tuple[Any, Any]] = []
    for pin in list(getattr(factory, "pins", {}).values()):
        try:
            if pin.function != "output":
                continue
            level = pin.state
        except Exception:  # a pin that cannot say is left to gpiozero
            # Said: this output may end up an input, against the rule.
            logger.warning("cannot read %r; closing it as gpiozero does", pin, exc_info=True)
            continue
        pin.close = _leave_driven
        held.append((pin, level))
    return held


def _restore_levels(held: list[tuple[Any, Any]], *, last: bool = False) -> None:
    """Set back the levels that closing a device changed: gpiozero stops PWM on close.

    A PWM output at full or no duty becomes a plain high or low; one between
    cannot be held without its process (*last*: it is about to end).
    """
    for pin, level in held:
        try:
            if pin.function != "output":
                # Its device made it an input as it closed: a sensing pin that
                # is an output only for moments (a light sensor discharging
                # its capacitor), not an output to hold.
                continue
            if level in (0, 1):
                if pin.state != level:
                    pin.state = level
            elif last:
                logger.warning(
                    "%s: PWM at %.0f %% stops with pi-indi; the pin stays an output",
                    getattr(getattr(pin, "info", None), "name", pin),
                    level * 100,
                )
        except Exception:  # the other pins must still be held
            logger.exception("could not hold %r at %s", pin, level)


def _unhold(held: list[tuple[Any, Any]]) -> None:
    for pin, _ in held:
        with contextlib.suppress(AttributeError):
            del pin.close


def _reader(device: Any, attribute: str) -> Callable[[], float]:
    return lambda: float(getattr(device, attribute))


def _millidegrees(celsius: float) -> str:
    return f"{round(celsius * 1000)}\n"


def _loadavg(load: float) -> str:
    return f"{load:.2f} {load:.2f} {load:.2f} 1/100 1000\n"


class Gpio:
    """gpiozero behind a small interface: the pin factory, pin names, devices.

    Args:
        pin_factory: one of :data:`FACTORIES`.
        mock_revision: the Pi revision (hex) the mock factory simulates.
    """

    def __init__(self, pin_factory: str = "auto", mock_revision: str | None = None) -> None:
        if pin_factory not in FACTORIES:
            raise ValueError(f"pin_factory must be one of {', '.join(FACTORIES)}")
        self.pin_factory = pin_factory
        self.mock = pin_factory == "mock"
        self.mock_revision = mock_revision or DEFAULT_MOCK_REVISION
        self.factory: Any = None
        #: Why the pin factory last failed to start; None once it has started.
        self.open_error: HardwareError | None = None
        self.devices: list[Any] = []
        self.simulated_inputs: dict[str, SimulatedInput] = {}
        self.simulated_readings: list[SimulatedReading] = []
        self._board: Any = None
        self._board_simulated = True
        self._lock = threading.Lock()
        self._mock_dir: str | None = None
        self._mock_spi: list[Any] = []
        self._clock = _Clock()
        self._holding = False

    # -- pins --

    def board(self) -> Any:
        """The board's description: the real one on a Pi, else the simulated one."""
        if self.factory is not None:
            return self.factory.board_info
        if self._board is None:
            revision = None if self.mock else _local_revision()
            if revision is not None:
                try:
                    self._board = gpiozero.pi_info(revision)
                    self._board_simulated = False
                except gpiozero.GPIOZeroError:
                    logger.debug("unknown board revision %s", revision)
            if self._board is None:
                self._board = gpiozero.pi_info(self.mock_revision)
        return self._board

    def board_name(self) -> str:
        """The board, for messages: "a Raspberry Pi 4B", or "a simulated Raspberry Pi 5B".

        gpiozero's model names alone ("5B") are terse; and off a Pi the
        board pins are checked against is the mock factory's, not this one.
        """
        model = self.board().model
        simulated = self.mock if self.factory is not None else self._board_simulated
        return f"a {'simulated ' if simulated else ''}Raspberry Pi {model}"

    def board_problem(self) -> str | None:
        """Why pins cannot be checked against the board (an unknown revision), or None."""
        try:
            self.board()
        except gpiozero.GPIOZeroError as exc:
            return f"{exc}: not a Raspberry Pi revision gpiozero knows (such as d04170, a Pi 5)"
        return None

    def resolve_pin(self, spec: int | str) -> str:
        """The canonical name ("GPIO17") of a pin given in any gpiozero spelling.

        ``17``, ``"17"``, ``"GPIO17"``, ``"BCM17"``, ``"BOARD11"``, ``"J8:11"``
        and ``"WPI0"`` are all GPIO17.

        Raises:
            ValueError: the board has no such GPIO pin.
        """
        if isinstance(spec, bool) or not isinstance(spec, (int, str)):
            raise ValueError(f"a pin is a number or a name like 'GPIO17', not {spec!r}")
        try:
            return str(self.board().to_gpio(spec))
        except gpiozero.GPIOZeroError as exc:
            raise ValueError(f"{exc} on {self.board_name()}") from None

    # -- life cycle --

    def open(self) -> None:
        """Start the pin factory (:meth:`create` does, for the first device that uses pins).

        With ``"auto"`` the pin libraries are tried in gpiozero's order
        (:data:`AUTO_ORDER`), and the first that starts is used.

        Raises:
            HardwareError: the pin library cannot be started here; the message
                says why, and how to fix it (with ``"auto"``, one line for each
                library tried). It is kept as :attr:`open_error`.
        """
        if self.factory is not None:
            return
        try:
            self.factory = self._start()
        except HardwareError as exc:
            self.open_error = exc
            raise
        self.open_error = None
        if self.mock:
            logger.info("pin factory: %s, %s", type(self.factory).__name__, self.board_name())
        else:
            logger.info("pin factory: %s", type(self.factory).__name__)

    def _start(self) -> Any:
        if self.mock:
            try:
                return _MockFactory(revision=self.mock_revision, pin_class=MockPWMPin)
            except Exception as exc:
                raise HardwareError(f"cannot start the mock pin factory: {exc}") from exc
        if self.pin_factory == "auto":
            return _start_first(_auto_order())
        try:
            return _start_factory(self.pin_factory)
        except HardwareError as exc:
            hint = f"; {MOCK_HINT}" if _not_a_pi(exc) else ""
            raise HardwareError(
                f"cannot start the {self.pin_factory} pin factory: {exc}{hint}"
            ) from exc.__cause__

    def create(self, class_name: str, /, **kwargs: Any) -> Any:
        """Build the gpiozero device *class_name* on this back end's pin factory.

        The pin factory starts with the first device that uses pins; the
        system sensors (gpiozero's InternalDevices) need none.

        Raises:
            HardwareError: gpiozero refused (a pin in use, not PWM-capable,
                a bad value), or the pin factory cannot start; the message
                says which device and why.
        """
        cls = getattr(gpiozero, class_name, None)
        if not (isinstance(cls, type) and issubclass(cls, gpiozero.Device)):
            raise HardwareError(f"gpiozero has no device {class_name!r}")
        # A system sensor reads a file: it needs no pin library to start.
        factory = self._clock if issubclass(cls, gpiozero.InternalDevice) else self._opened()
        try:
            device = cls(**kwargs, pin_factory=factory)
        except (gpiozero.GPIOZeroError, OSError, ValueError, TypeError) as exc:
            raise HardwareError(f"{class_name}: {exc}") from exc
        try:
            _claim_pending_outputs(factory)
        except BaseException:
            self._close_device(device)
            raise
        with self._lock:
            self.devices.append(device)
        return device

    def release(self, device: Any) -> None:
        """Close one device made by :meth:`create` (its pins become free).

        While the service runs, a released output pin goes back to being an
        input, ready for whatever claims it next. Once :meth:`hold_outputs`
        has been called, its outputs are left driven as they are instead.
        """
        with self._lock:
            if device in self.devices:
                self.devices.remove(device)
            holding = self._holding
        if holding and self.factory is not None:
            held = _hold_outputs(self.factory)
            try:
                self._close_device(device)
                _restore_levels(held)
            finally:
                _unhold(held)
        else:
            self._close_device(device)

    def hold_outputs(self, hold: bool = True) -> None:
        """From now on, leave the outputs driven when devices are released: the service stops.

        The drivers set their safe states and then release their devices;
        gpiozero would turn each released pin back into an input, and a relay
        whose safe state is "on" would be on for a few milliseconds. ``False``
        goes back to freeing the pins (a service that went on to serve).
        """
        with self._lock:
            self._holding = hold

    @contextlib.contextmanager
    def holding(self, hold: bool = True) -> Iterator[None]:
        """Within the block, released outputs stay driven at their levels (*hold*).

        A device's DISCONNECT uses it: its outputs keep their safe state while
        its pins are released, as when the service stops.
        """
        with self._lock:
            before, self._holding = self._holding, hold or self._holding
        try:
            yield
        finally:
            with self._lock:
                self._holding = before

    @staticmethod
    def _close_device(device: Any) -> None:
        try:
            device.close()
        except Exception:  # closing must go on for the others
            logger.exception("closing %r failed", device)

    def close(self) -> None:
        """Close every device and the pin factory, leaving the outputs driven as they are.

        This is the end of the service's use of the pins, after every driver
        set its safe state: inputs are released, and outputs are left as
        outputs at their levels, for whatever the kernel does with a line the
        process gives up. (A PWM output at a duty between 0 and 100 % cannot
        outlast its process; it is logged.)
        """
        with self._lock:
            devices, self.devices = self.devices, []
            self._holding = False
        factory, self.factory = self.factory, None
        held = _hold_outputs(factory) if factory is not None else []
        try:
            for device in reversed(devices):
                self._close_device(device)
            for mock_spi in self._mock_spi:
                mock_spi.close()
            self._mock_spi.clear()
            _restore_levels(held, last=True)
            if factory is not None:
                try:
                    if self.mock:
                        factory.reset()
                    if held and type(factory).__name__ in _RESETS_EVERY_PIN:
                        PiFactory.close(factory)
                    else:
                        factory.close()
                except Exception:  # closing must go on
                    logger.exception("closing the pin factory failed")
        finally:
            _unhold(held)
        if self._mock_dir is not None:
            shutil.rmtree(self._mock_dir, ignore_errors=True)
            self._mock_dir = None

    def as_hardware_error(self, exc: BaseException) -> HardwareError | None:
        """*exc* as a :class:`HardwareError` when it came from the hardware, else None.

        The hardware's errors are gpiozero's (a pin busy or missing, PWM not
        supported, a device closed under its driver, a bad value), the pin
        libraries' own, and ``OSError`` and ``ValueError`` (a sensor file
        gone, a line lost). Anything else is a bug, not the hardware. This is
        the one place that knows gpiozero's exception types; drivers ask here.

        Returns:
            *exc* itself when it is a HardwareError; else a new one whose
            message is fit for a user and whose ``__cause__`` is *exc*.
        """
        if isinstance(exc, HardwareError):
            return exc
        if not (
            isinstance(exc, (gpiozero.GPIOZeroError, OSError, ValueError))
            or type(exc).__module__.partition(".")[0] in _HARDWARE_MODULES
        ):
            return None
        error = HardwareError(_hardware_reason(exc))
        error.__cause__ = exc
        return error

    def ensure_open(self, device: Any) -> None:
        """Raise now if *device* was closed, for calls that would fail only later.

        ``blink()`` on a closed device returns and then fails in gpiozero's
        blink thread, where no driver can see it.

        Raises:
            HardwareError: the device is closed.
        """
        if getattr(device, "closed", False):
            raise HardwareError(f"{type(device).__name__} is closed: the pin was released")

    # -- sensors (made so that, in mock mode, simulated values flow through gpiozero) --

    def create_distance_sensor(
        self, echo: str, trigger: str, *, distance: float = 0.5, **kwargs: Any
    ) -> Sensor:
        """An HC-SR04 ``DistanceSensor``; its ``read()`` gives metres.

        In mock mode the trigger pin is a ``MockTriggerPin`` whose echo lasts
        as long as sound takes to go *distance* metres and back; ``simulate``
        sets that distance.

        Raises:
            HardwareError: gpiozero refused the pins or the options.
        """
        if not self.mock:
            device = self._distance_sensor(echo=echo, trigger=trigger, **kwargs)
            return Sensor(device, lambda: _smoothed(device, "distance"))
        # The factory's default pin class is MockPWMPin, and a trigger pin is
        # not one: gpiozero refuses a cached pin whose PWM-ness differs from
        # the class it asks for, so the default is MockPin while these are made.
        with self._mock_pin_class(MockPin):
            echo_pin = self._mock_pin(echo)
            trigger_pin = self._mock_pin(
                trigger, pin_class=MockTriggerPin, echo_pin=echo_pin, echo_time=_echo_time(distance)
            )
            device = self._distance_sensor(echo=echo, trigger=trigger, **kwargs)

        def simulate(metres: float) -> None:
            trigger_pin.echo_time = _echo_time(metres)

        return Sensor(device, lambda: _smoothed(device, "distance"), simulate)

    def _distance_sensor(self, **kwargs: Any) -> Any:
        # gpiozero warns on every pin factory but pigpio (which does not run on
        # a Pi 5) that readings would be more accurate with pigpio. Nothing a
        # user can act on; the readings are smoothed anyway. Not shown.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", gpiozero.PWMSoftwareFallback)
            return self.create("DistanceSensor", **kwargs)

    def create_light_sensor(self, pin: str, *, level: float = 0.5, **kwargs: Any) -> Sensor:
        """An LDR-and-capacitor ``LightSensor``; its ``read()`` gives 0 (dark) to 1.

        In mock mode the pin is a ``MockChargingPin`` whose charge time gives
        light *level*; ``simulate`` sets that level.

        Raises:
            HardwareError: gpiozero refused the pin or the options.
        """
        if not self.mock:
            device = self.create("LightSensor", pin=pin, **kwargs)
            return Sensor(device, lambda: _smoothed(device, "value"))
        limit = float(kwargs.get("charge_time_limit", 0.01))
        with self._mock_pin_class(MockPin):
            charging = self._mock_pin(
                pin, pin_class=MockChargingPin, charge_time=_charge_time(level, limit)
            )
            device = self.create("LightSensor", pin=pin, **kwargs)

        def simulate(value: float) -> None:
            charging.charge_time = _charge_time(value, limit)

        return Sensor(device, lambda: _smoothed(device, "value"), simulate)

    def create_mcp3xxx(
        self,
        chip: str,
        channels: Sequence[int],
        *,
        differential: bool = False,
        max_voltage: float = 3.3,
        voltage: float = 0.0,
        **spi_args: Any,
    ) -> list[Sensor]:
        """One gpiozero ``MCP3xxx`` device per channel; each ``read()`` gives 0..1.

        (-1..1 for a 33xx chip read differentially.) *spi_args* are gpiozero's:
        ``port`` and ``device``, or ``clock_pin``, ``mosi_pin``, ``miso_pin``
        and ``select_pin``. In mock mode a simulated chip answers on the SPI
        pins; each channel's ``simulate`` sets its input voltage.

        Raises:
            HardwareError: gpiozero refused the chip, a channel or the SPI pins.
        """
        single = chip.endswith("1")  # the 3x01 chips have one (differential) input

        def make_all() -> list[Any]:
            devices: list[Any] = []
            try:
                for channel in channels:
                    kwargs = {} if single else {"channel": channel, "differential": differential}
                    devices.append(self.create(chip, max_voltage=max_voltage, **kwargs, **spi_args))
            except HardwareError:
                for device in devices:
                    self.release(device)
                raise
            return devices

        if not self.mock:
            with self._spi_default_factory():
                devices = make_all()
            return [Sensor(device, _reader(device, "value")) for device in devices]
        factory = self._opened()
        with self._mock_pin_class(MockPin), self._spi_default_factory():
            try:
                # The pins gpiozero will use for these arguments (port and
                # device stand for the hardware SPI pins), in its own words.
                pins = factory._extract_spi_args(**spi_args)[0]
                chip_side = _MockMCP3xxx(
                    chip,
                    max_voltage,
                    pins["clock_pin"],
                    pins["mosi_pin"],
                    pins["miso_pin"],
                    pins["select_pin"],
                    pin_factory=factory,
                )
            except (gpiozero.GPIOZeroError, ValueError, TypeError) as exc:
                raise HardwareError(f"{chip}: {exc}") from exc
            try:
                devices = make_all()
            except HardwareError:
                chip_side.close()
                raise
            self._mock_spi.append(chip_side)
        sensors = []
        for channel, device in zip(channels, devices, strict=True):
            chip_side.voltages[channel] = voltage

            def simulate(volts: float, channel: int = channel) -> None:
                chip_side.voltages[channel] = volts

            sensors.append(Sensor(device, _reader(device, "value"), simulate))
        return sensors

    def create_cpu_temperature(
        self, sensor_file: str = "/sys/class/thermal/thermal_zone0/temp", *, celsius: float = 45.0
    ) -> Sensor:
        """A ``CPUTemperature``; its ``read()`` gives degrees Celsius.

        In mock mode it reads a file in a temporary directory, which
        ``simulate`` writes (*sensor_file* is not used).

        Raises:
            HardwareError: the sensor file cannot be read.
        """
        if not self.mock:
            device = self.create("CPUTemperature", sensor_file=sensor_file)
            return Sensor(device, _reader(device, "temperature"))
        file = _SimulatedFile(self._simulation_dir(), "temp-", _millidegrees(celsius))
        device = self.create("CPUTemperature", sensor_file=file.path)
        return Sensor(
            device,
            _reader(device, "temperature"),
            lambda value: file.write(_millidegrees(value)),
        )

    def create_load_average(
        self, load_average_file: str = "/proc/loadavg", *, minutes: int = 5, load: float = 0.25
    ) -> Sensor:
        """A ``LoadAverage`` over 1, 5 or 15 *minutes*; ``read()`` gives the load.

        In mock mode it reads a file in a temporary directory, which
        ``simulate`` writes (*load_average_file* is not used).

        Raises:
            HardwareError: the load average file cannot be read.
        """
        path = load_average_file
        file = None
        if self.mock:
            file = _SimulatedFile(self._simulation_dir(), "loadavg-", _loadavg(load))
            path = file.path
        device = self.create("LoadAverage", load_average_file=path, minutes=minutes)
        sensor = Sensor(device, _reader(device, "load_average"))
        if file is not None:
            sensor.simulate = lambda value: file.write(_loadavg(value))
        return sensor

    def create_disk_usage(self, filesystem: str = "/", *, percent: float = 50.0) -> Sensor:
        """A ``DiskUsage`` of *filesystem*; its ``read()`` gives the percentage used.

        In mock mode the device watches a temporary directory and ``read()``
        gives the simulated percentage, which ``simulate`` sets.

        Raises:
            HardwareError: there is no such filesystem.
        """
        if not self.mock:
            device = self.create("DiskUsage", filesystem=filesystem)
            return Sensor(device, _reader(device, "usage"))
        device = self.create("DiskUsage", filesystem=self._simulation_dir())
        simulated = [percent]

        def simulate(value: float) -> None:
            simulated[0] = value

        return Sensor(device, lambda: simulated[0], simulate)

    def read_active(self, device: Any) -> bool:
        """Whether an input device is active; blocks while a smoothed one gathers samples.

        Call it off the event loop.

        Raises:
            HardwareError: a smoothed input has had no samples for a while.
        """
        return bool(_smoothed(device, "is_active"))

    def _opened(self) -> Any:
        if self.factory is None:
            self.open()
        return self.factory

    @contextlib.contextmanager
    def _mock_pin_class(self, pin_class: Any) -> Iterator[None]:
        factory = self._opened()
        saved = factory.pin_class
        factory.pin_class = pin_class
        try:
            yield
        finally:
            factory.pin_class = saved

    @contextlib.contextmanager
    def _spi_default_factory(self) -> Iterator[None]:
        # gpiozero 2.0.1 makes the bit-banged SPI bus (SPISoftwareBus in
        # pins/spi.py, used by the mock factory and for software SPI pins)
        # without the pin factory it was given, so Device.ensure_pin_factory
        # would start gpiozero's default factory as well. Let it find this
        # one, only while the devices are made; the global is put back after.
        factory = self._opened()
        if gpiozero.Device.pin_factory is not None:
            yield
            return
        gpiozero.Device.pin_factory = factory
        try:
            yield
        finally:
            gpiozero.Device.pin_factory = None

    def _mock_pin(self, name: str, **kwargs: Any) -> Any:
        try:
            return self._opened().pin(name, **kwargs)
        except (gpiozero.GPIOZeroError, ValueError) as exc:
            raise HardwareError(f"{name}: {exc}") from exc

    def _simulation_dir(self) -> str:
        if self._mock_dir is None:
            self._mock_dir = tempfile.mkdtemp(prefix="pi-indi-mock-")
        return self._mock_dir

    # -- mock mode --

    def simulate_input(self, pin: str, devicename: str, label: str) -> None:
        """Let a client drive input *pin* (canonical name) in mock mode."""
        if self.mock:
            self.simulated_inputs[pin] = SimulatedInput(pin, devicename, label)

    def forget_device(self, devicename: str) -> None:
        """Drop a device's simulated inputs and readings (it was stopped or failed)."""
        self.simulated_inputs = {
            pin: sim for pin, sim in self.simulated_inputs.items() if sim.devicename != devicename
        }
        self.simulated_readings = [r for r in self.simulated_readings if r.devicename != devicename]

    def simulate_reading(self, reading: SimulatedReading) -> None:
        """Let a client set a sensor reading in mock mode.

        A reading registered again (its device connected again) keeps the
        value set last and is applied to the new sensor.
        """
        if not self.mock:
            return
        for known in self.simulated_readings:
            if (known.devicename, known.name) == (reading.devicename, reading.name):
                known.apply = reading.apply
                reading.apply(known.value)
                return
        self.simulated_readings.append(reading)

    def drive_pin(self, pin: str, high: bool) -> None:
        """Drive a mock input pin high or low (mock mode only)."""
        if not self.mock or self.factory is None:
            raise HardwareError("pins can only be driven on the mock pin factory")
        mock_pin = self.factory.pin(pin)
        try:
            if high:
                mock_pin.drive_high()
            else:
                mock_pin.drive_low()
        except AssertionError:
            raise HardwareError(f"{pin} is not an input pin") from None

    def pin_state(self, pin: str) -> bool:
        """The level of a mock pin."""
        return bool(self.factory.pin(pin).state) if self.factory is not None else False
