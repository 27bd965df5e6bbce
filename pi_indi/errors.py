"""Every exception pi_indi raises, in one place.

Callers can catch the pi_indi base class or the built-in one each error also
derives from (``LocalProtocolError`` is a ``ValueError``), in the manner of
gpiozero's ``exc.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "DriverError",
    "HardwareError",
    "LocalProtocolError",
    "NumberFormatError",
    "PiIndiError",
    "ProtocolError",
    "RemoteProtocolError",
]


class PiIndiError(Exception):
    """Base class for all pi_indi errors."""


class ProtocolError(PiIndiError):
    """A violation of the INDI protocol.

    This class is abstract: what is raised is always one of the two concrete
    subclasses, which say whose fault it was.
    """

    def __init__(self, msg: str) -> None:
        if type(self) is ProtocolError:
            raise TypeError("tried to directly instantiate ProtocolError")
        super().__init__(msg)


class LocalProtocolError(ProtocolError, ValueError):
    """We tried to build or send something the protocol does not allow.

    Raised by event constructors and by the encoder, so a driver bug shows up
    at the line that made the bad value instead of at a peer.
    """


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow.

    This is the only error the decoder raises for bad input. The decoder has
    already skipped the offending element when this is raised, so the caller may
    go on calling ``next_event()``; whether to keep the peer is the caller's
    choice.

    Attributes:
        well_formed: True when the XML itself was well formed and only its INDI
            meaning was wrong (an unknown member, a bad number, a missing
            attribute). A server answers those instead of dropping the peer.
        tag: the top-level element's tag, when one was read.
        device: its ``device`` attribute, when one was read.
        name: its ``name`` attribute, when one was read.
        too_large: True when the element was refused for its size alone (a
            peer sending one over-large BLOB is not writing garbage).
    """

    def __init__(
        self,
        msg: str,
        *,
        well_formed: bool = False,
        too_large: bool = False,
        tag: str | None = None,
        device: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(msg)
        self.well_formed = well_formed
        self.too_large = too_large
        self.tag = tag
        self.device = device
        self.name = name


class DriverError(PiIndiError):
    """Base for driver-side failures."""


class HardwareError(DriverError):
    """The hardware refused: a pin is busy or missing, a pin library will not start.

    Raised ``from`` the underlying gpiozero or OS error, with a message fit for
    a user.
    """


class ConfigIssue(NamedTuple):
    """One problem in a config file: where it is (a TOML path) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(PiIndiError, ValueError):
    """A config file is invalid.

    Attributes:
        issues: every problem found, each with its TOML path; the whole file
            is checked before this is raised, so one run reports them all.
        source: the file (or a description of the text) checked.
    """

    def __init__(self, issues: Iterable[ConfigIssue], source: str = "") -> None:
        self.issues = list(issues)
        self.source = source
        where = f"{source}: " if source else ""
        count = len(self.issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{where}{count} problem{'s' if count != 1 else ''}\n{lines}")


class NumberFormatError(PiIndiError, TypeError, ValueError):
    """A value is not an INDI number.

    It is a ``TypeError`` because indipydriver's ``getfloat`` raises that, and
    drivers written for it catch it; and a ``ValueError`` because that is what
    it really is.
    """
