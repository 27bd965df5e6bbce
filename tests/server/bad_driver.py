"""An executable driver that misbehaves on its first run and behaves once restarted.

    bad_driver.py MODE MARKER

Its device is "Bad"; it answers every getProperties with its definition. On
its first run (MARKER does not exist yet, and it creates it), once it has
answered two (the server's own, then one from a client), it turns bad:

- flood: writes valid setNumberVector messages, for a device "Spam", as fast
  as it can;
- garbage: writes bytes that are no XML at all (random, without a "<");
- badxml: writes malformed elements (an end tag that closes nothing open).

In mode requests it turns after its first answer: it sends 3000 numbered
newTextVector requests for Dev.NOTE at once, then only answers getProperties.
In mode stderr it writes 300 lines on stderr at start, then only answers
getProperties. A later run only answers getProperties.
"""

from __future__ import annotations

import os
import sys

mode, marker = sys.argv[1], sys.argv[2]
first = not os.path.exists(marker)
if first:
    with open(marker, "w"):
        pass
definition = (
    b'<defNumberVector device="Bad" name="N" state="Ok" perm="ro">'
    b'<defNumber name="x" format="%g" min="0" max="0" step="0">1</defNumber>'
    b"</defNumberVector>\n"
)
requests = b"".join(
    b'<newTextVector device="Dev" name="NOTE"><oneText name="TEXT">%d</oneText></newTextVector>\n'
    % i
    for i in range(3000)
)
if mode == "stderr":
    first = False
    sys.stderr.write("".join(f"line {i}\n" for i in range(300)))
    sys.stderr.flush()
answered = 0
for line in sys.stdin.buffer:
    if b"getProperties" not in line:
        continue
    os.write(1, definition)
    answered += 1
    if first and mode == "requests" and answered == 1:
        os.write(1, requests)
    elif first and mode != "requests" and answered == 2:
        break
else:
    sys.exit(0)

if mode == "flood":
    block = (
        b'<setNumberVector device="Spam" name="N"><oneNumber name="x">1</oneNumber>'
        b"</setNumberVector>\n"
    ) * 1000
elif mode == "garbage":
    block = os.urandom(1 << 16).replace(b"<", b"")
else:
    block = (
        b'<setNumberVector device="Bad" name="N"><oneNumber name="x">1</oneSwitch>'
        b"</setNumberVector>\n"
    ) * 100
while True:
    os.write(1, block)
