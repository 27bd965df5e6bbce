"""An executable driver that answers getProperties with some invalid output among the good.

Its device is "Noisy", or the name given as its first argument.
"""

from __future__ import annotations

import os
import sys

device = (sys.argv[1] if len(sys.argv) > 1 else "Noisy").encode()
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    if b"getProperties" not in line:
        continue
    out.write(
        b'<defNumberVector device="%s" name="N" state="Ok" perm="ro">'
        b'<defNumber name="x" format="%%g" min="0" max="0" step="0">1</defNumber>'
        b"</defNumberVector>\n"
        b'<setNumberVector device="%s" name="N"><oneNumber name="x">abc</oneNumber>'
        b"</setNumberVector>\n"
        b"garbage <<< between elements\n"
        b'<setNumberVector device="%s" name="N" state="Busy"><oneNumber name="x">2</oneNumber>'
        b"</setNumberVector>\n" % (device, device, device)
    )
    out.flush()
    if os.environ.get("NOISY_ONCE"):
        break
