"""One ingress for every peer: what each kind of fault costs each kind of peer."""

from __future__ import annotations

import logging

from pi_indi._ingress import CLIENT, REMOTE, Faults, Ingress
from pi_indi._log import LogLimiter
from pi_indi.protocol import Event, GetProperties

GOOD = b'<getProperties version="1.7"/>'
MALFORMED = b"<getProperties version='1.7'><<</getProperties>"
INVALID = (
    b'<newNumberVector device="D" name="N"><oneNumber name="x">abc</oneNumber></newNumberVector>'
)


class Sink:
    label = "peer"

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.told: list[str] = []
        self.given_up: list[str] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)

    def tell(self, message: str, device: str | None) -> None:
        self.told.append(message)

    def give_up(self, reason: str) -> None:
        self.given_up.append(reason)


def ingress(sink: Sink, faults: Faults, max_element: int = 1 << 20) -> Ingress:
    log = LogLimiter(logging.getLogger("test.ingress"))
    return Ingress(sink, faults, log, max_element=max_element)


def test_a_client_is_answered_for_an_invalid_request_and_kept():
    sink = Sink()
    peer = ingress(sink, CLIENT)
    peer.feed(INVALID + GOOD)
    assert sink.told
    assert sink.told[0].startswith("[ERROR] refused <newNumberVector>")
    assert sink.events == [GetProperties(version="1.7")]
    assert sink.given_up == []


def test_a_client_is_told_of_malformed_xml_and_then_closed():
    sink = Sink()
    peer = ingress(sink, CLIENT)
    peer.feed(MALFORMED + GOOD)
    assert sink.told
    assert sink.told[0].startswith("[ERROR] malformed XML")
    assert sink.given_up == [""]
    assert sink.events == []  # nothing after it is read
    peer.feed(GOOD)
    assert sink.events == []


def test_a_client_over_the_size_limit_is_told_and_closed():
    sink = Sink()
    peer = ingress(sink, CLIENT, max_element=1000)
    peer.feed(b'<newTextVector device="D" name="T"><oneText name="t">' + b"x" * 2000)
    assert sink.told
    assert sink.told[0].startswith("[ERROR] too large")
    assert sink.given_up == [""]


def test_a_driver_is_cut_off_after_a_run_of_malformed_elements():
    sink = Sink()
    peer = ingress(sink, Faults(max_bad_run=5))
    peer.feed(MALFORMED * 4 + GOOD + MALFORMED * 4)
    assert sink.given_up == []  # the good one broke the run
    peer.feed(MALFORMED)
    assert sink.given_up == ["wrote 5 malformed elements in a row"]
    assert sink.told == []  # drivers are not answered


def test_elements_over_the_size_limit_are_not_garbage():
    sink = Sink()
    peer = ingress(sink, Faults(max_bad_run=5, max_garbage=1 << 20), max_element=1000)
    big = b'<setTextVector device="D" name="T"><oneText name="t">' + b"x" * 2000
    big += b"</oneText></setTextVector>"
    peer.feed(big * 40 + GOOD)
    assert sink.given_up == []
    assert sink.events == [GetProperties(version="1.7")]


def test_a_driver_writing_garbage_is_cut_off():
    sink = Sink()
    peer = ingress(sink, Faults(max_garbage=10_000))
    peer.feed(GOOD)
    for _ in range(20):
        peer.feed(b"garbage " * 100)
    assert len(sink.given_up) == 1
    assert sink.given_up[0].endswith("bytes of garbage since its last good element")


def test_a_remote_server_is_never_given_up_on():
    sink = Sink()
    peer = ingress(sink, REMOTE)
    peer.feed(MALFORMED * 100 + b"garbage" * 1000 + GOOD)
    assert sink.given_up == []
    assert sink.events == [GetProperties(version="1.7")]


def test_peer_text_in_the_log_is_escaped_and_rate_limited(caplog):
    sink = Sink()
    peer = ingress(sink, REMOTE)
    with caplog.at_level(logging.WARNING, logger="test.ingress"):
        for _ in range(1000):
            peer.feed(
                b'<newNumberVector device="D&#10;FORGED" name="N"><oneNumber name="x">abc</oneNumber></newNumberVector>'
            )
    assert len(caplog.records) == 1
    assert "\n" not in caplog.records[0].getMessage()
