"""The appliance: a config file's devices, built by their drivers, served by IPyServer.

Each ``[[device]]`` table becomes one driver. A driver that fails to load or
to start is recorded with its status and logged; the others are served all
the same (mopidy's extension records). On stop the drivers put their outputs
in their safe states and the pins are released.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from pi_indi.config import Config, DeviceConfig
from pi_indi.driver import IPyDriver
from pi_indi.errors import HardwareError
from pi_indi.registry import DriverContext, DriverStatus, Hardware, load_hardware
from pi_indi.server import IPyServer
from pi_indi.state import StateStore

__all__ = ["Appliance", "DeviceStatus"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class DeviceStatus:
    """How one configured device fared."""

    name: str
    driver: str
    status: DriverStatus
    error: str | None = None


class Appliance:
    """Build the configured devices and serve them.

    Args:
        config: the checked config.
        hardware: the hardware back end; by default the installed ``gpio``
            one, set up as the config's ``[gpio]`` table says.

    Raises:
        LookupError: no hardware back end is installed.
    """

    def __init__(self, config: Config, hardware: Hardware | None = None) -> None:
        self.config = config
        if hardware is None:
            hardware = load_hardware(
                "gpio",
                pin_factory=config.gpio.pin_factory,
                mock_revision=config.gpio.mock_revision,
            )
        self.hardware = hardware
        self.store = StateStore(config.state.path)
        self.statuses: list[DeviceStatus] = []
        self.drivers: list[IPyDriver] = []
        self.server: IPyServer | None = None

    def build(self) -> list[IPyDriver]:
        """Start the pin factory and build every enabled device's driver.

        Raises:
            HardwareError: the pin factory cannot start (no driver could run).
        """
        self.hardware.open()
        if self.config.state.restore:
            self.store.load()
        for device in self.config.devices:
            driver = self._build_one(device)
            if driver is not None:
                self.drivers.append(driver)
        control = self.hardware.control_driver()
        if control is not None:
            self.drivers.append(control)
        return self.drivers

    def _build_one(self, device: DeviceConfig) -> IPyDriver | None:
        status = DeviceStatus(device.name, device.driver, DriverStatus.LOADED)
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
        context = DriverContext(
            devicename=device.name,
            options=device.options,
            hardware=self.hardware,
            saved_state=self.store.get(device.name) if restore else None,
        )
        if restore:
            # Nothing is written unless it will be read back: a laptop trying
            # the example must not need a writable /var/lib/pi-indi.
            context.save_state = partial(self.store.save, device.name)
        try:
            from_config = getattr(record.cls, "from_config", None)
            driver = from_config(context) if from_config is not None else record.cls()
        except HardwareError as exc:
            status.status = DriverStatus.START_ERROR
            status.error = str(exc)
        except Exception as exc:
            # A broken driver must not stop the others; its traceback is for the log.
            status.status = DriverStatus.START_ERROR
            status.error = f"{type(exc).__name__}: {exc}"
            logger.exception("%s: driver %r failed to start", device.name, device.driver)
            return None
        else:
            if not isinstance(driver, IPyDriver):
                status.status = DriverStatus.START_ERROR
                status.error = f"{device.driver} did not give an IPyDriver"
            else:
                status.status = DriverStatus.RUNNING
                logger.info("%s: %s running", device.name, device.driver)
                return driver
        logger.error("%s: driver %r failed to start: %s", device.name, device.driver, status.error)
        return None

    def make_server(self) -> IPyServer:
        """The server for the built drivers, as the ``[server]`` table says."""
        server_config = self.config.server
        self.server = IPyServer(
            *self.drivers,
            host=server_config.host,
            port=server_config.port,
            maxconnections=server_config.maxconnections,
            max_client_queue=max(1, int(server_config.max_client_queue_mb * (1 << 20))),
        )
        return self.server

    async def run(self) -> None:
        """Build, serve until SIGTERM/SIGINT or :meth:`shutdown`, then release the pins."""
        try:
            if not self.drivers:
                self.build()
            server = self.make_server()
            await server.asyncrun()
        finally:
            await asyncio.get_running_loop().run_in_executor(None, self.close)

    def shutdown(self) -> None:
        """Stop serving (from the event loop's thread)."""
        if self.server is not None:
            self.server.shutdown()

    def close(self) -> None:
        """Safe states for every driver still running, then release the pins."""
        for driver in self.drivers:
            try:
                driver.shutdown()
            except Exception:
                logger.exception("%s: shutdown failed", type(driver).__name__)
        self.hardware.close()

    def describe(self) -> list[dict[str, Any]]:
        """The statuses as plain data (for logs and the CLI)."""
        return [
            {"name": s.name, "driver": s.driver, "status": str(s.status), "error": s.error}
            for s in self.statuses
        ]
