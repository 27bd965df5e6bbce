"""IPyServer: serve drivers to INDI clients over TCP, as indiserver does.

The package follows the seams of the job:

* :mod:`._router`: who gets what (ownership, interest, BLOB choices,
  snooping, read-only devices), a pure object with no asyncio and no sockets;
* :mod:`._access`: who may connect (networks, rates);
* :mod:`._clients`: one TCP client (its socket, its limits);
* :mod:`._drivers`: the driver sides (in-process, executable, remote);
* :mod:`._server`: :class:`IPyServer`, which listens, starts and stops them.

Bytes from every peer become events through :mod:`pi_indi._ingress`, where
what bad input costs each kind of peer is decided.

INDI has no authentication, so what the server can do is limit who reaches it
and what they can cost it (docs/security.md): an allow list of networks,
checked before anything is read; connections per address; the number of
clients; the size of what a client may send; how far a client may fall
behind; how much it may ask to watch; devices no client may change; and
executable drivers that flood or write garbage are cut off and restarted.
"""

from __future__ import annotations

from pi_indi.server._access import parse_networks
from pi_indi.server._server import IPyServer, logger

__all__ = ["IPyServer", "logger", "parse_networks"]
