"""The ``pi-indi`` command: serve the appliance, check its config, run one driver."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
import textwrap
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TextIO

from pi_indi import __version__

if TYPE_CHECKING:
    from pi_indi.config import Config

__all__ = ["EX_CONFIG", "main"]

#: sysexits.h EX_CONFIG: the config is wrong; systemd is told not to restart on it.
EX_CONFIG = 78
DEFAULT_CONFIG = "/etc/pi-indi.toml"

_DESCRIPTION = """\
Put a Raspberry Pi's LEDs, relays, buttons, PWM outputs and sensors on the
network as INDI devices, chosen by a TOML file, for KStars/Ekos, indipyterm,
indi_getprop/indi_setprop or any INDI client.
"""

_EPILOG = """\
first steps:
  pi-indi serve --mock                 try it anywhere: the example config on simulated pins
  indi_getprop -h HOST "*.*.*"         from another terminal (Debian package indi-bin)
  sudo pi-indi init                    write an annotated /etc/pi-indi.toml to edit
  pi-indi check-config                 check it: every problem, with where it is
  pi-indi serve                        serve it on the real pins (port 7624)

Run "pi-indi COMMAND --help" for a command's options.
"""


def _example_text() -> str:
    import importlib.resources

    return (importlib.resources.files("pi_indi") / "example.toml").read_text(encoding="utf-8")


def _config_path(args: argparse.Namespace) -> str | None:
    """The config file to use; None means the bundled example (only with --mock)."""
    if args.config is not None:
        return str(args.config)
    if os.path.exists(DEFAULT_CONFIG) or not getattr(args, "mock", False):
        return DEFAULT_CONFIG
    return None


def _load(args: argparse.Namespace) -> Config:
    """Load and check the config (raises ConfigError)."""
    import dataclasses

    from pi_indi.config import load_config, parse_config

    path = _config_path(args)
    mock = getattr(args, "mock", False)
    if path is None:
        logging.getLogger("pi_indi").info(
            "no %s: serving the bundled example config", DEFAULT_CONFIG
        )
        config = parse_config(_example_text(), source="<bundled example>")
    else:
        config = load_config(path)
    if mock:
        config = dataclasses.replace(
            config, gpio=dataclasses.replace(config.gpio, pin_factory="mock")
        )
    overrides: dict[str, Any] = {}
    if getattr(args, "host", None) is not None:
        overrides["host"] = args.host
        overrides["bind"] = ()  # --host is where to listen, whatever the file says
    if getattr(args, "port", None) is not None:
        overrides["port"] = args.port
    if overrides:
        config = dataclasses.replace(config, server=dataclasses.replace(config.server, **overrides))
    return config


def _load_or_report(args: argparse.Namespace, out: TextIO) -> Config | None:
    """The checked config, or None after printing every problem to *out*."""
    from pi_indi.errors import ConfigError

    try:
        return _load(args)
    except ConfigError as exc:
        print(f"pi-indi: {exc}", file=out)
        return None


def _cmd_serve(args: argparse.Namespace) -> int:
    from pi_indi._systemd import Notifier
    from pi_indi.appliance import Appliance
    from pi_indi.errors import HardwareError

    config = _load_or_report(args, sys.stderr)
    if config is None:
        return EX_CONFIG
    log = logging.getLogger("pi_indi")
    if args.config is None and _config_path(args) is None:
        reload_config = None  # the bundled example does not change
    else:
        reload_config = partial(_load, args)
    try:
        appliance = Appliance(config, reload_config=reload_config, notifier=Notifier())
    except LookupError as exc:  # no hardware back end installed
        print(f"pi-indi: {exc}", file=sys.stderr)
        return 1
    try:
        appliance.build()
    except HardwareError as exc:
        print(f"pi-indi: {exc}", file=sys.stderr)
        appliance.close()
        return 1
    running = sum(1 for s in appliance.statuses if s.status == "running")
    log.info(
        "%s: %d of %d devices running (pin factory %s)",
        config.source,
        running,
        len(appliance.statuses),
        config.gpio.pin_factory,
    )
    try:
        asyncio.run(appliance.run())
    except OSError as exc:
        # The port is taken, the address is not ours: nothing was served.
        hosts = config.server.bind or (config.server.host,)
        where = ", ".join(f"{host}:{config.server.port}" for host in hosts)
        print(f"pi-indi: cannot listen on {where}: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    config = _load_or_report(args, sys.stdout)
    if config is None:
        return EX_CONFIG
    broken = [d for d in config.devices if d.record is not None and d.record.cls is None]
    for device in broken:
        assert device.record is not None  # noqa: S101
        print(
            f"warning: {device.path}: driver {device.driver!r} failed to load:"
            f" {device.record.error}; this device will not be served"
        )
    enabled = sum(1 for d in config.devices if d.enabled)
    print(f"{config.source}: OK, {enabled} device(s) enabled of {len(config.devices)}")
    return 0


def _cmd_show_config(args: argparse.Namespace) -> int:
    import tomli_w

    from pi_indi.config import config_to_dict

    config = _load_or_report(args, sys.stderr)
    if config is None:
        return EX_CONFIG
    print(f"# effective config of {config.source}, defaults filled in")
    sys.stdout.write(tomli_w.dumps(config_to_dict(config)))
    return 0


def _cmd_list_drivers(args: argparse.Namespace) -> int:
    from pi_indi.registry import iter_drivers

    records = list(iter_drivers())
    width = max((len(r.name) for r in records), default=4)
    for record in records:
        line = f"{record.status}: {record.error}" if record.cls is None else record.summary
        origin = "" if record.distribution in (None, "pi-indi") else f" [{record.distribution}]"
        print(f"{record.name:<{width}}  {line}{origin}")
        if args.verbose:
            print(f"{'':<{width}}  {record.target}")
    return 0


def _cmd_init(args: argparse.Namespace) -> int:
    text = _example_text()
    if args.path == "-":
        sys.stdout.write(text)
        return 0
    if os.path.exists(args.path) and not args.force:
        print(f"pi-indi: {args.path} exists; use --force to replace it", file=sys.stderr)
        return 1
    try:
        with open(args.path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        print(f"pi-indi: cannot write {args.path}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {args.path}; edit it, then: pi-indi check-config --config {args.path}")
    return 0


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


def _cmd_run(args: argparse.Namespace) -> int:
    from pi_indi.driver import IPyDriver

    driver = _load_driver(args.target)
    if not isinstance(driver, IPyDriver):
        raise SystemExit(f"pi-indi: {args.target} did not give an IPyDriver")
    driver.debug_enable = args.verbose >= 2
    asyncio.run(driver.asyncrun())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pi-indi",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pi-indi {__version__}")
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-vv: every INDI message)"
    )
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument(
        "-c",
        "--config",
        metavar="PATH",
        help=f"the config file (default {DEFAULT_CONFIG}; with --mock and no such file,"
        " the bundled example)",
    )
    config.add_argument(
        "--mock",
        action="store_true",
        help="simulate the pins with gpiozero's mock pin factory (overrides [gpio])",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        parents=[config, verbose],
        help="serve the configured devices (what the service runs)",
        description="Serve the devices of the config file on INDI's port until SIGTERM or "
        "Ctrl-C. A device whose driver fails to start is logged and left out; the others "
        f"are served. An invalid config exits with status {EX_CONFIG} and every problem listed.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent("""\
            examples:
              pi-indi serve --mock                 the bundled example, simulated pins
              pi-indi serve --mock -c my.toml      your config, simulated pins
              pi-indi serve --host 127.0.0.1       only local clients (and SSH tunnels)
            """),
    )
    serve.add_argument("--host", help="address to listen on (overrides [server] host and bind)")
    serve.add_argument("--port", type=int, help="TCP port (overrides [server] port)")
    serve.set_defaults(func=_cmd_serve)

    check = commands.add_parser(
        "check-config",
        parents=[config, verbose],
        help="check the config; exit 0, or 78 with every problem listed",
        description="Check the config file: unknown keys (with a did-you-mean), wrong types, "
        "values out of range, pins used twice or missing on the board, unknown drivers. "
        f"Prints every problem with its TOML path and exits {EX_CONFIG}, or exits 0.",
    )
    check.set_defaults(func=_cmd_check_config)

    show = commands.add_parser(
        "show-config",
        parents=[config, verbose],
        help="print the effective config, defaults filled in",
        description="Print the config as it will be used: every key, defaults filled in, "
        "pins in their canonical names.",
    )
    show.set_defaults(func=_cmd_show_config)

    list_drivers = commands.add_parser(
        "list-drivers",
        parents=[verbose],
        help="list the drivers a config can name (bundled and installed plugins)",
        description="List every driver registered under the pi_indi.drivers entry point "
        "group, bundled or from another package, and whether it loads.",
    )
    list_drivers.set_defaults(func=_cmd_list_drivers)

    init = commands.add_parser(
        "init",
        parents=[verbose],
        help="write an annotated example config",
        description="Write the annotated example config (every bundled driver, with comments)"
        " to PATH, to edit down to your wiring.",
    )
    init.add_argument(
        "path",
        nargs="?",
        default=DEFAULT_CONFIG,
        help=f"where (default {DEFAULT_CONFIG}; - for stdout)",
    )
    init.add_argument("-f", "--force", action="store_true", help="replace an existing file")
    init.set_defaults(func=_cmd_init)

    run = commands.add_parser(
        "run",
        parents=[verbose],
        help="run one driver on stdin/stdout (for indiserver)",
        description="Import MODULE, call CALLABLE() to get an IPyDriver (a class or a "
        "factory function) and run it on stdin/stdout until stdin closes.",
        epilog="Example: pi-indi run examples.led_driver:make_driver",
    )
    run.add_argument("target", metavar="MODULE:CALLABLE")
    run.set_defaults(func=_cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pi-indi`` console script."""
    args = _parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose + (args.command == "serve"), 2)
    if args.command == "serve":
        from pi_indi._systemd import configure_logging

        configure_logging(level)
    else:
        logging.basicConfig(
            level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
        )
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
