"""What environment drivers share: the dew point, and numbers snooped from other devices."""

from __future__ import annotations

import math
from typing import Any

from pi_indi.events import defNumberVector, delProperty, setNumberVector

__all__ = ["MAGNUS_A", "MAGNUS_B", "dew_point", "snooped_number"]

#: The Magnus formula's constants over water (Sonntag 1990, as the WMO's guide
#: gives them; Alduchov and Eskridge give 17.625 and 243.04 °C): good to about
#: 0.35 °C from -45 to 60 °C.
MAGNUS_A = 17.62
MAGNUS_B = 243.12  # °C


def dew_point(celsius: float, humidity: float) -> float:
    """The dew point in °C for a temperature (°C) and a relative humidity (%), by Magnus.

    ``gamma = ln(RH / 100) + a T / (b + T)``, dew point ``= b gamma / (a - gamma)``,
    with ``a`` = :data:`MAGNUS_A` and ``b`` = :data:`MAGNUS_B`. A humidity over
    100 % (a sensor may read a little over) is taken as 100 %.

    Raises:
        ValueError: the humidity is not above 0 (no dew point), or a value is
            not finite.
    """
    if not (math.isfinite(celsius) and math.isfinite(humidity)) or humidity <= 0:
        raise ValueError(f"no dew point for {celsius} °C at {humidity} %")
    gamma = math.log(min(humidity, 100.0) / 100) + MAGNUS_A * celsius / (MAGNUS_B + celsius)
    return MAGNUS_B * gamma / (MAGNUS_A - gamma)


def snooped_number(
    event: Any, device: str, vector: str, member: str
) -> tuple[float | None, str] | None:
    """What a snooped event says of one number of another device.

    Returns:
        None when the event says nothing of that number: it is about another,
        or its vector is Idle (defined, not yet read: the value it carries is
        a placeholder). Else ``(value, "")`` for a reading, or ``(None, why)``
        when the number is lost: its vector was deleted, is in Alert (the
        device could not read its sensor: the value it still carries is an
        old one), or does not hold a number.
    """
    if event.devicename != device:
        return None
    if isinstance(event, delProperty):
        if event.vectorname in (None, vector):
            return None, f"{device} {vector} was deleted"
        return None
    if not isinstance(event, (defNumberVector, setNumberVector)) or event.vectorname != vector:
        return None
    if event.state == "Alert":
        return None, f"{device} {vector} is in Alert"
    if event.state == "Idle":
        return None
    if member not in event:
        return None
    try:
        value = float(event.getfloatvalue(member))
    except (TypeError, ValueError):
        return None, f"{device} {vector}.{member} is not a number"
    return value, ""
