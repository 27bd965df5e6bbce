"""Fuzzing options.

The fuzz tests run a bounded number of examples each, so that the whole of
``tests/fuzz`` stays under a minute in CI. For a long run::

    pytest tests/fuzz --fuzz-long            # 20,000 examples per test
    FUZZ_EXAMPLES=100000 pytest tests/fuzz   # any number, from anywhere

(``--fuzz-long`` is known to pytest only when ``tests/fuzz`` is among its
arguments, since this conftest defines it; ``FUZZ_EXAMPLES`` works always.)
"""

from __future__ import annotations

import os

import pytest

LONG_EXAMPLES = 20_000


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-long",
        action="store_true",
        help=f"fuzz with {LONG_EXAMPLES} examples per test (or $FUZZ_EXAMPLES)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Read by tests.fuzz.streams.fuzz_settings when the test modules are imported.
    if config.getoption("--fuzz-long", default=False):
        os.environ.setdefault("FUZZ_EXAMPLES", str(LONG_EXAMPLES))
