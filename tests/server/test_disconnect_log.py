"""What the log says when a client goes: a client that sends and closes is normal."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

import pytest

from pi_indi.protocol import GetProperties, NewSwitchVector, SetSwitchVector, SwitchState, encode
from tests.helpers import Recorder, make_device


def _send_and_close(port: int, payload: bytes, *, reset: bool) -> None:
    """What indi_setprop does: connect, send, close without reading a byte."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        if reset:  # close with a RST, as a client killed while the server writes sees it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.sendall(payload)


def _disconnects(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "disconnected" in r.getMessage()]


@pytest.mark.parametrize("reset", [pytest.param(False, id="close"), pytest.param(True, id="rst")])
async def test_a_client_that_sends_and_closes_is_logged_plainly(start, caplog, reset: bool):
    caplog.set_level(logging.INFO, logger="pi_indi")
    driver = Recorder(make_device())
    server = await start(driver)
    watcher = await server.connect()
    await watcher.send(GetProperties(version="1.7"))
    request = NewSwitchVector(device="Dev", name="MODE", values={"B": SwitchState.ON})
    # Asking for every property makes the server write while the client is gone.
    payload = encode(GetProperties(version="1.7")) + encode(request)
    await asyncio.to_thread(_send_and_close, server.port, payload, reset=reset)
    # The request still arrives (the server reads what was sent before the close).
    await watcher.expect(lambda e: isinstance(e, SetSwitchVector) and e.name == "MODE", timeout=5)
    async with asyncio.timeout(5):
        while not _disconnects(caplog):
            await asyncio.sleep(0.01)
    (record,) = _disconnects(caplog)
    assert record.levelno == logging.INFO
    assert record.getMessage().endswith(" disconnected"), record.getMessage()
    assert "Errno" not in record.getMessage()
    watcher.close()


async def test_a_connection_that_fails_says_why(start, caplog):
    # A peer gone without a word is found out by TCP keepalive: that is news.
    caplog.set_level(logging.INFO, logger="pi_indi")
    server = await start(Recorder(make_device()))
    client = await server.connect()
    await client.send(GetProperties(version="1.7"))
    async with asyncio.timeout(5):
        while not server.router.clients:
            await asyncio.sleep(0.01)
    (peer,) = server.router.clients
    assert peer.transport is not None
    peer.transport.abort()
    peer.connection_lost(TimeoutError(110, "Connection timed out"))
    (record,) = _disconnects(caplog)
    assert record.getMessage().endswith(" disconnected ([Errno 110] Connection timed out)")
    client.close()
