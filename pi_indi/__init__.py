"""pi_indi: INDI drivers and servers in pure Python.

The driver-author API is indipydriver's, so a driver written for indipydriver
3.x runs with only its imports changed::

    from pi_indi import IPyDriver, Device, SwitchVector, SwitchMember

Names are imported on first use, so that ``import pi_indi.protocol`` (the
sans-IO core) loads no event loop and no sockets.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
version = __version__

_EXPORTS = {
    "IPyDriver": "pi_indi.driver",
    "IPyServer": "pi_indi.server",
    "Device": "pi_indi.driver",
    "SwitchVector": "pi_indi.properties",
    "LightVector": "pi_indi.properties",
    "TextVector": "pi_indi.properties",
    "NumberVector": "pi_indi.properties",
    "BLOBVector": "pi_indi.properties",
    "SwitchMember": "pi_indi.properties",
    "LightMember": "pi_indi.properties",
    "TextMember": "pi_indi.properties",
    "NumberMember": "pi_indi.properties",
    "BLOBMember": "pi_indi.properties",
    "getfloat": "pi_indi.properties",
    "getProperties": "pi_indi.events",
    "newSwitchVector": "pi_indi.events",
    "newTextVector": "pi_indi.events",
    "newNumberVector": "pi_indi.events",
    "newBLOBVector": "pi_indi.events",
    "Message": "pi_indi.events",
    "delProperty": "pi_indi.events",
    "defSwitchVector": "pi_indi.events",
    "defTextVector": "pi_indi.events",
    "defNumberVector": "pi_indi.events",
    "defLightVector": "pi_indi.events",
    "defBLOBVector": "pi_indi.events",
    "setSwitchVector": "pi_indi.events",
    "setTextVector": "pi_indi.events",
    "setNumberVector": "pi_indi.events",
    "setLightVector": "pi_indi.events",
    "setBLOBVector": "pi_indi.events",
}

__all__ = [
    "BLOBMember",
    "BLOBVector",
    "Device",
    "IPyDriver",
    "IPyServer",
    "LightMember",
    "LightVector",
    "Message",
    "NumberMember",
    "NumberVector",
    "SwitchMember",
    "SwitchVector",
    "TextMember",
    "TextVector",
    "__version__",
    "defBLOBVector",
    "defLightVector",
    "defNumberVector",
    "defSwitchVector",
    "defTextVector",
    "delProperty",
    "getProperties",
    "getfloat",
    "newBLOBVector",
    "newNumberVector",
    "newSwitchVector",
    "newTextVector",
    "setBLOBVector",
    "setLightVector",
    "setNumberVector",
    "setSwitchVector",
    "setTextVector",
    "version",
]

if TYPE_CHECKING:
    import logging

    from pi_indi.driver import Device, IPyDriver
    from pi_indi.events import (
        Message,
        defBLOBVector,
        defLightVector,
        defNumberVector,
        defSwitchVector,
        defTextVector,
        delProperty,
        getProperties,
        newBLOBVector,
        newNumberVector,
        newSwitchVector,
        newTextVector,
        setBLOBVector,
        setLightVector,
        setNumberVector,
        setSwitchVector,
        setTextVector,
    )
    from pi_indi.properties import (
        BLOBMember,
        BLOBVector,
        LightMember,
        LightVector,
        NumberMember,
        NumberVector,
        SwitchMember,
        SwitchVector,
        TextMember,
        TextVector,
        getfloat,
    )
    from pi_indi.server import IPyServer


def _logger(name: str, alias: str) -> logging.Logger:
    """The logger *name*, whose records also pass through indipydriver's logger *alias*.

    Records of ``pi_indi.driver`` climb ``pi_indi.driver`` ->
    ``indipydriver.ipydriver`` -> ``indipydriver`` -> ``pi_indi`` -> root:
    handlers and levels set on indipydriver's or indipyserver's names (a
    ported script's logging set-up) act on them as on pi_indi's own, and each
    handler still sees a record once. Loggers are made in that order, so the
    links hold (``logging`` sets a parent only when it makes a logger).
    """
    import logging  # not at import time: pi_indi.protocol loads no logging

    top = logging.getLogger(alias.split(".", 1)[0])
    top.parent = logging.getLogger("pi_indi")
    log = logging.getLogger(name)
    log.parent = logging.getLogger(alias)
    # Loggers cache what they let through; setLevel (even to the same level)
    # is the public way to clear every cache after the links changed.
    top.setLevel(top.level)
    return log


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pi_indi' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
