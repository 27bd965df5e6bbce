"""The appliance: a config file's devices, built by their drivers, served by IPyServer.

Each ``[[device]]`` table becomes one driver. A driver that fails to load or
to start is recorded with its status and logged; the others are served all
the same (mopidy's extension records). On stop the drivers put their outputs
in their safe states and the pins are released, the outputs still driven:
the hardware is told to hold them before the first driver stops.

On SIGHUP the config file is read and checked again. An invalid file changes
nothing (every problem is logged); a valid one is applied without dropping
clients: devices whose table changed are deleted and built again, new ones
are added, gone ones deleted, and devices whose table did not change keep
running untouched, state and all (a device that only became read-only, or
stopped being, is one of them: the server enforces ``readonly``). A device
whose table changed only in its labels is made again from the state it had,
its outputs handed over still driven: none changes level. The
``[server]`` table's access list and limits apply at once. Under systemd the service reports
``READY=1`` once it listens with its drivers started, ``RELOADING=1`` and
``READY=1`` around a reload, ``STOPPING=1`` on the way out, ``STATUS=`` with
its devices and clients, and ``WATCHDOG=1`` from the event loop itself, so a
stalled loop stops the pings and systemd restarts the service. A reload that
was refused or failed stays at the head of ``STATUS=`` until one succeeds, and
each reload's outcome is published in ``$RUNTIME_DIRECTORY`` for ``pi-indi
reload`` (ExecReload) to wait on.

A reload refuses, as it refuses an invalid file, a config that would stop
every running device (no device enabled: a file emptied or truncated by
mistake is a valid config) or let more clients in (``allow`` admitting an
address the old networks did not, or listening where it did not: loopback
to a LAN address, some addresses to all of them). A restart applies it: the
service applies any valid config at start, which is explicit enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from pi_indi._systemd import Notifier, ReloadOutcome, ReloadState, ReloadStateFile
from pi_indi.config import Config, DeviceConfig, ServerConfig
from pi_indi.driver import IPyDriver
from pi_indi.errors import ConfigError, HardwareError
from pi_indi.registry import (
    DriverContext,
    DriverStatus,
    Hardware,
    load_hardware,
    simulation_driver,
)
from pi_indi.server import IPyServer
from pi_indi.state import StateStore

__all__ = ["Appliance", "DeviceStatus"]

logger = logging.getLogger(__name__)

_KEPT = "still serving the previous config"
#: How to apply a config that a reload refuses as a likely mistake.
_RESTART = "to apply it, restart the service (systemctl restart pi-indi)"

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(slots=True)
class DeviceStatus:
    """How one configured device fared."""

    name: str
    driver: str
    status: DriverStatus
    error: str | None = None


def _same_table(old: DeviceConfig, new: DeviceConfig) -> bool:
    """Whether a device's table is unchanged (where it sits in the file does not matter).

    ``readonly`` is left out: the server enforces it, so the driver need not
    be built again when it changes.
    """
    return (old.driver, old.enabled, old.options) == (new.driver, new.enabled, new.options)


#: The options that name things for clients (the output and input drivers'
#: ``labels``, a single input's ``label``): a change only there keeps the state.
_LABEL_FIELDS = frozenset({"label", "labels"})


def _only_labels_differ(old: DeviceConfig, new: DeviceConfig) -> bool:
    """Whether the two tables differ, and only in their label options."""
    if (old.driver, old.enabled) != (new.driver, new.enabled) or old.options == new.options:
        return False
    before, after = old.options, new.options
    if (
        type(before) is not type(after)
        or not dataclasses.is_dataclass(before)
        or isinstance(before, type)
    ):
        return False
    names = {f.name for f in dataclasses.fields(before)}
    if not names & _LABEL_FIELDS:
        return False
    return all(getattr(before, name) == getattr(after, name) for name in names - _LABEL_FIELDS)


def _readonly(config: Config) -> set[str]:
    return {device.name for device in config.devices if device.readonly}


def _wider_allow(old: ServerConfig, new: ServerConfig) -> list[str]:
    """The networks of *new*'s ``allow`` with addresses that *old*'s do not admit."""
    olds = [ipaddress.ip_network(text) for text in old.allow]
    # Collapsed, the old networks are the fewest blocks covering them: a
    # network within their union is within one of them.
    v4 = list(ipaddress.collapse_addresses(n for n in olds if isinstance(n, ipaddress.IPv4Network)))
    v6 = list(ipaddress.collapse_addresses(n for n in olds if isinstance(n, ipaddress.IPv6Network)))
    wider: list[str] = []
    for text in new.allow:
        network = ipaddress.ip_network(text)
        if isinstance(network, ipaddress.IPv4Network):
            covered = any(network.subnet_of(o) for o in v4)
        else:
            covered = any(network.subnet_of(o) for o in v6)
        if not covered:
            wider.append(text)
    return wider


def _listen_hosts(server: ServerConfig) -> tuple[str, ...]:
    return tuple(server.bind) or (server.host,)


def _address(host: str) -> _Address | None:
    if host == "localhost":
        return ipaddress.ip_address("127.0.0.1")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None  # a host name (or "", every address): nothing is known of it


def _wider_hosts(old: ServerConfig, new: ServerConfig) -> list[str]:
    """The addresses *new* listens on that *old* did not reach.

    A loopback address reaches no other machine; one of this machine's
    addresses is reached where the old ones included it or the unspecified
    address of its family (``0.0.0.0``), or ``::``, on which the server
    listens for both families.
    """
    olds = [_address(host) for host in _listen_hosts(old)]
    wider: list[str] = []
    for host in _listen_hosts(new):
        address = _address(host)
        if host in _listen_hosts(old) or (address is not None and address.is_loopback):
            continue
        if address is not None and any(
            o is not None
            and (o == address or (o.is_unspecified and o.version in (address.version, 6)))
            for o in olds
        ):
            continue
        wider.append(host)
    return wider


def _limits(server: ServerConfig) -> dict[str, Any]:
    """The [server] limits, as IPyServer's arguments (and attributes) take them."""
    return {
        "maxconnections": server.maxconnections,
        "max_client_queue": max(1, int(server.max_client_queue_mb * (1 << 20))),
        "max_connections_per_minute": server.max_connections_per_minute or None,
        "max_element": server.max_element_kb << 10,
        "max_blob_element": max(1, int(server.max_blob_mb * (1 << 20))),
        "max_connections_per_address": server.max_connections_per_address or None,
        "handshake_timeout": server.handshake_seconds,
    }


def _log_xml(driver: IPyDriver) -> None:
    """Have *driver* log its INDI XML, in and out, at DEBUG (``pi-indi serve -vv``).

    libindi's ``DEBUG`` switch of its devices, where they have one, says so
    (ENABLE), before the clients first see it; a client may still turn it off.
    """
    driver.debug_enable = True
    for device in driver.values():
        debug = device.get("DEBUG")
        if debug is not None and set(debug) == {"ENABLE", "DISABLE"}:
            debug["ENABLE"] = "On"
            debug["DISABLE"] = "Off"


class Appliance:
    """Build the configured devices and serve them.

    Args:
        config: the checked config.
        hardware: the hardware back end; by default the installed ``gpio``
            one, set up as the config's ``[gpio]`` table says.
        reload_config: reads and checks the config again (raising
            ConfigError); SIGHUP calls it. None: SIGHUP is ignored.
        notifier: tells systemd how the service is doing; by default one
            reading ``$NOTIFY_SOCKET`` (a no-op outside systemd).
        reload_state: where each reload's outcome is published for ``pi-indi
            reload``; by default in ``$RUNTIME_DIRECTORY`` (none without it).
        log_xml: log, at DEBUG, every INDI message each driver receives and
            sends (``pi-indi serve -vv``), drivers built by a reload included.

    Raises:
        LookupError: no hardware back end is installed.
    """

    def __init__(
        self,
        config: Config,
        hardware: Hardware | None = None,
        *,
        reload_config: Callable[[], Config] | None = None,
        notifier: Notifier | None = None,
        reload_state: ReloadStateFile | None = None,
        log_xml: bool = False,
    ) -> None:
        self.config = config
        self.log_xml = log_xml
        self.hardware = hardware if hardware is not None else self._load_hardware(config)
        self.reload_config = reload_config
        self.notifier = notifier if notifier is not None else Notifier()
        self.reload_state = (
            reload_state if reload_state is not None else ReloadStateFile.from_environ()
        )
        self.store = StateStore(config.state.path)
        #: what clients changed (labels, pulse durations): kept whether or not states are restored
        self.settings = StateStore(config.state.path, "settings.toml", "settings")
        self.statuses: list[DeviceStatus] = []
        self.drivers: list[IPyDriver] = []
        # device name -> (its table, its driver), for the devices running
        self.running: dict[str, tuple[DeviceConfig, IPyDriver]] = {}
        self.control: IPyDriver | None = None
        self.server: IPyServer | None = None
        self.reloads = 0
        #: reloads begun, and the last few outcomes (generation 0: the start-up)
        self.reload_generation = 0
        self.reload_outcomes: list[ReloadOutcome] = []
        #: what went wrong with the last reload, until one succeeds (heads STATUS=)
        self.reload_problem: str | None = None
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_again = False
        self._heartbeat: asyncio.TimerHandle | None = None
        self._built = False

    @staticmethod
    def _load_hardware(config: Config) -> Hardware:
        return load_hardware(
            "gpio", pin_factory=config.gpio.pin_factory, mock_revision=config.gpio.mock_revision
        )

    # -- building --

    def build(self) -> list[IPyDriver]:
        """Build every enabled device's driver, starting the pin factory if one needs it.

        A hardware back end with an ``open_error`` attribute (the gpio one)
        starts its pin library with the first device that uses pins, and
        keeps there why it could not: a config with no such device (none at
        all, as installed, or system sensors only) runs on any machine.
        Other back ends are opened first.

        Raises:
            HardwareError: the pin factory cannot start (no driver that uses
                pins could run); the devices built so far are left to
                :meth:`close`.
        """
        on_demand = hasattr(self.hardware, "open_error")
        if not on_demand:
            self.hardware.open()
        if self.config.state.restore:
            self.store.load()
        self.settings.load()
        for device in self.config.devices:
            self._build_one(device)
            failed = getattr(self.hardware, "open_error", None) if on_demand else None
            if failed is not None:
                # Every device after this one that uses pins would fail alike.
                raise failed
        self.control = self._control_driver()
        self.drivers = self._all_drivers()
        self._built = True
        return self.drivers

    def _control_driver(self) -> IPyDriver | None:
        control = simulation_driver(self.hardware)
        if control is not None and self.log_xml:
            _log_xml(control)
        if control is not None:
            taken = sorted(set(control) & set(self.running))
            if taken:
                logger.error(
                    "a configured device is named %s, so the mock control device is not served",
                    ", ".join(taken),
                )
                return None
        return control

    def _set_status(self, device: DeviceConfig, status: DriverStatus, error: str) -> None:
        old = self._status_of(device.name)
        if old is not None:
            self.statuses.remove(old)
        self.statuses.append(DeviceStatus(device.name, device.driver, status, error))

    def _all_drivers(self) -> list[IPyDriver]:
        drivers = [driver for _, driver in self.running.values()]
        if self.control is not None:
            drivers.append(self.control)
        return drivers

    def _status_of(self, name: str) -> DeviceStatus | None:
        for status in self.statuses:
            if status.name == name:
                return status
        return None

    def _build_one(
        self, device: DeviceConfig, handed_over: Mapping[str, Any] | None = None
    ) -> IPyDriver | None:
        """Build one device's driver; *handed_over*: the state to start from, its outputs'.

        A device handed over starts from the state its previous driver had,
        whatever ``[state] restore`` and its own ``restore`` say: those are
        about starting the service, and this is not a start.
        """
        status = DeviceStatus(device.name, device.driver, DriverStatus.LOADED)
        old = self._status_of(device.name)
        if old is not None:
            self.statuses.remove(old)
        self.statuses.append(status)
        if not device.enabled:
            status.status = DriverStatus.DISABLED
            logger.info("%s: disabled in the config", device.name)
            return None
        record = device.record
        if record is None or record.cls is None:
            status.status = DriverStatus.LOAD_ERROR
            status.error = record.error if record is not None else "not found"
            logger.error(
                "%s: driver %r failed to load: %s", device.name, device.driver, status.error
            )
            return None
        restore = self.config.state.restore
        options = device.options
        saved_state: Mapping[str, Any] | None = self.store.get(device.name) if restore else None
        if handed_over is not None:
            saved_state = handed_over
            if getattr(options, "restore", True) is False:
                # The output drivers' restore = false: no saved state at start.
                options = dataclasses.replace(options, restore=True)
        context = DriverContext(
            devicename=device.name,
            options=options,
            hardware=self.hardware,
            saved_state=saved_state,
            settings=self.settings.get(device.name),
            save_settings=partial(self.settings.save, device.name),
            load_settings=partial(self.settings.read, device.name),
        )
        if restore:
            # Nothing is written unless it will be read back: a laptop trying
            # the example must not need a writable /var/lib/pi-indi.
            context.save_state = partial(self.store.save, device.name)
        try:
            from_config = getattr(record.cls, "from_config", None)
            driver = from_config(context) if from_config is not None else record.cls()
        except HardwareError as exc:
            if not self._built and exc is getattr(self.hardware, "open_error", None):
                raise  # build() stops here, and says why once
            status.status = DriverStatus.START_ERROR
            status.error = str(exc)
        except Exception as exc:
            # A broken driver must not stop the others; its traceback is for the log.
            status.status = DriverStatus.START_ERROR
            status.error = f"{type(exc).__name__}: {exc}"
            logger.exception("%s: driver %r failed to start", device.name, device.driver)
            self._forget(device.name)
            return None
        else:
            if not isinstance(driver, IPyDriver):
                status.status = DriverStatus.START_ERROR
                status.error = f"{device.driver} did not give an IPyDriver"
            else:
                status.status = DriverStatus.RUNNING
                self.running[device.name] = (device, driver)
                if self.log_xml:
                    _log_xml(driver)
                logger.info("%s: %s running", device.name, device.driver)
                return driver
        logger.error("%s: driver %r failed to start: %s", device.name, device.driver, status.error)
        self._forget(device.name)
        return None

    def _hold_outputs(self, hold: bool) -> None:
        # The server stops the drivers as it stops, before close(): the
        # hardware must know first that their released outputs stay driven.
        hold_outputs = getattr(self.hardware, "hold_outputs", None)
        if hold_outputs is not None:
            hold_outputs(hold)

    def _forget(self, devicename: str) -> None:
        forget = getattr(self.hardware, "forget_device", None)
        if forget is not None:
            forget(devicename)

    def make_server(self) -> IPyServer:
        """The server for the built drivers, as the ``[server]`` table says."""
        server_config = self.config.server
        self.server = IPyServer(
            *self.drivers,
            host=server_config.host,
            port=server_config.port,
            bind=server_config.bind,
            allow=server_config.allow,
            readonly_devices=_readonly(self.config),
            **_limits(server_config),
        )
        return self.server

    # -- running --

    async def run(self) -> None:
        """Build, serve until SIGTERM/SIGINT or :meth:`shutdown`, then release the pins."""
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        try:
            if not self._built:
                self.build()
            server = self.make_server()
            # A server that cannot listen stops its drivers: the service stops.
            self._hold_outputs(True)
            task = asyncio.create_task(server.asyncrun())
            listening = asyncio.create_task(server.listening.wait())
            await asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED)
            listening.cancel()
            if task.done():
                await task  # it failed to listen: raise why
                return
            # Serving: a device a reload stops gives its pins back.
            self._hold_outputs(False)
            # The server put its own handlers in; these also tell systemd.
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                    loop.add_signal_handler(sig, self.shutdown)
                    installed.append(sig)
            if self.reload_config is not None:
                with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                    loop.add_signal_handler(signal.SIGHUP, self.request_reload)
                    installed.append(signal.SIGHUP)
            logger.info("ready: %s", self.status_text())
            self.reload_outcomes = [
                ReloadOutcome(generation=0, result="started", reason=self.status_text())
            ]
            self._publish_reload_state()
            self.notifier.ready(self.status_text())
            self._start_heartbeat()
            await task
        finally:
            if self._heartbeat is not None:
                self._heartbeat.cancel()
            for sig in installed:
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)
            if self._reload_task is not None:
                self._reload_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._reload_task
            await loop.run_in_executor(None, self.close)
            self.notifier.close()

    def shutdown(self) -> None:
        """Stop serving (from the event loop's thread); the outputs stay in their safe states."""
        self._hold_outputs(True)
        self.notifier.stopping()
        if self.server is not None:
            self.server.shutdown()

    def close(self) -> None:
        """Safe states for every driver still running, then release the pins.

        The outputs stay driven at their safe states: pi-indi never turns one
        into an input on the way out.
        """
        self._hold_outputs(True)
        for driver in self._all_drivers():
            try:
                driver.shutdown()
            except Exception:
                logger.exception("%s: shutdown failed", type(driver).__name__)
        self.hardware.close()
        # The last states on disk before the process ends, not a write behind.
        self.store.flush()
        self.settings.flush()

    def status_text(self) -> str:
        """One line for systemd's STATUS: devices running, clients, address.

        After a reload that was refused or failed, that comes first, until a
        reload succeeds.
        """
        running = len(self.running)
        total = sum(1 for s in self.statuses if s.status is not DriverStatus.DISABLED)
        failed = total - running
        clients = self.server.client_count if self.server is not None else 0
        if self.server is not None:
            where = ", ".join(self.server.addresses)
        else:
            hosts = self.config.server.bind or (self.config.server.host,)
            where = ", ".join(f"{host}:{self.config.server.port}" for host in hosts)
        text = f"{running} devices, {clients} clients, on {where}"
        if failed:
            text += f"; {failed} failed (see the log)"
        if self.reload_problem is not None:
            text = f"{self.reload_problem}; {text}"
        return text

    def _start_heartbeat(self) -> None:
        if not self.notifier.enabled:
            return
        interval = self.notifier.watchdog_interval or 5.0
        interval = min(interval, 5.0)
        loop = asyncio.get_running_loop()

        def beat() -> None:
            # Runs on the event loop, so a loop that stalls stops the pings.
            if self.notifier.watchdog_interval is not None:
                self.notifier.watchdog()
            self.notifier.status(self.status_text())
            self._heartbeat = loop.call_later(interval, beat)

        beat()

    # -- reloading --

    def request_reload(self) -> None:
        """Reload the config soon (SIGHUP); one reload at a time, the last request wins."""
        if self._reload_task is not None and not self._reload_task.done():
            self._reload_again = True
            return
        self._reload_task = asyncio.get_running_loop().create_task(self._reload_loop())

    async def _reload_loop(self) -> None:
        while True:
            self._reload_again = False
            await self.reload()
            if not self._reload_again:
                return

    async def reload(self) -> bool:
        """Read the config again and apply it; False (and nothing changed) when it is invalid.

        Its outcome goes to systemd (``READY=1`` with ``STATUS=``), to the log,
        and to :attr:`reload_state` for ``pi-indi reload``.
        """
        if self.reload_config is None:
            return False
        # Counted and published before the file is read: see _systemd.ReloadState.
        self.reload_generation += 1
        self._publish_reload_state()
        self.notifier.reloading()
        logger.info("reloading the config (reload %d)", self.reload_generation)
        loop = asyncio.get_running_loop()
        refused: ConfigError | None = None
        try:
            new = await loop.run_in_executor(None, self.reload_config)
        except ConfigError as exc:
            refused = exc
        except Exception as exc:
            logger.exception("reload failed, still serving the previous config")
            why = f"{type(exc).__name__}: {exc}"
            self._reload_done("failed", f"reload failed: {why}", f"{why}; {_KEPT}")
            return False
        if refused is not None:
            # Every problem, each on its own line, as check-config prints them.
            count = len(refused.issues)
            problems = f"{count} problem{'s' if count != 1 else ''}"
            logger.error("reload refused, %s: %s has %s", _KEPT, refused.source, problems)
            for issue in refused.issues:
                logger.error("  %s", issue)
            self._reload_done(
                "refused",
                f"reload refused ({problems})",
                f"{refused.source} has {problems}; {_KEPT}",
                tuple(str(issue) for issue in refused.issues),
            )
            return False
        mistaken = self._mistaken(new)
        if mistaken:
            what = " and ".join(mistaken)
            # Not an error of the file: a likely mistake, which a restart applies.
            logger.warning("reload refused: %s %s; %s; %s", new.source, what, _KEPT, _RESTART)
            self._reload_done(
                "refused",
                f"reload refused ({what}; restart to apply)",
                f"{new.source} {what}; {_KEPT}; {_RESTART}",
            )
            return False
        try:
            await self.apply(new)
        except Exception as exc:
            # The pin library refused to start, say: whatever was applied
            # stays applied, the server keeps serving, and the log says why.
            self.reload_problem = None  # the last reload's, if any, is stale now
            logger.exception("reload failed part way; %s", self.status_text())
            self._reload_done(
                "failed",
                f"reload failed part way: {exc}",
                f"{exc} (part way: what was applied stays applied; see the log)",
            )
            return False
        self.reloads += 1
        self._reload_done("applied")
        logger.info("reloaded: %s", self.status_text())
        return True

    def _mistaken(self, new: Config) -> list[str]:
        """Why applying *new* by a reload looks like a mistake; empty when it does not."""
        found: list[str] = []
        if self.running and not any(device.enabled for device in new.devices):
            found.append(f"would stop every device (it enables none; {len(self.running)} running)")
        old = self.config.server
        networks = _wider_allow(old, new.server)
        if networks:
            found.append(f"would widen [server] allow (to {', '.join(networks)})")
        hosts = _wider_hosts(old, new.server)
        if hosts:
            found.append(
                f"would listen on more addresses ({', '.join(hosts)}; was"
                f" {', '.join(_listen_hosts(old))})"
            )
        return found

    def _reload_done(
        self,
        result: str,
        problem: str | None = None,
        reason: str | None = None,
        problems: tuple[str, ...] = (),
    ) -> None:
        """Publish a reload's outcome: *problem* heads STATUS= until a reload succeeds."""
        self.reload_problem = problem
        status = self.status_text()
        self.notifier.ready(status)
        outcome = ReloadOutcome(
            generation=self.reload_generation,
            result=result,
            reason=reason if reason is not None else status,
            problems=problems,
        )
        self.reload_outcomes = [*self.reload_outcomes, outcome][-ReloadState.KEEP :]
        self._publish_reload_state()

    def _publish_reload_state(self) -> None:
        self.reload_state.write(
            ReloadState(
                pid=os.getpid(),
                config=self.config.source,
                reloadable=self.reload_config is not None,
                started=self.reload_generation,
                outcomes=tuple(self.reload_outcomes),
            )
        )

    async def apply(self, new: Config) -> None:
        """Change the running service to *new*: only what changed is touched.

        Who may connect (``allow``, closing clients it no longer allows), the
        read-only devices and the limits change first; then the devices whose
        table changed are built again; then, if its address changed, the
        server listens on the new one, keeping its clients.
        """
        server = self.server
        old = self.config
        flipped: set[str] = set()
        if server is not None:
            # Who may connect and what they may change first, before any
            # device is built again.
            server.allow = new.server.allow
            flipped = server.readonly_devices ^ _readonly(new)
            server.readonly_devices = _readonly(new)
            for name, value in _limits(new.server).items():
                setattr(server, name, value)
        wanted = {device.name: device for device in new.devices}
        rebuild_all = new.gpio != old.gpio or new.state != old.state
        gone = [
            name
            for name, (table, _) in self.running.items()
            if rebuild_all or name not in wanted or not _same_table(table, wanted[name])
        ]
        # Stop first, so the pins they free can be claimed by what replaces them.
        if self.control is not None:
            await self._remove(self.control)
            self.control = None
        handed_over: dict[str, Mapping[str, Any]] = {}
        for name in gone:
            table, driver = self.running.pop(name)
            if not rebuild_all and name in wanted and _only_labels_differ(table, wanted[name]):
                state = await self._hand_over(driver)
                if state is not None:
                    logger.info("%s: only its labels changed: made again, outputs kept", name)
                    handed_over[name] = state
                    self._forget(name)
                    continue
            logger.info("%s: stopping (its table changed or went)", name)
            await self._remove(driver)
            self._forget(name)
        self.statuses = [s for s in self.statuses if s.name in wanted]
        # Recorded before the pin factory starts: if it fails to, a later
        # reload (of this file fixed, or of the old one) still rebuilds it.
        self.config = new
        if rebuild_all:
            await asyncio.get_running_loop().run_in_executor(None, self.hardware.close)
            self.hardware = self._load_hardware(new)
            if new.state.path != old.state.path:
                self.store = StateStore(new.state.path)
                self.settings = StateStore(new.state.path, "settings.toml", "settings")
                self.settings.load()
        # As in build(): a back end with an open_error attribute starts its pin
        # library with the first device that uses pins; others are opened first.
        on_demand = hasattr(self.hardware, "open_error")
        if rebuild_all and not on_demand:
            try:
                self.hardware.open()
            except HardwareError as exc:
                for device in new.devices:
                    if device.enabled:
                        self._set_status(device, DriverStatus.START_ERROR, str(exc))
                raise
        if new.state.restore and rebuild_all:
            self.store.load()
        failed: HardwareError | None = None
        for device in new.devices:
            if device.name in self.running:
                driver = self.running[device.name][1]
                self.running[device.name] = (device, driver)
                served = driver.get(device.name)
                if device.name in flipped and served is not None and served.enable:
                    # Deleted and defined again, so that clients see its new
                    # permissions (the server sends a read-only device's as
                    # "ro"): libindi's clients ignore a definition of a
                    # property they already have.
                    for vector in served.values():
                        if vector.enable:
                            await vector.send_delProperty()
                            vector.enable = True
                            await vector.send_defVector()
                continue
            if failed is not None and device.enabled:
                # Every device after it that uses pins would fail alike.
                self._set_status(device, DriverStatus.START_ERROR, str(failed))
                continue
            before = getattr(self.hardware, "open_error", None) if on_demand else None
            built = self._build_one(device, handed_over.get(device.name))
            if built is not None and server is not None:
                await server.add_driver(built)
            after = getattr(self.hardware, "open_error", None) if on_demand else None
            if after is not None and after is not before:  # not a past reload's
                failed = after
        self.control = self._control_driver()
        if self.control is not None and server is not None:
            await server.add_driver(self.control)
        self.drivers = self._all_drivers()
        if failed is not None:
            raise failed
        if server is not None:
            # Against where the server listens, not the old config: an
            # address that could not be bound last time is tried again.
            where = new.server
            wanted_hosts = tuple(where.bind) or (where.host,)
            serving_hosts = tuple(server.bind) or (server.host,)
            if (wanted_hosts, where.port) != (serving_hosts, server.port) and not (
                await server.listen(where.host, where.port, bind=where.bind)
            ):
                raise OSError(f"cannot listen on {', '.join(wanted_hosts)} port {where.port}")

    async def _hand_over(self, driver: IPyDriver) -> Mapping[str, Any] | None:
        """Stop *driver* leaving its outputs as they are; the state to start its successor from.

        Its state is the one it would save (``snapshot()``, the output
        drivers'). It stops as a disconnected device does, without its safe
        state, and its pins are released still driven (the hardware's
        ``holding()``), for the driver made next to claim at the same levels.
        None, and nothing done, when it cannot: a driver with no such state
        (an input's has nothing to keep), a hardware that cannot hold, or a
        device a client disconnected (its outputs safe already, and free).
        """
        handed: Any = driver  # the output drivers' own API (pi_indi_drivers' GpioDriver)
        snapshot = getattr(handed, "snapshot", None)
        close_hardware = getattr(handed, "close_hardware", None)
        holding = getattr(self.hardware, "holding", None)
        if (
            snapshot is None
            or close_hardware is None
            or holding is None
            or getattr(handed, "connected", None) is not True
        ):
            return None
        try:
            state: Mapping[str, Any] = snapshot()
        except NotImplementedError:
            return None
        except Exception:
            logger.exception("%s: cannot read its state", type(driver).__name__)
            return None
        # Stopped as if disconnected already: its shutdown() sets no safe state
        # and leaves the pins to the release below.
        handed.connected = False
        await self._remove(driver)
        with holding(True):
            close_hardware()
        return state

    async def _remove(self, driver: IPyDriver) -> None:
        if self.server is not None:
            await self.server.remove_driver(driver)
        else:
            driver.shutdown()

    def describe(self) -> list[dict[str, Any]]:
        """The statuses as plain data (for logs and the CLI)."""
        return [
            {"name": s.name, "driver": s.driver, "status": str(s.status), "error": s.error}
            for s in self.statuses
        ]
