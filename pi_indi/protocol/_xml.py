"""Incremental framing of a root-less INDI element stream.

INDI is a sequence of top-level XML elements with no enclosing document and no
length prefix (white paper 1.7, section 4). This module cuts that stream into
elements as bytes arrive, across any chunk split, and never parses more than
INDI needs: two levels deep (a vector and its members), attributes, and text.

Why not ``xml.etree.ElementTree.XMLPullParser``? Two reasons. Expat cannot
resynchronise after a syntax error, so one bad byte would end a connection,
while indiserver's lilxml drops the bad element and carries on at the next
``<`` (libs/indicore/lilxml.cpp, parseXMLChunk); a stdio driver must survive
garbage on stdin just as well. And expat would hand us DOCTYPE internal
subsets and entity declarations, which INDI never uses; here any ``<!`` other
than a comment is refused outright, so no entity can expand.

Limits: the bytes held for one incomplete element are capped (``max_element``,
and ``max_blob_element`` for BLOB vectors, whose base64 bodies are legitimately
large), and so is a single tag (``max_tag``). Expat before 2.6.0 was quadratic
on huge tokens; our scanner remembers how far it has looked, so feeding a large
element in small chunks stays linear.
"""

from __future__ import annotations

import re

from pi_indi.errors import RemoteProtocolError

__all__ = ["Element", "ElementStream"]

# lilxml accepts [A-Za-z_][A-Za-z0-9_]* for names; we also allow the XML name
# characters - . : so that a foreign but well-formed element is reported as
# unknown rather than as a syntax error.
_NAME = rb"[A-Za-z_][A-Za-z0-9_.:-]*"
_ATTR = rb"\s+(" + _NAME + rb")\s*=\s*(?:\"([^\"<]*)\"|'([^'<]*)')"
_START_TAG = re.compile(
    rb"<(" + _NAME + rb")((?:\s+" + _NAME + rb"\s*=\s*(?:\"[^\"<]*\"|'[^'<]*'))*)\s*(/?)>"
)
_ATTRS = re.compile(_ATTR)
_END_TAG = re.compile(rb"</(" + _NAME + rb")\s*>")
# A valid *prefix* of a start or end tag that reaches the end of the buffer:
# the tag may still complete when more bytes arrive.
_PARTIAL_TAG = re.compile(
    rb"</?(?:"
    + _NAME
    + rb"(?:\s+"
    + _NAME
    + rb"\s*=\s*(?:\"[^\"<]*\"|'[^'<]*'))*"
    + rb"(?:\s+(?:"
    + _NAME
    + rb"(?:\s*(?:=\s*(?:\"[^\"<]*|'[^'<]*)?)?)?)?)?\s*/?)?\Z"
)
_WHITESPACE = b" \t\r\n"

# The whole of a small, plain element in one match: a start tag, members with
# plain text (no markup, no comments) and the end tag. Almost every INDI
# message has this shape, and matching it in one go keeps the per-message
# Python work small. Anything else, including an element not yet complete,
# falls through to the token-by-token scanner below. Member text is bounded so
# a failed attempt on a large BLOB costs a bounded scan, not the whole body.
_ATTR_NC = rb"\s+" + _NAME + rb"\s*=\s*(?:\"[^\"<]*\"|'[^'<]*')"
_FAST_ELEMENT = re.compile(
    rb"<(?P<tag>[A-Za-z_][A-Za-z0-9_]*)(?P<attrs>(?:"
    + _ATTR_NC
    + rb")*)\s*(?:/>|>(?P<body>(?:\s*<(?P<mt>[A-Za-z_][A-Za-z0-9_]*)(?:"
    + _ATTR_NC
    + rb")*\s*(?:/>|>[^<]{0,8192}</(?P=mt)\s*>))*)\s*</(?P=tag)\s*>)"
)
_FAST_MEMBER = re.compile(
    rb"<([A-Za-z_][A-Za-z0-9_]*)((?:" + _ATTR_NC + rb")*)\s*(?:/>|>([^<]*)</\1\s*>)"
)

# The tags that may start a top-level INDI element. Resynchronisation after an
# error skips everything up to the next one of these.
TOP_LEVEL_TAGS = frozenset(
    {
        "getProperties",
        "enableBLOB",
        "message",
        "delProperty",
        "pingRequest",
        "pingReply",
        "defTextVector",
        "defNumberVector",
        "defSwitchVector",
        "defLightVector",
        "defBLOBVector",
        "setTextVector",
        "setNumberVector",
        "setSwitchVector",
        "setLightVector",
        "setBLOBVector",
        "newTextVector",
        "newNumberVector",
        "newSwitchVector",
        "newBLOBVector",
    }
)
_TOP_LEVEL_START = re.compile(
    rb"<(?:" + b"|".join(t.encode() for t in sorted(TOP_LEVEL_TAGS)) + rb")[\s/>]"
)

_ENTITY = re.compile(r"&(#[xX][0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _entity(m: re.Match[str]) -> str:
    ref = m.group(1)
    if ref[0] != "#":
        return _NAMED[ref]
    code = int(ref[2:], 16) if ref[1] in "xX" else int(ref[1:])
    if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
        return chr(code)
    return m.group(0)


def unescape(raw: bytes) -> str:
    """Decode UTF-8 text and resolve the five XML entities and character references.

    Unknown ``&name;`` sequences and stray ``&`` are kept as written, as lilxml
    does. Invalid UTF-8 is replaced rather than refused: INDI text is for people.
    """
    text = raw.decode("utf-8", "replace")
    if "&" in text:
        return _ENTITY.sub(_entity, text)
    return text


class Element:
    """One parsed element: a tag, its attributes, its children and its text.

    ``text`` is kept as raw bytes (entities unresolved, not stripped) so that a
    BLOB body goes straight to the base64 decoder without a detour via str.
    """

    __slots__ = ("attrs", "children", "tag", "text")

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[Element] = []
        self.text = b""

    def __repr__(self) -> str:
        return f"Element({self.tag!r}, {self.attrs!r}, children={len(self.children)})"


# Double-quoted attributes with no entities, matched on text: the shape every
# INDI implementation writes, and one regex call plus dict() in C to read.
_PLAIN_ATTRS = re.compile(r'([A-Za-z_][A-Za-z0-9_.:-]*)\s*=\s*"([^"]*)"')


def _parse_attrs(raw: bytes, tag: str) -> dict[str, str]:
    if b"'" not in raw and b"&" not in raw:
        try:
            pairs = _PLAIN_ATTRS.findall(raw.decode())
        except UnicodeDecodeError:
            pass
        else:
            attrs = dict(pairs)
            if len(attrs) != len(pairs):
                raise RemoteProtocolError(f"duplicate attribute in <{tag}>")
            return attrs
    found = _ATTRS.findall(raw)
    attrs = {}
    for name, dq, sq in found:
        value = dq or sq
        try:
            attrs[name.decode()] = value.decode() if b"&" not in value else unescape(value)
        except UnicodeDecodeError:
            attrs[name.decode()] = unescape(value)
    if len(attrs) != len(found):
        raise RemoteProtocolError(f"duplicate attribute in <{tag}>")
    return attrs


class ElementStream:
    """Cuts bytes into top-level :class:`Element` objects.

    Feed bytes with :meth:`feed`, then call :meth:`next_element` until it
    returns None (more bytes needed). Malformed input raises
    :class:`RemoteProtocolError`; the offending element has been discarded by
    then and the next call resumes at the next top-level INDI element.
    """

    def __init__(
        self,
        *,
        max_element: int = 1 << 20,
        max_blob_element: int = 64 << 20,
        max_tag: int = 64 << 10,
    ) -> None:
        self.max_element = max_element
        self.max_blob_element = max_blob_element
        self.max_tag = max_tag
        self._buf = bytearray()
        self._pos = 0
        # Where in _buf the current top-level element started; bytes of it that
        # were already dropped from _buf are counted in _dropped.
        self._elem_start = 0
        self._dropped = 0
        self._top: Element | None = None
        self._child: Element | None = None
        self._text_parts: list[bytes] = []
        # After an error: skip to the next top-level INDI start tag, silently.
        self._resync = False
        self.closed = False

    @property
    def in_element(self) -> bool:
        """True while part of an element has been read but not all of it."""
        return self._top is not None

    def discard_partial(self) -> bool:
        """Forget an element that will never be completed; True if there was one."""
        partial = self._top is not None
        self._top = None
        self._child = None
        self._text_parts = []
        self._dropped = 0
        del self._buf[:]
        self._pos = 0
        return partial

    @property
    def buffered(self) -> int:
        """Bytes held for the element being assembled and any unread input."""
        return len(self._buf) + self._dropped

    def feed(self, data: bytes) -> None:
        """Add bytes from the peer; ``b""`` means the peer closed."""
        if not data:
            self.closed = True
            return
        self._buf += data

    def _error(self, msg: str, *, skip_to: int) -> RemoteProtocolError:
        # Drop the element in progress and resume at the next top-level tag.
        top = self._top
        exc = RemoteProtocolError(
            msg,
            tag=top.tag if top else None,
            device=top.attrs.get("device") if top else None,
            name=top.attrs.get("name") if top else None,
        )
        self._top = None
        self._child = None
        self._text_parts = []
        self._dropped = 0
        self._pos = skip_to
        self._compact()
        self._resync = True
        return exc

    def _compact(self) -> None:
        # Forget consumed bytes. bytearray deletes from the front in O(1)
        # amortised, so doing this often is cheap.
        pos = self._pos
        if pos:
            if self._top is not None:
                self._dropped += pos - self._elem_start
                self._elem_start = 0
            del self._buf[:pos]
            self._pos = 0

    def _check_size(self) -> None:
        top = self._top
        if top is None:
            return
        size = self._dropped + len(self._buf) - self._elem_start
        limit = self.max_blob_element if top.tag.endswith("BLOBVector") else self.max_element
        if size > limit:
            raise self._error(
                f"<{top.tag}> is larger than the {limit}-byte limit", skip_to=len(self._buf)
            )

    def _fast(self, m: re.Match[bytes]) -> Element:
        start, end = m.span()
        self._pos = end
        tag = m.group(1).decode("ascii")
        raw_attrs = m.group(2)
        if end - start > self.max_tag:
            limit = self.max_blob_element if tag.endswith("BLOBVector") else self.max_element
            if end - start > limit or len(raw_attrs) > self.max_tag:
                raise self._error(f"<{tag}> is larger than the limit", skip_to=end)
        elem = Element(tag, _parse_attrs(raw_attrs, tag) if raw_attrs else {})
        body = m.group(3)
        if body:
            children = elem.children
            for mtag, mattrs, text in _FAST_MEMBER.findall(body):
                child = Element(mtag.decode("ascii"), _parse_attrs(mattrs, tag) if mattrs else {})
                child.text = text
                children.append(child)
        return elem

    def next_element(self) -> Element | None:
        """Return the next complete top-level element, or None if more bytes are needed.

        Raises:
            RemoteProtocolError: the input was malformed. Call again to go on.
        """
        buf = self._buf
        while True:
            pos = self._pos
            if self._resync:
                m = _TOP_LEVEL_START.search(buf, pos)
                if m is None:
                    # Keep a possible partial tag at the end: "<setNumberVec".
                    self._pos = max(pos, len(buf) - 32)
                    self._compact()
                    return None
                self._resync = False
                self._pos = pos = m.start()
            lt = buf.find(b"<", pos)
            end = len(buf) if lt == -1 else lt
            if end > pos:
                if self._child is not None:
                    self._text_parts.append(bytes(buf[pos:end]))
                elif self._top is None and buf[pos:end].strip(_WHITESPACE):
                    raise self._error("text outside any element", skip_to=end)
                # Text directly inside a vector (between members) is layout.
                self._pos = pos = end
            if lt == -1:
                self._compact()
                self._check_size()
                return None
            # buf[pos] == "<"
            if self._top is None:
                m = _FAST_ELEMENT.match(buf, pos)
                if m is not None:
                    return self._fast(m)
            m = _START_TAG.match(buf, pos)
            if m is not None:
                if m.end() - pos > self.max_tag:
                    raise self._error(f"a tag longer than {self.max_tag} bytes", skip_to=m.end())
                tag = m.group(1).decode("ascii")
                attrs = _parse_attrs(m.group(2), tag) if m.group(2) else {}
                elem = Element(tag, attrs)
                self._pos = m.end()
                closed = bool(m.group(3))
                if self._top is None:
                    if closed:
                        return elem
                    self._top = elem
                    self._elem_start = pos
                    self._dropped = 0
                elif self._child is None:
                    self._top.children.append(elem)
                    if not closed:
                        self._child = elem
                else:
                    raise self._error(
                        f"<{tag}> nested inside <{self._child.tag}>: INDI members hold no elements",
                        skip_to=self._pos,
                    )
                continue
            m = _END_TAG.match(buf, pos)
            if m is not None:
                tag = m.group(1).decode("ascii")
                self._pos = m.end()
                if self._child is not None:
                    if tag != self._child.tag:
                        raise self._error(
                            f"</{tag}> does not close <{self._child.tag}>", skip_to=self._pos
                        )
                    self._child.text = b"".join(self._text_parts)
                    self._text_parts = []
                    self._child = None
                    continue
                top = self._top
                if top is None:
                    raise self._error(f"</{tag}> closes nothing", skip_to=self._pos)
                if tag != top.tag:
                    raise self._error(f"</{tag}> does not close <{top.tag}>", skip_to=self._pos)
                size = self._dropped + self._pos - self._elem_start
                self._top = None
                self._dropped = 0
                limit = self.max_blob_element if tag.endswith("BLOBVector") else self.max_element
                if size > limit:
                    raise RemoteProtocolError(
                        f"<{tag}> is larger than the {limit}-byte limit",
                        tag=tag,
                        device=top.attrs.get("device"),
                        name=top.attrs.get("name"),
                    )
                return top
            if buf.startswith(b"<!--", pos):
                close = buf.find(b"-->", pos + 4)
                if close != -1:
                    self._pos = close + 3
                    continue
            elif buf.startswith(b"<?", pos):
                # The XML declaration some drivers print, or any other PI.
                close = buf.find(b"?>", pos + 2)
                if close != -1:
                    self._pos = close + 2
                    continue
            elif buf.startswith(b"<!", pos):
                if not b"<!--".startswith(buf[pos : pos + 4]):
                    # DOCTYPE, ENTITY, CDATA: INDI has no use for any of them,
                    # and refusing them here is what keeps entity expansion out.
                    raise self._error(
                        "DOCTYPE, entity and CDATA declarations are not allowed", skip_to=pos + 2
                    )
            elif _PARTIAL_TAG.match(buf, pos) is None:
                raise self._error("malformed tag", skip_to=pos + 1)
            # An incomplete token: wait for more bytes, within limits.
            if len(buf) - pos > self.max_tag:
                raise self._error(f"a tag longer than {self.max_tag} bytes", skip_to=pos + 1)
            self._compact()
            self._check_size()
            return None
