"""Coverage-guided fuzzing of the codec with atheris (libFuzzer for Python).

Not part of the test suite, and nothing depends on atheris; run it by hand::

    .venv/bin/pip install atheris            # or: pip install --group fuzz -e .
    .venv/bin/python tests/fuzz/atheris_codec.py -max_total_time=300

Any libFuzzer option works (``-jobs=2``, ``-timeout=5``, a corpus directory to
keep what it finds). Without a directory it starts from a temporary one seeded
with the transcripts in ``corpus/``, the client requests and the hostile shapes
of ``streams.py``. A crash (any exception but RemoteProtocolError, a broken
invariant, or a hang past ``-timeout``, 10 s unless given) is written to
``crash-*`` / ``timeout-*`` in the current directory; reproduce it with
``python tests/fuzz/atheris_codec.py crash-...``.

The invariant is test_codec_fuzz's: only events or RemoteProtocolError come
out, in a bounded number of calls, holding no more than the limits, ending
CLOSED; and cutting the input into chunks does not change the events. The
first byte of each input picks the chunk size, the second the limits.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

atheris: Any = importlib.import_module("atheris")

with atheris.instrument_imports(include=["pi_indi"]):
    from tests.fuzz import streams

LIMITS: list[dict[str, int]] = [
    {},
    {"max_element": 256, "max_blob_element": 512, "max_tag": 64},
    {"max_element": 4096, "max_blob_element": 4096, "max_tag": 1024},
    {"max_element": 64 << 10, "max_blob_element": 1 << 20, "max_tag": 8 << 10},
]


def test_one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    step, limits, stream = data[0], LIMITS[data[1] % len(LIMITS)], data[2:]
    whole, _ = streams.decode_all(stream, timed=False, limits=limits)
    if step:
        cuts = list(range(step, len(stream), step))
        cut, _ = streams.decode_all(stream, cuts, timed=False, limits=limits)
        if not limits:  # small limits can cut an element in one chunking only
            assert cut == whole, (cut, whole)


def seed_corpus() -> str:
    directory = tempfile.mkdtemp(prefix="pi-indi-atheris-")
    seeds = [*streams.real_messages(), *streams.CLIENT_MESSAGES]
    seeds += [shape(100) for shape in streams.HOSTILE.values()]
    seeds.append(b"".join(streams.real_messages()[:40]))
    for i, seed in enumerate(seeds):
        with open(os.path.join(directory, f"seed-{i:04d}"), "wb") as f:
            f.write(bytes([i % 64, 0]) + seed)
    return directory


def main() -> None:
    argv = list(sys.argv)
    if not any(not a.startswith("-") for a in argv[1:]):
        directory = seed_corpus()
        print(f"corpus: {directory}", file=sys.stderr)
        argv.append(directory)
    if not any(a.startswith("-timeout=") for a in argv):
        argv.append("-timeout=10")
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
