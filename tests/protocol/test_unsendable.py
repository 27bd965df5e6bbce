"""Characters XML 1.0 cannot carry never make the stream ill-formed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

import pytest

from pi_indi.protocol import ElementStream, Message, PlainVector, SetTextVector, encode

T = datetime(2026, 1, 1)


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x0b", "\ufffe"])
def test_a_text_value_with_a_character_xml_cannot_carry_is_encoded_well_formed(char):
    data = encode(SetTextVector(device="D", name="T", values={"a": f"x{char}y"}, timestamp=T))
    element = ET.fromstring(data)  # noqa: S314 - our own output
    assert element.find("oneText").text.strip() == "x\ufffdy"  # type: ignore[union-attr]


def test_a_message_with_a_bell_is_encoded_well_formed():
    data = encode(Message(message="ring\x07 & <go>", timestamp=T))
    assert ET.fromstring(data).attrib["message"] == "ring\ufffd & <go>"  # noqa: S314 - our own output


def test_the_fast_path_leaves_what_xml_cannot_carry_to_the_full_decoder():
    # A PlainVector is relayed as its own text: it must never hold such a character.
    stream = ElementStream()
    stream.feed(
        b'<setTextVector device="D" name="T"><oneText name="a">x\x1by</oneText></setTextVector>'
        b'<setTextVector device="D" name="T"><oneText name="a">x\ty \xc3\xa9</oneText>'
        b"</setTextVector>"
    )
    assert not isinstance(stream.next_element(), PlainVector)
    assert isinstance(stream.next_element(), PlainVector)
