"""One TCP client: its socket, its limits, and its bytes through the one ingress."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from pi_indi._gather import GatheredWriter
from pi_indi._ingress import CLIENT, Ingress
from pi_indi.protocol import BLOBPolicyTable, Event, Message, encode
from pi_indi.server._access import IPAddress, host_port, peer_ip
from pi_indi.server._router import Interest, now

if TYPE_CHECKING:
    from pi_indi.server._server import IPyServer

__all__ = ["Client"]

logger = logging.getLogger("pi_indi.server")

# Why reading from a client is paused (a bit each): its output is backed up,
# or a driver it sends requests to is behind.
_OUTPUT = 1
_DRIVER = 2

# TCP keepalive: a peer gone without a word (unplugged, crashed) is found out
# after 60 s of silence and 6 unanswered probes 10 s apart.
_KEEPALIVE = (
    ("TCP_KEEPIDLE", 60),
    ("TCP_KEEPINTVL", 10),
    ("TCP_KEEPCNT", 6),
)


def _keepalive(sock: socket.socket | None) -> None:
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in _KEEPALIVE:
            option = getattr(socket, name, None)
            if option is not None:
                sock.setsockopt(socket.IPPROTO_TCP, option, value)


class Client(asyncio.Protocol):
    """One TCP client (a :class:`~pi_indi.server._router.ClientPeer`)."""

    write: Callable[[bytes], None]

    # Made once the client is let in: a refused one costs no parser.
    ingress: Ingress

    def __init__(self, server: IPyServer) -> None:
        self.server = server
        self.interest = Interest()
        self.blobs = BLOBPolicyTable()
        self.transport: asyncio.Transport | None = None
        self.label = "client"
        self.ip: IPAddress | None = None
        self.admitted = False
        self.closed = False
        self.draining = False
        self.chained = False
        self.out = GatheredWriter(self._emit)
        #: Queue bytes for the client (the ClientPeer method): the gathered
        #: writer's own, so the commonest call of all costs one call.
        self.write = self.out.write
        # Loop time of the connection and of the last write to it.
        self.connected_at = 0.0
        self.last_write = 0.0
        self._held = 0  # why reading is paused (_OUTPUT, _DRIVER bits)
        self._drivers_behind = 0  # drivers holding it back (_DRIVER while any)
        self._handshake: asyncio.TimerHandle | None = None

    # -- asyncio --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.label = f"client {host_port(peer[0], peer[1])}" if peer else "client"
        self.ip = peer_ip(peer)
        server = self.server
        loop = asyncio.get_running_loop()
        self.connected_at = self.last_write = loop.time()
        refusal = server.gate.admit(self)
        if refusal is not None:
            # Closed before anything is read from it; told why in one message.
            transport.write(encode(Message(timestamp=now(), message=f"[ERROR] {refusal}")))
            self.closed = True
            transport.close()
            return
        self.ingress = Ingress(
            self,
            CLIENT,
            server.router.log,
            max_element=server.max_element,
            max_blob_element=server.max_blob_element,
            on_event=partial(server.router.from_client, self),
        )
        self.out.flush_size = server.flush_size
        # Reading stops while this much output waits (pause_writing below), so
        # a client cannot make the server queue replies it does not read.
        transport.set_write_buffer_limits(high=server.read_pause_bytes)
        _keepalive(transport.get_extra_info("socket"))
        if server.handshake_timeout:
            self._handshake = loop.call_later(server.handshake_timeout, self._check_handshake)
        self.admitted = True
        logger.info("%s connected", self.label)

    def data_received(self, data: bytes) -> None:
        if self.closed and not self.draining:
            return
        self.ingress.feed(data)

    def pause_writing(self) -> None:
        self._hold(_OUTPUT)

    def resume_writing(self) -> None:
        self._release(_OUTPUT)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._handshake is not None:
            self._handshake.cancel()
        if not self.admitted:
            return
        # What it sent before it went is still routed, as a client that
        # sends a request and closes at once (indi_setprop) expects: what a
        # hold kept waiting, and what is left in the kernel's buffer. Its
        # replies are not written, and nothing holds it any more.
        self.closed = True
        self.draining = True
        ingress = self.ingress
        if ingress.held:
            ingress.resume()
        # A client that sends and closes without reading (indi_setprop) makes
        # the next write to it fail: that is how such a client goes, not news.
        closed_by_peer = isinstance(exc, (BrokenPipeError, ConnectionResetError))
        if closed_by_peer:
            self._read_what_is_left()
        self.draining = False
        ingress.done = True
        self.server.gate.forget(self)
        if exc is None or closed_by_peer:
            logger.info("%s disconnected", self.label)
            if exc is not None:
                logger.debug("%s: gone while a reply was written (%s)", self.label, exc)
        else:
            logger.info("%s disconnected (%s)", self.label, exc)

    # -- IngressSink --

    def on_event(self, event: Event) -> None:
        self.server.router.from_client(self, event)

    def tell(self, message: str, device: str | None) -> None:
        self.write(encode(Message(device=device, timestamp=now(), message=message)))

    def give_up(self, reason: str) -> None:
        self.close()

    # -- ClientPeer --

    def _emit(self, data: bytes) -> None:
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            return
        transport.write(data)
        self.last_write = asyncio.get_running_loop().time()
        backlog = transport.get_write_buffer_size() + self.out.size
        if backlog > self.server.max_client_queue:
            self.server.router.log.warning(
                (self.label, "behind"),
                "%s is %d bytes behind (limit %d); dropping it",
                self.label,
                backlog,
                self.server.max_client_queue,
            )
            self._abort()

    def _abort(self) -> None:
        self.closed = True
        self.out.take()
        if self.admitted:
            self.ingress.done = True
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        """Close after what is queued for it is written."""
        if not self.closed and self.transport is not None:
            self.out.flush()
            self.closed = True
            if self.admitted:
                self.ingress.done = True
            self.transport.close()

    # -- flow control --

    def pause(self) -> None:
        """A driver it sends requests to is behind: stop reading it for now."""
        self._drivers_behind += 1
        self._hold(_DRIVER)

    def resume(self) -> None:
        """One driver that held it back has caught up (each pauses it at most once)."""
        self._drivers_behind = max(0, self._drivers_behind - 1)
        if not self._drivers_behind:
            self._release(_DRIVER)

    def _hold(self, why: int) -> None:
        # Neither read nor route more of what it sent: requests already read
        # wait in its stream (at most one read's worth) until it catches up.
        held = self._held
        self._held |= why
        if not held and self.transport is not None and not self.closed:
            self.ingress.held = True
            self.transport.pause_reading()

    def _release(self, why: int) -> None:
        if not self._held & why:
            return
        self._held &= ~why
        if not self._held and self.transport is not None and not self.closed:
            with contextlib.suppress(RuntimeError):
                self.transport.resume_reading()
            self.ingress.resume()

    # -- limits --

    def _check_handshake(self) -> None:
        self._handshake = None
        if self.closed or self.ingress.elements:
            return
        self.server.router.log.warning(
            (self.label, "handshake"),
            "%s sent nothing in %.0f s; closing it",
            self.label,
            self.server.handshake_timeout,
        )
        self.tell(
            f"[ERROR] nothing received in {self.server.handshake_timeout:.0f} s;"
            " closing this connection",
            None,
        )
        self.close()

    @property
    def silent(self) -> bool:
        """True while it has sent no whole element (a byte now and then does not count)."""
        return self.admitted and not self.ingress.elements

    def _read_what_is_left(self) -> None:
        # A client that sends a request and closes at once (indi_setprop does)
        # makes one of our writes fail, and asyncio then stops reading; but the
        # request is still in the kernel's buffer, and must not be lost.
        sock = self.transport.get_extra_info("socket") if self.transport else None
        if sock is None:
            return
        try:
            left = socket.socket(fileno=os.dup(sock.fileno()))
        except OSError:
            return
        with left:
            left.setblocking(False)
            self.draining = True
            received = 0
            while received < self.server.max_element:
                try:
                    chunk = left.recv(1 << 16)
                except OSError:
                    break
                if not chunk:
                    break
                received += len(chunk)
                self.data_received(chunk)
            self.draining = False
