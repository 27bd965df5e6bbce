"""Bytes from any peer to events: one path, with what each fault costs decided here.

Every peer that sends INDI to pi_indi (a TCP client, an executable driver,
another INDI server, the stdin of a driver) goes through an :class:`Ingress`:
it cuts the bytes into elements, hands plain set vectors to a fast path when
the peer has one, decodes the rest into events, and for each fault does what
the peer's :class:`Faults` say. Nothing here reads a socket or a pipe.

What a fault costs, by peer (see docs/security.md):

========== ==================== ===================== ==========================
peer       well-formed, invalid  malformed              too large
========== ==================== ===================== ==========================
client     answered, skipped    answered, then closed  answered, then closed
exdriver   logged, skipped      counted: 32 in a row   logged, skipped, not
                                or 1 MiB of garbage    counted as garbage
                                cut it off
remote     logged, skipped      logged, skipped        logged, skipped
stdin      logged, skipped      logged, skipped        logged, skipped
========== ==================== ===================== ==========================

Every line logged for a peer is rate-limited (per peer and kind) and every
peer-given text in it escaped, so a peer can neither flood the log nor forge
a line in it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pi_indi._log import LogLimiter, shown
from pi_indi.errors import RemoteProtocolError
from pi_indi.protocol import ElementStream, Event, PlainVector, decode_element

__all__ = ["CLIENT", "EXDRIVER", "REMOTE", "STDIN", "Faults", "Ingress", "IngressSink"]


@dataclass(frozen=True)
class Faults:
    """What bad input from one kind of peer costs it."""

    #: Malformed XML, or an element over the size limit, closes the peer
    #: (after it is told why).
    closes: bool = False
    #: A well-formed element that breaks INDI's rules is answered with a
    #: ``<message>`` (and skipped).
    answers: bool = False
    #: This many malformed elements in a row give up on the peer (0: never).
    max_bad_run: int = 0
    #: More than this many characters of garbage since the last good element
    #: give up on the peer (0: never).
    max_garbage: int = 0


CLIENT = Faults(closes=True, answers=True)
EXDRIVER = Faults(max_bad_run=32, max_garbage=1 << 20)
REMOTE = Faults()
STDIN = Faults()


class IngressSink(Protocol):
    """Where an :class:`Ingress` puts what it read, and whom it tells of faults."""

    label: str

    def on_event(self, event: Event) -> None:
        """One event read from the peer."""

    def tell(self, message: str, device: str | None) -> None:
        """Send the peer a ``<message>`` about what it sent."""

    def give_up(self, reason: str) -> None:
        """Stop listening to the peer: close a client, cut off a driver."""


class Ingress:
    """The element stream of one peer, routed as each element completes.

    Args:
        sink: where events go and faults are reported.
        faults: what bad input costs this peer.
        log: the rate-limited log the faults are written to.
        max_element: the largest element accepted (BLOB vectors aside).
        max_blob_element: the largest BLOB vector accepted.
        on_event: where events go instead of ``sink.on_event`` (a bound
            call, one frame fewer per event).
        on_plain: a relay's fast path: handed plain set vectors first, it
            returns False for one to be decoded as usual.
    """

    def __init__(
        self,
        sink: IngressSink,
        faults: Faults,
        log: LogLimiter,
        *,
        max_element: int = 1 << 20,
        max_blob_element: int = 64 << 20,
        on_event: Callable[[Event], None] | None = None,
        on_plain: Callable[[PlainVector], bool] | None = None,
    ) -> None:
        self.sink = sink
        self.on_event = on_event if on_event is not None else sink.on_event
        self.on_plain = on_plain
        self.faults = faults
        self.log = log
        self.stream = ElementStream(max_element=max_element, max_blob_element=max_blob_element)
        #: Set once the peer has been given up on (or closed for another
        #: reason): what it still sends is not read.
        self.done = False
        #: While set, no more elements are routed: they wait in the stream
        #: (a client whose output is backed up; see :meth:`resume`).
        self.held = False
        #: Elements read whole (good or not): a peer that sent none is still
        #: in its handshake.
        self.elements = 0
        self._eof = False
        self._bad_run = 0  # malformed elements since the last good one
        self._skipped_at_good = 0  # the stream's garbage count at the last good element
        self._attachments: deque[bytes] = deque()

    def receive_attachment(self, data: bytes) -> None:
        """Add the bytes of one attached BLOB, in the order they arrived (see _stdio)."""
        self._attachments.append(data)

    def _take_attachment(self) -> bytes | None:
        return self._attachments.popleft() if self._attachments else None

    def feed(self, data: bytes) -> None:
        """Take bytes from the peer (``b""``: it closed) and route every element completed."""
        if self.done:
            return
        self.stream.feed(data)
        if not data:
            self._eof = True
        self._route()

    def resume(self) -> None:
        """Route what waited while :attr:`held` was set."""
        self.held = False
        if not self.done:
            self._route()

    def _route(self) -> None:
        stream = self.stream
        on_event = self.on_event
        on_plain = self.on_plain
        take_attachment = self._take_attachment
        good = False
        while not self.done and not self.held:
            try:
                item = stream.next_element()
                if item is None:
                    break
                self.elements += 1
                if (
                    on_plain is not None
                    and type(item) is PlainVector
                    and item.tag[0] == "s"
                    and on_plain(item)
                ):
                    good = True
                    self._bad_run = 0
                    continue
                event = decode_element(item, take_attachment)
            except RemoteProtocolError as exc:
                self._fault(exc)
                continue
            good = True
            self._bad_run = 0
            on_event(event)
        if self.done or self.held:
            return
        if self._eof and stream.discard_partial():
            self._fault(RemoteProtocolError("the stream ended inside an element"))
        most = self.faults.max_garbage
        if not most:
            return
        if good:
            self._skipped_at_good = stream.skipped
        else:
            garbage = stream.skipped - self._skipped_at_good
            if garbage > most:
                self._give_up(f"wrote {garbage} bytes of garbage since its last good element")

    def _fault(self, exc: RemoteProtocolError) -> None:
        faults = self.faults
        label = self.sink.label
        if exc.well_formed:
            self.log.warning(
                (label, "invalid"), "%s: refused <%s>: %s", label, shown(exc.tag), shown(exc)
            )
            if faults.answers:
                device = exc.device if exc.device and exc.device == exc.device.strip() else None
                self.sink.tell(f"[ERROR] refused <{exc.tag}>: {exc}", device)
            return
        kind = "too large" if exc.too_large else "malformed XML"
        if faults.closes:
            self.log.warning((label, kind), "%s sent %s (%s); closing it", label, kind, shown(exc))
            self.sink.tell(f"[ERROR] {kind}: {exc}; closing this connection", None)
            self._give_up("")
            return
        self.log.warning((label, kind), "%s: ignored %s: %s", label, kind, shown(exc))
        if exc.too_large:
            return  # one over-large BLOB is not garbage
        self._bad_run += 1
        if faults.max_bad_run and self._bad_run >= faults.max_bad_run:
            self._give_up(f"wrote {self._bad_run} malformed elements in a row")

    def _give_up(self, reason: str) -> None:
        self.done = True
        self.sink.give_up(reason)
