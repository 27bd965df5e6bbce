"""An executable driver that sends the snoop requests in $SNOOP_REQUESTS and records its input.

No pi_indi here: the requests go out as written (a pi_indi driver would not
send ``device="*"``), and everything the server sends back is appended,
as it arrives, to the file named by $SNOOP_LOG.
"""

from __future__ import annotations

import os
import sys

with open(os.environ["SNOOP_LOG"], "ab", buffering=0) as log:
    sys.stdout.buffer.write(os.environ["SNOOP_REQUESTS"].encode() + b"\n")
    sys.stdout.buffer.flush()
    while chunk := os.read(0, 1 << 16):
        log.write(chunk)
