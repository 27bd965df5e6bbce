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
from typing import TYPE_CHECKING, Any

from pi_indi import __version__

if TYPE_CHECKING:
    from pi_indi.config import Config

__all__ = ["EX_CONFIG", "EX_UNAVAILABLE", "main"]

#: sysexits.h EX_CONFIG: the config is wrong; systemd is told not to restart on it.
EX_CONFIG = 78
#: sysexits.h EX_UNAVAILABLE: a device needs a pin library that cannot start
#: here (not a Pi, /dev/gpiochip* not ours); restarting cannot fix that either.
EX_UNAVAILABLE = 69
DEFAULT_CONFIG = "/etc/pi-indi.toml"
#: seconds `pi-indi reload` waits: less than the unit's TimeoutStartSec=60s, so
#: its own message, not systemd's kill, ends a reload that hangs.
RELOAD_TIMEOUT = 50.0

_DESCRIPTION = """\
Put a Raspberry Pi's LEDs, relays, buttons, PWM outputs and sensors on the
network as INDI devices, chosen by a TOML file, for KStars/Ekos, indipyterm,
indi_getprop/indi_setprop or any INDI client.
"""

_EPILOG = """\
first steps:
  pi-indi serve --mock                 try it anywhere: the example config on simulated pins
  indi_getprop -h HOST "*.*.*"         from another terminal (Debian package indi-bin)
  sudo nano /etc/pi-indi.toml          add your devices (sudo pi-indi init writes one if none)
  pi-indi check-config                 check it: every problem, with where it is
  sudo systemctl reload pi-indi        the service serves it (or: pi-indi serve, port 7624)

The whole path, from wiring to a phone: docs/getting-started.md.
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


def _unreadable_hint(args: argparse.Namespace, exc: BaseException) -> str:
    """What to do about a config file that could not be opened ("" when nothing helps)."""
    cause = exc.__cause__
    path = args.config
    if isinstance(cause, FileNotFoundError):
        if path is not None:
            return (
                f"pi-indi: to write the annotated example there, then edit it: pi-indi init {path}"
            )
        hint = (
            f"pi-indi: there is no {DEFAULT_CONFIG} yet. Write the annotated example"
            " there, then edit it:\n  sudo pi-indi init"
        )
        if hasattr(args, "mock"):
            hint += (
                "\nOr try the bundled example on simulated pins first (on any machine):"
                "\n  pi-indi serve --mock"
            )
        return hint
    if isinstance(cause, PermissionError):
        import getpass

        where = path if path is not None else DEFAULT_CONFIG
        user = getpass.getuser()
        if args.command == "serve":
            # Not "sudo pi-indi serve": a network server on the pins as root,
            # outside the hardened unit, leaving root-owned state behind.
            return (
                f"pi-indi: user {user} may not read {where}: let it (sudo chmod a+r {where}),"
                " or run the service, which may: sudo systemctl start pi-indi"
            )
        return (
            f"pi-indi: user {user} may not read {where}: run this as a user"
            f" who may (sudo pi-indi {args.command} ...), or let everyone read it:"
            f" sudo chmod a+r {where}"
        )
    return ""


def _load_or_report(args: argparse.Namespace) -> Config | None:
    """The checked config, or None after printing every problem (and what to do) to stderr."""
    from pi_indi.errors import ConfigError

    try:
        return _load(args)
    except ConfigError as exc:
        print(f"pi-indi: {exc}", file=sys.stderr)
        hint = _unreadable_hint(args, exc)
        if hint:
            print(hint, file=sys.stderr)
        return None


def _cmd_serve(args: argparse.Namespace) -> int:
    from pi_indi._systemd import Notifier
    from pi_indi.appliance import Appliance
    from pi_indi.errors import HardwareError

    config = _load_or_report(args)
    if config is None:
        return EX_CONFIG
    log = logging.getLogger("pi_indi")
    if args.config is None and _config_path(args) is None:
        reload_config = None  # the bundled example does not change
    else:
        reload_config = partial(_load, args)
    try:
        appliance = Appliance(
            config, reload_config=reload_config, notifier=Notifier(), log_xml=args.verbose >= 2
        )
    except LookupError as exc:  # no hardware back end installed
        print(f"pi-indi: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    try:
        appliance.build()
    except HardwareError as exc:  # the pin factory a device needs cannot start
        print(f"pi-indi: {exc}", file=sys.stderr)
        appliance.close()
        return EX_UNAVAILABLE
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
        hint = _listen_hint(exc)
        if hint:
            print(f"pi-indi: {hint}", file=sys.stderr)
        return 1
    return 0


def _listen_hint(exc: OSError) -> str:
    """What to do when the server cannot listen ("" when there is nothing to say)."""
    import errno

    if exc.errno == errno.EADDRINUSE:
        return (
            "another INDI server (indiserver, or pi-indi itself: systemctl status pi-indi)"
            " is listening there; stop it, or choose another port with --port"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            "that address is not one of this machine's (ip address shows them); fix"
            " [server] host or bind, or give --host"
        )
    if exc.errno == errno.EACCES:
        return "only root may listen on a port below 1024; INDI's port is 7624"
    return ""


def _warn_unloadable(config: Config) -> None:
    """A warning on stderr for each device whose driver fails to load (not a config error)."""
    broken = [d for d in config.devices if d.record is not None and d.record.cls is None]
    for device in broken:
        assert device.record is not None  # noqa: S101
        print(
            f"warning: {device.path}: driver {device.driver!r} failed to load:"
            f" {device.record.error}; this device will not be served",
            file=sys.stderr,
        )


def _hardware_notes(config: Config) -> list[str]:
    """What the enabled devices' hardware still needs: a sensor not there yet, how to enable it.

    A driver's options may say so with ``hardware_notes() -> [(key, text)]``;
    the config is valid either way: the device starts, in Alert until the
    hardware is there.
    """
    notes: list[str] = []
    for device in config.devices:
        check = getattr(device.options, "hardware_notes", None)
        if not device.enabled or check is None:
            continue
        try:
            found = check()
        except Exception as exc:  # noqa: BLE001 - a plugin's fault is reported, not raised
            found = [("", f"could not be checked: {type(exc).__name__}: {exc}")]
        for key, text in found:
            where = f"{device.path}.{key}" if key else device.path
            notes.append(f"note: {where}: {text}")
    return notes


def _cmd_check_config(args: argparse.Namespace) -> int:
    config = _load_or_report(args)
    if config is None:
        return EX_CONFIG
    _warn_unloadable(config)
    for note in _hardware_notes(config):
        print(note)
    enabled = sum(1 for d in config.devices if d.enabled)
    print(f"{config.source}: OK, {enabled} device(s) enabled of {len(config.devices)}")
    return 0


def _gone(pid: int) -> bool:
    """Whether process *pid* has ended (a zombie not yet reaped has, too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, as another user
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return False  # no /proc: kill() is all there is
    # "PID (COMM) STATE ...": COMM may hold spaces and parentheses.
    return stat.rpartition(")")[2].split()[:1] in (["Z"], ["X"])


def _cmd_reload(args: argparse.Namespace) -> int:
    import signal
    import time

    from pi_indi._systemd import ReloadOutcome, ReloadStateFile

    pid: int = args.pid
    config = _load_or_report(args)
    if config is None:
        print(
            f"pi-indi: not reloading PID {pid}: it keeps serving the config it has",
            file=sys.stderr,
        )
        return EX_CONFIG
    _warn_unloadable(config)
    # The same directory the service writes to, $RUNTIME_DIRECTORY's first.
    states = (
        ReloadStateFile(args.runtime_dir) if args.runtime_dir else ReloadStateFile.from_environ()
    )
    try:
        before = states.read(pid)
    except OSError as exc:
        print(f"pi-indi: cannot read {states.path}: {exc.strerror}", file=sys.stderr)
        return 1
    if states.path is not None and before is None:
        # Where the service would say it can reload, it said nothing: not the
        # service (a wrong PID), or one that has no SIGHUP handler yet, which
        # the signal would end.
        print(
            f"pi-indi: PID {pid} published nothing in {states.path}: not signalling a"
            " process that may not reload (is it pi-indi serve, and listening?)",
            file=sys.stderr,
        )
        return 1
    if before is not None and not before.reloadable:
        # Its SIGHUP handler is not installed: the signal would end it.
        print(
            f"pi-indi: PID {pid} serves {before.config}, which it cannot reload;"
            " restart it instead",
            file=sys.stderr,
        )
        return 1
    if before is not None and os.path.realpath(before.config) != os.path.realpath(config.source):
        print(
            f"pi-indi: warning: checked {config.source}, but the service reads"
            f" {before.config}; it checks that one itself",
            file=sys.stderr,
        )
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        print(f"pi-indi: no process {pid}", file=sys.stderr)
        return 1
    except PermissionError:
        print(f"pi-indi: not allowed to signal PID {pid}", file=sys.stderr)
        return 1
    if states.path is None or before is None:
        print(
            f"pi-indi: sent SIGHUP to PID {pid}; not waiting for the outcome (no"
            " --runtime-dir or $RUNTIME_DIRECTORY); its log says how the reload went",
            file=sys.stderr,
        )
        return 0
    # Any reload numbered after the last one begun will have read the file
    # after it was checked above.
    wanted = before.started + 1
    logging.getLogger("pi_indi").info(
        "sent SIGHUP to PID %d; waiting up to %g s for reload %d in %s",
        pid,
        args.timeout,
        wanted,
        states.path,
    )

    def outcome() -> ReloadOutcome | None:
        state = states.read(pid)
        return state.outcome(wanted) if state is not None else None

    deadline = time.monotonic() + args.timeout
    try:
        while (done := outcome()) is None:
            if _gone(pid):
                done = outcome()  # it may have finished just before it ended
                if done is not None:
                    break
                print(
                    f"pi-indi: PID {pid} exited while reloading; its log says why",
                    file=sys.stderr,
                )
                return 1
            if time.monotonic() >= deadline:
                print(
                    f"pi-indi: PID {pid} has not finished reload {wanted} after"
                    f" {args.timeout:g} s; it may still be reloading: its log says more",
                    file=sys.stderr,
                )
                return 1
            time.sleep(0.05)
    except OSError as exc:
        print(f"pi-indi: cannot read {states.path}: {exc.strerror}", file=sys.stderr)
        return 1
    line = f"pi-indi: reload {done.generation} {done.result}: {done.reason}"
    if done.result == "applied":
        print(line)
        return 0
    print(line, file=sys.stderr)
    for problem in done.problems:
        print(f"  {problem}", file=sys.stderr)
    return EX_CONFIG if done.result == "refused" else 1


def _cmd_show_config(args: argparse.Namespace) -> int:
    import tomli_w

    from pi_indi.config import config_to_dict

    config = _load_or_report(args)
    if config is None:
        return EX_CONFIG
    print(f"# effective config of {config.source}, defaults filled in")
    sys.stdout.write(tomli_w.dumps(config_to_dict(config)))
    lines = _settings_lines(config)
    if lines:
        print()
        print("\n".join(lines))
    notes = _hardware_notes(config)
    if notes:
        print()
        print("\n".join(f"# {note}" for note in notes))
    return 0


def _settings_lines(config: Config) -> list[str]:
    """What clients may change on each device, the value in effect and where it comes from.

    The devices are built on gpiozero's mock pins (the real ones are not
    touched, and nothing is saved) with the settings saved in
    ``settings.toml`` of the state directory on top of the config file, as
    the service starts them. The lines are TOML comments, so the output stays
    a config file.
    """
    import dataclasses

    import tomli_w

    from pi_indi.appliance import Appliance

    mock = dataclasses.replace(
        config,
        gpio=dataclasses.replace(config.gpio, pin_factory="mock"),
        # Restoring would hand the drivers a save_state: nothing may be written here.
        state=dataclasses.replace(config.state, restore=False),
    )
    settings_file = os.path.join(config.state.path, "settings.toml")
    appliance = Appliance(mock)
    lines: list[str] = []
    try:
        appliance.build()
        for name, (_, driver) in appliance.running.items():
            values = getattr(driver, "setting_values", None)
            if values is None:
                continue
            found = values()
            if not found:
                continue
            lines.append(f"# [{name}]")
            for setting in found:
                value = tomli_w.dumps({"v": setting.value}).strip()[len("v = ") :]
                origin = (
                    f"saved by a client in {settings_file}"
                    if setting.saved
                    else f"from {config.source}"
                )
                lines.append(f"#   {setting.vector}.{setting.member} = {value}  # {origin}")
    except Exception as exc:  # noqa: BLE001 - the config above is shown whatever happens
        lines.append(f"# (cannot show the settings clients changed: {exc})")
    finally:
        appliance.close()
    if lines:
        lines.insert(
            0,
            "# settings clients may change (labels, pulse durations, polling periods),"
            " as the service starts with them:",
        )
    return lines


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
        if isinstance(exc, PermissionError):
            print(
                f"pi-indi: writing there needs root: sudo pi-indi init {args.path}",
                file=sys.stderr,
            )
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


def _positive_int(text: str) -> int:
    # kill(0 or less) would signal a whole process group.
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a process ID, not {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pi-indi",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pi-indi {__version__}")
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="count", default=0, help="log more")
    # Only the commands that carry INDI messages can log them.
    talks = argparse.ArgumentParser(add_help=False)
    talks.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log more (-vv: every INDI message the drivers receive and send)",
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
        parents=[config, talks],
        help="serve the configured devices (what the service runs)",
        description="Serve the devices of the config file on INDI's port until SIGTERM or "
        "Ctrl-C. A device whose driver fails to start is logged and left out; the others "
        f"are served. An invalid config exits with status {EX_CONFIG} and every problem listed; "
        f"a pin library that a device needs and that cannot start here, with {EX_UNAVAILABLE}.",
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

    reload = commands.add_parser(
        "reload",
        parents=[verbose],
        help="check the config, then have the running service apply it (ExecReload)",
        description=textwrap.dedent(f"""\
            Check the config file as check-config does. If it is invalid, print every
            problem and exit {EX_CONFIG} without signalling PID, which keeps serving the
            config it has. Otherwise send PID (a running pi-indi serve) SIGHUP, wait until
            it has reloaded, and exit 0 once it has applied the file; or print why not and
            exit {EX_CONFIG} (it refused the file) or 1 (the reload failed part way, the
            service ended while reloading, or the wait timed out)."""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent(f"""            The unit runs it as
              ExecReload=/usr/bin/pi-indi reload --pid $MAINPID --config {DEFAULT_CONFIG}
            so "systemctl reload pi-indi" fails ("the control process exited with
            error code") when the file is invalid or the service could not apply
            it, and the journal shows why under the unit.

            The service publishes each reload's outcome in $RUNTIME_DIRECTORY
            (systemd sets it to /run/pi-indi for the service and for this command).
            Without it or --runtime-dir, this checks the file, signals PID and
            exits 0 without waiting: the service's log says how the reload went.

            examples:
              sudo systemctl reload pi-indi              what you normally run
              sudo pi-indi reload --pid "$(systemctl show -P MainPID pi-indi)" \\
                  --runtime-dir /run/pi-indi            the same, by hand
            """),
    )
    reload.add_argument(
        "--pid",
        type=_positive_int,
        required=True,
        help="the process of the running pi-indi serve ($MAINPID under systemd)",
    )
    reload.add_argument(
        "-c",
        "--config",
        metavar="PATH",
        help=f"the config file to check (default {DEFAULT_CONFIG}): the one PID serves",
    )
    reload.add_argument(
        "--runtime-dir",
        metavar="DIR",
        help="where the service publishes its reloads' outcomes"
        " (default $RUNTIME_DIRECTORY, set by systemd)",
    )
    reload.add_argument(
        "--timeout",
        type=float,
        default=RELOAD_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for the service (default {RELOAD_TIMEOUT:g}; the unit's "
        "TimeoutStartSec=, which bounds ExecReload too, is 60)",
    )
    reload.set_defaults(func=_cmd_reload)

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
        parents=[talks],
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
