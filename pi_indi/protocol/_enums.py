"""The INDI vocabularies, as string enums whose values are the wire spelling."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["BLOBPolicy", "Permission", "PropertyState", "SwitchRule", "SwitchState"]


class PropertyState(StrEnum):
    """The state of a vector, and the value of a light (INDI ``propertyState``)."""

    IDLE = "Idle"
    OK = "Ok"
    BUSY = "Busy"
    ALERT = "Alert"


class SwitchState(StrEnum):
    """The value of a switch member (INDI ``switchState``)."""

    ON = "On"
    OFF = "Off"


class SwitchRule(StrEnum):
    """How many members of a switch vector may be On (INDI ``switchRule``)."""

    ONE_OF_MANY = "OneOfMany"
    AT_MOST_ONE = "AtMostOne"
    ANY_OF_MANY = "AnyOfMany"


class Permission(StrEnum):
    """Whether clients may read or write a vector (INDI ``propertyPerm``)."""

    RO = "ro"
    WO = "wo"
    RW = "rw"


class BLOBPolicy(StrEnum):
    """What a client asked to receive with ``enableBLOB`` (INDI ``BLOBenable``)."""

    NEVER = "Never"
    ALSO = "Also"
    ONLY = "Only"
