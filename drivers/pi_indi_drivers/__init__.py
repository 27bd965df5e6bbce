"""The drivers bundled with pi-indi.

Each is an ordinary ``IPyDriver`` registered under the ``pi_indi.drivers``
entry-point group, so the core finds them the way it finds third-party ones.
"""

from __future__ import annotations

__all__: list[str] = []
