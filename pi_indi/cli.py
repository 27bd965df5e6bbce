"""The ``pi-indi`` command."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Sequence

from pi_indi import __version__

__all__ = ["main"]


def _load_driver(target: str) -> object:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise SystemExit(f"pi-indi: expected MODULE:CALLABLE, got {target!r}")
    sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(f"pi-indi: cannot import {module_name!r}: {exc}") from None
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise SystemExit(f"pi-indi: {module_name!r} has no {attr!r}") from None
    return factory()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pi-indi`` console script."""
    parser = argparse.ArgumentParser(
        prog="pi-indi",
        description="INDI drivers and servers in pure Python.",
        epilog="Example: pi-indi run examples.led_driver:make_driver  "
        "(serves that driver on stdin/stdout, as indiserver expects)",
    )
    parser.add_argument("--version", action="version", version=f"pi-indi {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: XML)")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run one driver on stdin/stdout",
        description="Import MODULE, call CALLABLE() to get an IPyDriver (a class or a "
        "factory function) and run it on stdin/stdout until stdin closes.",
    )
    run.add_argument("target", metavar="MODULE:CALLABLE")
    args = parser.parse_args(argv)

    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    from pi_indi.driver import IPyDriver

    driver = _load_driver(args.target)
    if not isinstance(driver, IPyDriver):
        raise SystemExit(f"pi-indi: {args.target} did not give an IPyDriver")
    driver.debug_enable = args.verbose >= 2
    asyncio.run(driver.asyncrun())
    return 0


if __name__ == "__main__":
    sys.exit(main())
