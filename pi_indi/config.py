"""The appliance's config file: TOML in, frozen dataclasses out, every problem at once.

Parsed with the stdlib ``tomllib``. Each table is checked against a frozen
dataclass (towncrier's shape): the fields say the key names, the types, the
defaults and, in their metadata (see :func:`option`), the allowed range and
whether the value is a pin. Nothing stops at the first problem: the whole
file is checked and :class:`~pi_indi.errors.ConfigError` lists every issue
with its TOML path, with a did-you-mean for misspelt keys and driver names
(mopidy's ``_did_you_mean``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import stat
import tomllib
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pi_indi import registry
from pi_indi.errors import ConfigError, ConfigIssue
from pi_indi.registry import DriverRecord

__all__ = [
    "DEFAULT_ALLOW",
    "DEFAULT_PATH",
    "PIN_FACTORIES",
    "Config",
    "DeviceConfig",
    "GpioConfig",
    "ServerConfig",
    "StateConfig",
    "config_to_dict",
    "load_config",
    "option",
    "parse_config",
]

#: The largest config file read: a real one is a few KiB; more is the wrong file.
_MAX_CONFIG_BYTES = 1024 * 1024

_MISSING: Any = dataclasses.MISSING


def option(
    default: Any = _MISSING,
    *,
    help: str,
    min: float | None = None,
    max: float | None = None,
    pin: bool = False,
    unit: str = "",
) -> Any:
    """A config option: a dataclass field with what the checker needs to know.

    Args:
        default: the value when the key is absent; leave it out to make the
            key required. Tuples stand for TOML arrays.
        help: one line for ``show-config``, ``init`` and the docs.
        min: the smallest number allowed (numbers, and each number of an array).
        max: the largest number allowed.
        pin: the value is a GPIO pin (or, for an array, each item is): it is
            checked against the board, and no two devices may share one.
        unit: the unit of a number, for messages and docs.

    Example::

        @dataclass(frozen=True, kw_only=True)
        class Options:
            pin: int | str = option(help="the LED's pin", pin=True)
            blink_on: float = option(1.0, help="seconds on when blinking", min=0.01)
    """
    metadata = {"help": help, "min": min, "max": max, "pin": pin, "unit": unit}
    if default is _MISSING:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


# -- The core tables -----------------------------------------------------------------

PIN_FACTORIES = ("auto", "lgpio", "rpigpio", "pigpio", "native", "mock")
DEFAULT_PATH = "/etc/pi-indi.toml"
#: Where clients may connect from by default: loopback, the private ranges
#: (RFC 1918, IPv6 unique local) and link-local; never the internet.
DEFAULT_ALLOW = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
)


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """The ``[server]`` table: where and how the INDI server listens."""

    # Every interface, as indiserver does: an appliance is reached from the LAN.
    host: str = option(
        "0.0.0.0",  # noqa: S104
        help="address to listen on; 127.0.0.1 for local/SSH only",
    )
    port: int = option(7624, help="TCP port (7624 is INDI's)", min=1, max=65535)
    bind: tuple[str, ...] = option(
        (), help="addresses to listen on, all on port, instead of host; [] uses host"
    )
    allow: tuple[str, ...] = option(
        DEFAULT_ALLOW,
        help="networks (CIDR) clients may connect from; others are refused at once",
    )
    maxconnections: int = option(5, help="most clients at once; one more is told so", min=1)
    max_connections_per_minute: int = option(
        120, help="connections one address may open in a minute; 0 for no limit", min=0
    )
    max_connections_per_address: int = option(
        4,
        help="clients at once from one address; 0 for no limit (SSH tunnels share 127.0.0.1)",
        min=0,
    )
    handshake_seconds: float = option(
        10.0,
        help="a client that sends nothing this long after connecting is closed; 0: never",
        min=0,
        unit="s",
    )
    max_client_queue_mb: float = option(
        4.0,
        help="MiB of output a client may fall behind before it is dropped (indiserver -m)",
        min=0.01,
        unit="MiB",
    )
    max_element_kb: int = option(
        1024,
        help="largest element a client may send (BLOB vectors aside); larger closes it",
        min=1,
        max=65536,
        unit="KiB",
    )
    max_blob_mb: float = option(
        4.0,
        help="largest BLOB vector a client may send; larger closes it",
        min=0.01,
        max=4096,
        unit="MiB",
    )

    def problems(self) -> list[tuple[str, str]]:
        """Checks across keys: networks and addresses are written right."""
        import ipaddress

        found: list[tuple[str, str]] = []
        if not self.allow:
            found.append(("allow", 'lets no client in; ["0.0.0.0/0", "::/0"] lets everyone in'))
        for i, text in enumerate(self.allow):
            try:
                ipaddress.ip_network(text)
            except ValueError:
                try:
                    network = ipaddress.ip_network(text, strict=False)
                except ValueError:
                    message = (
                        f"{text!r} is not a network in CIDR notation"
                        " (such as '192.168.1.0/24', 'fd00::/8' or one address)"
                    )
                else:
                    message = f"{text!r} has host bits set; did you mean {str(network)!r}?"
                found.append((f"allow[{i}]", message))
        addresses: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, int] = {}
        for i, text in enumerate(self.bind):
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                found.append(
                    (
                        f"bind[{i}]",
                        f"{text!r} is not an IP address (such as '127.0.0.1' or '192.168.1.20')",
                    )
                )
                continue
            if address in addresses:
                found.append((f"bind[{i}]", f"{text!r} is already bind[{addresses[address]}]"))
                continue
            addresses[address] = i
        for address, i in addresses.items():
            same_family = [a for a in addresses if a.version == address.version]
            if address.is_unspecified and len(same_family) > 1:
                found.append(
                    (
                        f"bind[{i}]",
                        f"{str(address)!r} is every IPv{address.version} address already;"
                        " list it alone, or list the addresses without it",
                    )
                )
        return found


@dataclass(frozen=True, kw_only=True)
class GpioConfig:
    """The ``[gpio]`` table: which pin library drives the pins."""

    pin_factory: Literal["auto", "lgpio", "rpigpio", "pigpio", "native", "mock"] = option(
        "auto", help="gpiozero pin factory; mock simulates the pins anywhere"
    )
    mock_revision: str = option(
        "d04170", help="the Raspberry Pi revision (hex) the mock factory simulates"
    )

    def problems(self) -> list[tuple[str, str]]:
        """Checks across keys: the revision is hex."""
        try:
            int(self.mock_revision, 16)
        except ValueError:
            return [("mock_revision", f"must be a hex board revision, not {self.mock_revision!r}")]
        return []


@dataclass(frozen=True, kw_only=True)
class StateConfig:
    """The ``[state]`` table: saving output states and restoring them at start."""

    restore: bool = option(False, help="restore the outputs' last states at start")
    directory: str = option(
        "", help="where states are saved; default $STATE_DIRECTORY or /var/lib/pi-indi"
    )

    @property
    def path(self) -> str:
        """The state directory in effect."""
        return self.directory or os.environ.get("STATE_DIRECTORY", "") or "/var/lib/pi-indi"


@dataclass(frozen=True, kw_only=True)
class DeviceConfig:
    """One ``[[device]]`` table: a driver, the INDI device name, the driver's options.

    Attributes:
        path: the table's TOML path, such as ``device[2]``.
        driver: the driver's entry point name, or ``module:Class``.
        name: the INDI device name.
        enabled: False to keep the table but serve nothing for it.
        readonly: True to refuse every change a client asks of the device.
        options: the driver's options (an ``options_class`` instance), or
            None when the driver takes none or failed to load.
        record: the driver as found (class, status and load error).
    """

    path: str
    driver: str
    name: str
    enabled: bool = True
    readonly: bool = False
    options: Any = None
    record: DriverRecord | None = field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class Config:
    """A whole config file, checked."""

    server: ServerConfig = field(default_factory=ServerConfig)
    gpio: GpioConfig = field(default_factory=GpioConfig)
    state: StateConfig = field(default_factory=StateConfig)
    devices: tuple[DeviceConfig, ...] = ()
    source: str = "<defaults>"


_DEVICE_KEYS = ("driver", "name", "enabled", "readonly")
_TOP_TABLES: dict[str, type[Any]] = {
    "server": ServerConfig,
    "gpio": GpioConfig,
    "state": StateConfig,
}


# -- Checking ------------------------------------------------------------------------

PinResolver = Callable[[int | str], str]
DriverFinder = Callable[[str], "DriverRecord | None"]


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    import difflib  # only when something is wrong

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


#: What XML 1.0 cannot carry (so neither can INDI): C0 controls other than
#: tab, newline and carriage return, surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _not_xml(text: str) -> str | None:
    """An issue for a string holding a character XML cannot carry, else None."""
    bad = _NOT_XML.search(text)
    if bad is None:
        return None
    return f"has the character {bad.group()!r}, which XML (and so INDI) cannot carry"


#: What no INDI name may hold: every control character (C0, DEL, C1) and what
#: XML cannot carry.
_NOT_IN_NAMES = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _control(text: str) -> str | None:
    """The first character of *text* no INDI name may hold, if any."""
    bad = _NOT_IN_NAMES.search(text)
    return None if bad is None else bad.group()


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


class _Checker:
    """Walks tables against dataclasses, collecting every issue."""

    def __init__(self, resolve_pin: PinResolver | None) -> None:
        self.issues: list[ConfigIssue] = []
        self.resolve_pin = resolve_pin
        # canonical pin -> where it was first used
        self.pins: dict[str, str] = {}

    def issue(self, path: str, message: str) -> None:
        self.issues.append(ConfigIssue(path, message))

    def table(
        self, cls: type[Any], table: Mapping[str, Any], path: str, skip: Iterable[str] = ()
    ) -> Any:
        """An instance of *cls* from *table*, or None after recording issues."""
        before = len(self.issues)
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        skipped = set(skip)
        for key in table:
            if key not in fields and key not in skipped:
                where = f"{path}.{key}" if path else key
                self.issue(where, f"unknown key{_did_you_mean(key, [*fields, *skipped])}")
        values: dict[str, Any] = {}
        for name, f in fields.items():
            where = f"{path}.{name}" if path else name
            if name in table:
                ok, value = self.value(hints[name], table[name], f.metadata, where)
                if ok:
                    values[name] = value
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                self.issue(where, "is required")
        if len(self.issues) > before:
            return None
        instance = cls(**values)
        problems = getattr(instance, "problems", None)
        if callable(problems):
            for key, message in problems():
                self.issue(f"{path}.{key}" if path else key, message)
        return instance if len(self.issues) == before else None

    def value(self, tp: Any, value: Any, meta: Mapping[str, Any], path: str) -> tuple[bool, Any]:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            rest = [a for a in args if a is not type(None)]
            inner = rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]  # noqa: UP007
            return self.value(inner, value, meta, path)
        if origin is typing.Literal:
            if value in args and type(value) is type(args[0]):
                return True, value
            choices = ", ".join(repr(a) for a in args)
            hint = _did_you_mean(value, [str(a) for a in args]) if isinstance(value, str) else ""
            self.issue(path, f"must be one of {choices}, not {value!r}{hint}")
            return False, None
        if origin is tuple:
            item_type = args[0]
            items = value if isinstance(value, list) else [value]
            if isinstance(value, dict):
                self.issue(path, f"must be an array, not {_toml_type(value)}")
                return False, None
            if not items and meta.get("pin"):
                self.issue(path, "must name at least one pin")
                return False, None
            out = []
            ok = True
            for i, item in enumerate(items):
                where = f"{path}[{i}]" if isinstance(value, list) else path
                good, converted = self.value(item_type, item, meta, where)
                ok = ok and good
                out.append(converted)
            return ok, tuple(out)
        if meta.get("pin"):
            return self.pin(value, path)
        if tp is bool:
            if isinstance(value, bool):
                return True, value
            self.issue(path, f"must be true or false, not {_toml_type(value)} ({value!r})")
            return False, None
        if tp is int or tp is float:
            return self.number(tp, value, meta, path)
        if tp is str:
            if isinstance(value, str):
                # Labels and the like go on the wire; no string of the file
                # has any use for what XML cannot carry.
                problem = _not_xml(value)
                if problem is not None:
                    self.issue(path, problem)
                    return False, None
                return True, value
            self.issue(path, f"must be a string, not {_toml_type(value)} ({value!r})")
            return False, None
        raise TypeError(f"{path}: options of type {tp!r} are not supported")

    def number(self, tp: type, value: Any, meta: Mapping[str, Any], path: str) -> tuple[bool, Any]:
        wanted = "an integer" if tp is int else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.issue(path, f"must be {wanted}, not {_toml_type(value)} ({value!r})")
            return False, None
        if tp is int and not isinstance(value, int):
            self.issue(path, f"must be an integer, not {value!r}")
            return False, None
        if not math.isfinite(value):
            self.issue(path, f"must be a finite number, not {value!r}")
            return False, None
        lo, hi, unit = meta.get("min"), meta.get("max"), meta.get("unit", "")
        unit = f" {unit}" if unit else ""
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if lo is not None and hi is not None:
                rule = f"between {lo:g} and {hi:g}{unit}"
            elif lo is not None:
                rule = f"at least {lo:g}{unit}"
            else:
                rule = f"at most {hi:g}{unit}"
            self.issue(path, f"must be {rule}, not {value!r}")
            return False, None
        return True, tp(value)

    def pin(self, value: Any, path: str) -> tuple[bool, Any]:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            self.issue(path, f"must be a pin number or name like 'GPIO17', not {value!r}")
            return False, None
        if self.resolve_pin is None:
            canonical = str(value)  # no board: only a pin written the same way twice is found
        else:
            try:
                canonical = self.resolve_pin(value)
            except ValueError as exc:
                self.issue(path, str(exc))
                return False, None
        first = self.pins.get(canonical)
        if first is not None:
            self.issue(path, f"{canonical} is already used by {first}")
            return False, None
        self.pins[canonical] = path
        return True, canonical


#: The pin keys checked in a table whose driver is unknown, whatever other
#: drivers call theirs: the bundled GPIO drivers' own.
_COMMON_PIN_KEYS = ("pin", "pins")


def _pin_keys(find: DriverFinder, known: Sequence[str]) -> tuple[str, ...]:
    """Every key that is a pin in the options of a driver of *known*, ``pin`` and ``pins`` first."""
    keys = list(_COMMON_PIN_KEYS)
    for name in known:
        record = find(name)
        options_class = getattr(record.cls if record is not None else None, "options_class", None)
        if options_class is None or not dataclasses.is_dataclass(options_class):
            continue
        for f in dataclasses.fields(options_class):
            if f.metadata.get("pin") and f.name not in keys:
                keys.append(f.name)
    return tuple(keys)


def _check_pins_only(
    checker: _Checker, table: Mapping[str, Any], path: str, keys: Sequence[str]
) -> None:
    """Check the pins of a table whose driver is unknown, as far as can be.

    Without the driver its options are not known, but a key that is a pin
    for the known drivers very likely is one here too: each is checked
    against the board and for being used twice, so fixing the driver's name
    brings no new problems to light (and the devices after this one are
    checked against its pins).
    """
    for key in keys:
        if key not in table:
            continue
        value = table[key]
        where = f"{path}.{key}"
        # Only what could be a pin: an unknown driver's `enable = true` is not one.
        if isinstance(value, list):
            for i, item in enumerate(value):
                if _pin_like(item):
                    checker.pin(item, f"{where}[{i}]")
        elif _pin_like(value):
            checker.pin(value, where)


def _pin_like(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _check_device(
    checker: _Checker,
    table: Any,
    path: str,
    find: DriverFinder,
    known: Sequence[str],
    names: dict[str, str],
    pin_keys: Callable[[], Sequence[str]] = lambda: _COMMON_PIN_KEYS,
) -> DeviceConfig | None:
    if not isinstance(table, dict):
        checker.issue(path, f"must be a table, not {_toml_type(table)}")
        return None
    ok = True
    driver = table.get("driver")
    name = table.get("name")
    if driver is None:
        checker.issue(f"{path}.driver", "is required (one of: " + ", ".join(known) + ")")
        ok = False
    elif not isinstance(driver, str):
        checker.issue(f"{path}.driver", f"must be a string, not {_toml_type(driver)}")
        ok = False
    if name is None:
        checker.issue(f"{path}.name", "is required: the INDI device name clients see")
        ok = False
    elif not isinstance(name, str):
        checker.issue(f"{path}.name", f"must be a string, not {_toml_type(name)}")
        ok = False
    elif (char := _control(name)) is not None:
        checker.issue(
            f"{path}.name",
            f"{name!r} has the control character {char!r}, which is not allowed in an INDI name",
        )
        ok = False
    elif not name or name != name.strip() or "." in name:
        checker.issue(
            f"{path}.name",
            f"{name!r} is not a usable device name (not empty, no surrounding blanks,"
            " no '.', which INDI tools use as a separator)",
        )
        ok = False
    elif name in names:
        checker.issue(f"{path}.name", f"{name!r} is already the name of {names[name]}")
        ok = False
    else:
        names[name] = path
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        checker.issue(f"{path}.enabled", f"must be true or false, not {_toml_type(enabled)}")
        ok = False
    readonly = table.get("readonly", False)
    if not isinstance(readonly, bool):
        checker.issue(f"{path}.readonly", f"must be true or false, not {_toml_type(readonly)}")
        ok = False
    if not isinstance(driver, str):
        _check_pins_only(checker, table, path, pin_keys())
        return None
    record = find(driver)
    if record is None:
        hint = _did_you_mean(driver, known)
        if not hint:
            hint = " (known drivers: " + ", ".join(known) + "; or 'module:Class')"
        checker.issue(f"{path}.driver", f"unknown driver {driver!r}{hint}")
        _check_pins_only(checker, table, path, pin_keys())
        return None
    options: Any = None
    # A driver that failed to load is a warning, not a config problem: its
    # table is not checked (its keys are its own, unknown here), so one broken
    # plugin never stops the other devices from being served.
    if record.cls is not None:
        options_class = getattr(record.cls, "options_class", None)
        if options_class is not None:
            options = checker.table(options_class, table, path, skip=_DEVICE_KEYS)
            ok = ok and options is not None
        else:
            for key in table:
                if key not in _DEVICE_KEYS:
                    checker.issue(
                        f"{path}.{key}", f"unknown key: driver {driver!r} takes no options"
                    )
                    ok = False
    if not ok:
        return None
    assert isinstance(name, str)  # noqa: S101 - checked above
    return DeviceConfig(
        path=path,
        driver=driver,
        name=name,
        enabled=enabled,
        readonly=readonly,
        options=options,
        record=record,
    )


def _hardware_pins(gpio: GpioConfig, checker: _Checker) -> PinResolver | None:
    try:
        hardware = registry.load_hardware(
            "gpio", pin_factory=gpio.pin_factory, mock_revision=gpio.mock_revision
        )
    except LookupError:
        return None
    # A back end may say up front that it cannot check pins (the gpio one:
    # a mock_revision gpiozero does not know); then pins are not checked
    # against a board, only for being used twice.
    board_problem = getattr(hardware, "board_problem", None)
    problem = board_problem() if callable(board_problem) else None
    if problem is not None:
        checker.issue("gpio.mock_revision", problem)
        return None
    return hardware.resolve_pin


def parse_config(
    text: str | bytes,
    *,
    source: str = "<string>",
    resolve_pin: PinResolver | Literal["hardware"] | None = "hardware",
    find: DriverFinder | None = None,
    known_drivers: Sequence[str] | None = None,
) -> Config:
    """Check a whole config file and return it as frozen dataclasses.

    Args:
        text: the TOML.
        source: where it came from, for messages.
        resolve_pin: turns any pin spelling into its canonical name, raising
            ValueError for a pin the board lacks; None checks only for pins
            written the same way twice. The default asks the installed
            hardware back end, set up as the ``[gpio]`` table says (its board:
            the real one on a Pi, else the simulated one).
        find: looks a driver up by name (default: :func:`pi_indi.registry.find_driver`).
        known_drivers: the names offered for did-you-mean.

    Raises:
        ConfigError: listing every problem found, each with its TOML path.
    """
    if find is None:
        find = registry.find_driver
    if known_drivers is None:
        known_drivers = registry.bundled_driver_names()
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError([ConfigIssue("", f"not UTF-8 text: {exc}")], source) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigIssue("", f"not valid TOML: {exc}")], source) from None
    except RecursionError:
        message = "not valid TOML: nested too deeply (arrays or inline tables)"
        raise ConfigError([ConfigIssue("", message)], source) from None

    checker = _Checker(None)
    sections: dict[str, Any] = {}
    for key in data:
        if key in _TOP_TABLES or key == "device":
            continue
        checker.issue(key, f"unknown table{_did_you_mean(key, [*_TOP_TABLES, 'device'])}")
    for key, cls in _TOP_TABLES.items():
        table = data.get(key, {})
        if not isinstance(table, dict):
            checker.issue(key, f"must be a table ([{key}]), not {_toml_type(table)}")
            continue
        sections[key] = checker.table(cls, table, key)
    if resolve_pin == "hardware":
        checker.resolve_pin = _hardware_pins(sections.get("gpio") or GpioConfig(), checker)
    else:
        checker.resolve_pin = resolve_pin
    devices: list[DeviceConfig] = []
    raw_devices = data.get("device", [])
    if not isinstance(raw_devices, list):
        checker.issue("device", "must be an array of tables ([[device]])")
        raw_devices = []
    names: dict[str, str] = {}
    # Only for a device whose driver is unknown, once: it loads every known driver.
    pin_keys = functools.cache(functools.partial(_pin_keys, find, known_drivers))

    for index, table in enumerate(raw_devices):
        path = f"device[{index}]"
        if isinstance(table, dict) and isinstance(table.get("name"), str):
            path = f"{path} ({table['name']!r})"
        device = _check_device(checker, table, path, find, known_drivers, names, pin_keys)
        if device is not None:
            devices.append(device)
    if checker.issues:
        raise ConfigError(checker.issues, source)
    return Config(
        server=sections["server"],
        gpio=sections["gpio"],
        state=sections["state"],
        devices=tuple(devices),
        source=source,
    )


_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _read_config_file(source: str) -> bytes:
    """The bytes of the config file, refusing at once what cannot be one.

    It is opened without blocking, so a FIFO is refused instead of waiting
    for a writer (which would hang a reload, and then the stop); only a
    regular file is read, and at most 1 MiB of it.
    """

    def refuse(message: str) -> ConfigError:
        return ConfigError([ConfigIssue("", f"cannot read it: {message}")], source)

    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        # Chained, so a caller can tell a missing file (FileNotFoundError) apart.
        raise refuse(str(exc.strerror)) from exc
    limit = f"larger than {_MAX_CONFIG_BYTES // (1024 * 1024)} MiB"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((k for test, k in _FILE_KINDS if test(info.st_mode)), "a special file")
            raise refuse(f"not a regular file ({kind})")
        if info.st_size > _MAX_CONFIG_BYTES:
            raise refuse(f"{limit} ({info.st_size} bytes); is it the right file?")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(_MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise refuse(str(exc.strerror)) from None
    finally:
        os.close(fd)
    if len(data) > _MAX_CONFIG_BYTES:  # a file that said it was smaller
        raise refuse(f"{limit}; is it the right file?")
    return data


def load_config(path: str | os.PathLike[str], **kwargs: Any) -> Config:
    """Read and check the config file at *path* (see :func:`parse_config`).

    Only a regular file of at most 1 MiB is read; anything
    else (a FIFO, a directory, a device) is refused at once.

    Raises:
        ConfigError: the file cannot be read (its ``__cause__`` is then the
            OSError, such as FileNotFoundError, when it cannot be opened), or
            has problems (all listed).
    """
    source = os.fspath(path)
    data = _read_config_file(source)
    return parse_config(data, source=source, **kwargs)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    return value


def config_to_dict(config: Config) -> dict[str, Any]:
    """The effective config, defaults filled in, as plain TOML values (for ``show-config``)."""
    out: dict[str, Any] = {
        "server": _plain(config.server),
        "gpio": _plain(config.gpio),
        "state": _plain(config.state),
    }
    devices = []
    for device in config.devices:
        table: dict[str, Any] = {
            "driver": device.driver,
            "name": device.name,
            "enabled": device.enabled,
            "readonly": device.readonly,
        }
        if device.options is not None:
            table.update(_plain(device.options))
        devices.append(table)
    if devices:
        out["device"] = devices
    return out
