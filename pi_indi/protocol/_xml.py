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

Bytes are decoded to text once per chunk (UTF-8; invalid sequences become
U+FFFD, since INDI text is for people and one bad byte must not cost a
message), and everything after that works on text.

Limits: what is held for one incomplete element is capped (``max_element``,
and ``max_blob_element`` for BLOB vectors, whose base64 bodies are legitimately
large), and so is a single tag (``max_tag``); sizes are counted in characters,
which for INDI's ASCII markup and base64 is bytes. Expat before 2.6.0 was
quadratic on huge tokens; this scanner moves member text out of its buffer as
it goes, so feeding a large element in small chunks stays linear.
"""

from __future__ import annotations

import codecs
import re

from pi_indi.errors import RemoteProtocolError

__all__ = ["Element", "ElementStream", "PlainVector"]

# lilxml accepts [A-Za-z_][A-Za-z0-9_]* for names; we also allow the XML name
# characters - . : so that a foreign but well-formed element is reported as
# unknown rather than as a syntax error.
_NAME = r"[A-Za-z_][A-Za-z0-9_.:-]*"
_ATTR_NC = r"\s+" + _NAME + r"""\s*=\s*(?:"[^"<]*"|'[^'<]*')"""
_ATTRS = re.compile(r"\s+(" + _NAME + r""")\s*=\s*(?:"([^"<]*)"|'([^'<]*)')""", re.ASCII)
# Double-quoted attributes with no entities: the shape every INDI
# implementation writes, read with one regex call and dict() in C.
_PLAIN_ATTRS = re.compile(r"(" + _NAME + r')\s*=\s*"([^"]*)"', re.ASCII)
_START_TAG = re.compile(r"<(" + _NAME + r")((?:" + _ATTR_NC + r")*)\s*(/?)>", re.ASCII)
_END_TAG = re.compile(r"</(" + _NAME + r")\s*>", re.ASCII)
# A valid *prefix* of a start or end tag that reaches the end of the buffer:
# the tag may still complete when more bytes arrive.
_PARTIAL_TAG = re.compile(
    r"</?(?:"
    + _NAME
    + r"(?:"
    + _ATTR_NC
    + r")*"
    + r"(?:\s+(?:"
    + _NAME
    + r"""(?:\s*(?:=\s*(?:"[^"<]*|'[^'<]*)?)?)?)?)?\s*/?)?\Z""",
    re.ASCII,
)

# The whole of a small, plain element in one match: a start tag, members with
# plain text (no markup, no comments) and the end tag. Almost every INDI
# message has this shape, and matching it in one go keeps the per-message
# Python work small. Anything else, including an element not yet complete,
# falls through to the token-by-token scanner. Member text is bounded so a
# failed attempt on a large BLOB costs a bounded scan, not the whole body, and
# so is the number of members: re keeps state for every repetition it may
# backtrack into, 20 MB for 256 KiB of members (the scanner then reads a
# vector of hundreds of members instead).
_FAST_ELEMENT = re.compile(
    r"<([A-Za-z_][A-Za-z0-9_]*)((?:"
    + _ATTR_NC
    + r")*)\s*(?:/>|>((?:\s*<([A-Za-z_][A-Za-z0-9_]*)(?:"
    + _ATTR_NC
    + r")*\s*(?:/>|>[^<]{0,8192}</\4\s*>)){0,256})\s*</\1\s*>)",
    re.ASCII,
)
_FAST_MEMBER = re.compile(
    r"<([A-Za-z_][A-Za-z0-9_]*)((?:" + _ATTR_NC + r")*)\s*(?:/>|>([^<]*)</\1\s*>)", re.ASCII
)

# The commonest messages of all: a set or new vector of numbers, switches,
# texts or lights with double-quoted, entity-free attributes and plain
# members. They are matched whole and handed over as a PlainVector, without
# building an Element per member.
#
# What XML cannot carry (control characters, U+FFFE, U+FFFF) is kept out of
# the fast path too: a PlainVector can be relayed as its own text, and such a
# vector is decoded instead and encoded again with U+FFFD in their place.
_PLAIN_TEXT = "[^<&\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
_PLAIN_VALUE = '[^"<&\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]'
_PLAIN_VECTOR = re.compile(
    r"\s*<((?:set|new)(Number|Switch|Text|Light)Vector)((?:\s+[A-Za-z_][A-Za-z0-9_]*=\""
    + _PLAIN_VALUE
    + r"*\")*)\s*>\s*((?:<one\2\s+name=\""
    + _PLAIN_VALUE
    + r"*\"\s*>"
    + _PLAIN_TEXT
    + r"{0,8192}</one\2\s*>\s*){0,256})</\1\s*>",
    re.ASCII,
)
_PLAIN_MEMBER = re.compile(r'name="([^"]*)"\s*>([^<]*)<', re.ASCII)

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
_TOP_LEVEL_START = re.compile(r"<(?:" + "|".join(sorted(TOP_LEVEL_TAGS)) + r")[\s/>]")

# What can end or break an incomplete tag: outside a quoted value, a quote,
# "<" or ">"; inside one, its closing quote or "<".
_TAG_STOPS = {"": re.compile(r"""["'<>]"""), '"': re.compile(r'["<]'), "'": re.compile(r"['<]")}

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


def unescape(text: str) -> str:
    """Resolve the five XML entities and character references in *text*.

    Unknown ``&name;`` sequences and stray ``&`` are kept as written, as lilxml
    does.
    """
    if "&" in text:
        return _ENTITY.sub(_entity, text)
    return text


class Element:
    """One parsed element: a tag, its attributes, its children and its text.

    ``text`` is the raw text (entities unresolved, not stripped) so that a BLOB
    body goes straight to the base64 decoder.
    """

    __slots__ = ("attrs", "children", "tag", "text")

    def __init__(
        self,
        tag: str,
        attrs: dict[str, str],
        children: list[Element] | None = None,
        text: str = "",
    ) -> None:
        self.tag = tag
        self.attrs = attrs
        self.children: list[Element] = [] if children is None else children
        self.text = text

    def __repr__(self) -> str:
        return f"Element({self.tag!r}, {self.attrs!r}, children={len(self.children)})"


class PlainVector:
    """A set/new vector read by the fast path: members as (name, raw text) pairs.

    ``raw`` is the element's own text, for relays that pass it on unchanged.
    """

    __slots__ = ("attrs", "members", "raw", "tag")

    def __init__(
        self, tag: str, attrs: dict[str, str], members: list[tuple[str, str]], raw: str
    ) -> None:
        self.tag = tag
        self.attrs = attrs
        self.members = members
        self.raw = raw


def _parse_attrs(raw: str, tag: str) -> dict[str, str]:
    if "'" not in raw and "&" not in raw:
        pairs = _PLAIN_ATTRS.findall(raw)
        attrs = dict(pairs)
        if len(attrs) != len(pairs):
            raise RemoteProtocolError(f"duplicate attribute in <{tag}>")
        return attrs
    found = _ATTRS.findall(raw)
    attrs = {name: unescape(dq or sq) for name, dq, sq in found}
    if len(attrs) != len(found):
        raise RemoteProtocolError(f"duplicate attribute in <{tag}>")
    return attrs


class ElementStream:
    """Cuts bytes into top-level :class:`Element` objects.

    Feed bytes with :meth:`feed`, then call :meth:`next_element` until it
    returns None (more bytes needed). Malformed input raises
    :class:`RemoteProtocolError`; the offending element has been discarded by
    then and the next call resumes at the next top-level INDI element.

    Attributes:
        skipped: how many characters were thrown away that were not part of
            any element: text between elements, broken tags, and what
            resynchronising passes over. A server tells a peer writing garbage
            from one that slipped once by it. The rest of an element refused
            for its size is not counted (one over-large BLOB is not garbage),
            up to that element's limit again, so garbage cannot hide behind
            an endless element.
    """

    def __init__(
        self,
        *,
        max_element: int = 1 << 20,
        max_blob_element: int = 64 << 20,
        max_tag: int = 64 << 10,
        max_members: int = 10_000,
    ) -> None:
        self.max_element = max_element
        self.max_blob_element = max_blob_element
        self.max_tag = max_tag
        # The size limits count characters, but each member held costs some
        # 400 bytes of objects: 8 MB of empty <oneBLOB name="a"/> held 177 MB
        # before this cap. INDI vectors have tens of members, not thousands.
        self.max_members = max_members
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buf = ""
        self._pos = 0
        # Where in _buf the current top-level element started; the part of it
        # already dropped from _buf is counted in _dropped.
        self._elem_start = 0
        self._dropped = 0
        self._top: Element | None = None
        self._child: Element | None = None
        self._text_parts: list[str] = []
        # Text directly inside the top-level element: enableBLOB's value, or
        # the layout between a vector's members.
        self._top_text: list[str] = []
        # After an error: skip to the next top-level INDI start tag, silently.
        self._resync = False
        # ... the first this many characters of which are taken for the rest
        # of an element refused for its size, not garbage (see ``skipped``).
        self._tail = 0
        self.skipped = 0
        self.closed = False
        # An incomplete token (tag, comment or PI) at _pos waiting for bytes:
        # how many of its characters have been looked at (0: none waiting),
        # and for a tag, the quote of the attribute value it ends inside.
        # What arrives is scanned from there for what could end the token,
        # and only then is the token looked at whole again, so that a tag
        # trickling in a few bytes at a time costs linear time, not a rescan
        # of everything so far per chunk (quadratic: 13 s of CPU for a 60 KB
        # tag in 8-byte chunks).
        self._partial = 0
        self._quote = ""

    @property
    def in_element(self) -> bool:
        """True while part of an element has been read but not all of it."""
        return self._top is not None

    def discard_partial(self) -> bool:
        """Forget an element that will never be completed; True if there was one."""
        partial = self._top is not None
        self._partial = 0
        self._top = None
        self._child = None
        self._text_parts = []
        self._top_text = []
        self._dropped = 0
        self._buf = ""
        self._pos = 0
        return partial

    @property
    def buffered(self) -> int:
        """Characters held for the element being assembled and any unread input."""
        return len(self._buf) - self._pos + self._dropped

    def feed(self, data: bytes) -> None:
        """Add bytes from the peer; ``b""`` means the peer closed."""
        if not data:
            self.closed = True
            self._buf += self._decoder.decode(b"", final=True)
            return
        text = self._decoder.decode(data)
        self._compact()
        self._buf = self._buf + text if self._buf else text

    def _error(
        self, msg: str, *, skip_to: int, tail: int = 0, too_large: bool = False
    ) -> RemoteProtocolError:
        # Drop the element in progress and resume at the next top-level tag.
        top = self._top
        if top is None and not tail:
            self.skipped += skip_to - self._pos
        exc = RemoteProtocolError(
            msg,
            too_large=too_large,
            tag=top.tag if top else None,
            device=top.attrs.get("device") if top else None,
            name=top.attrs.get("name") if top else None,
        )
        self._top = None
        self._child = None
        self._text_parts = []
        self._top_text = []
        self._dropped = 0
        self._pos = skip_to
        self._compact()
        self._resync = True
        self._partial = 0
        self._tail = tail
        return exc

    def _skip(self, count: int) -> None:
        tail = min(count, self._tail)
        self._tail -= tail
        self.skipped += count - tail

    def _check_members(self, tag: str, body: str) -> None:
        # A member is one or two tags: over twice the cap in "<" is too many
        # before anything is built for them (the rest is caught as they are).
        if body.count("<") > 2 * self.max_members:
            raise RemoteProtocolError(f"<{tag}> has more than {self.max_members} members")

    def _scan_tag(self, buf: str, start: int) -> tuple[bool, str]:
        # From *start* on, in the quote self._quote: whether a "<", or a ">"
        # outside quotes, follows (the tag then ends there or is broken), and
        # the quote open at the end of buf.
        quote = self._quote
        while (m := _TAG_STOPS[quote].search(buf, start)) is not None:
            char = m.group()
            if char == "<" or (char == ">" and not quote):
                return True, quote
            quote = "" if quote else char
            start = m.end()
        return False, quote

    def _may_be_complete(self) -> bool:
        # Whether what arrived since the last look can end the waiting token.
        buf = self._buf
        pos = self._pos
        new = pos + self._partial
        self._partial = len(buf) - pos
        if buf.startswith("<!--", pos):
            return buf.find("-->", max(pos + 4, new - 2)) != -1
        if buf.startswith("<?", pos):
            return buf.find("?>", max(pos + 2, new - 1)) != -1
        ended, self._quote = self._scan_tag(buf, new)
        return ended

    def _compact(self) -> None:
        pos = self._pos
        if pos:
            if self._top is not None:
                self._dropped += pos - self._elem_start
                self._elem_start = 0
            self._buf = self._buf[pos:]
            self._pos = 0

    def _limit(self, tag: str) -> int:
        return self.max_blob_element if tag.endswith("BLOBVector") else self.max_element

    def _check_size(self) -> None:
        top = self._top
        if top is None:
            return
        size = self._dropped + len(self._buf) - self._elem_start
        limit = self._limit(top.tag)
        if size > limit:
            raise self._error(
                f"<{top.tag}> is larger than the {limit}-byte limit",
                skip_to=len(self._buf),
                tail=limit,
                too_large=True,
            )

    def _fast(self, m: re.Match[str]) -> Element:
        start, end = m.span()
        self._pos = end
        tag, raw_attrs, body = m.group(1, 2, 3)
        if end - start > self._limit(tag):
            raise self._error(
                f"<{tag}> is larger than the {self._limit(tag)}-byte limit",
                skip_to=end,
                too_large=True,
            )
        if len(raw_attrs) > self.max_tag:
            raise self._error(f"a tag longer than {self.max_tag} bytes", skip_to=end)
        try:
            attrs = _parse_attrs(raw_attrs, tag) if raw_attrs else {}
            if not body:
                return Element(tag, attrs)
            self._check_members(tag, body)
            children = [
                Element(mtag, _parse_attrs(mattrs, tag) if mattrs else {}, None, text)
                for mtag, mattrs, text in _FAST_MEMBER.findall(body)
            ]
            if len(children) > self.max_members:
                raise RemoteProtocolError(f"<{tag}> has more than {self.max_members} members")
            return Element(tag, attrs, children)
        except RemoteProtocolError as exc:
            raise self._error(str(exc), skip_to=end) from None

    def next_element(self) -> Element | PlainVector | None:
        """Return the next complete top-level element, or None if more bytes are needed.

        Raises:
            RemoteProtocolError: the input was malformed. Call again to go on.
        """
        while True:
            if self._partial:
                if not self._may_be_complete():
                    if len(self._buf) - self._pos > self.max_tag:
                        raise self._error(
                            f"a tag longer than {self.max_tag} bytes", skip_to=self._pos + 1
                        )
                    self._compact()
                    self._check_size()
                    return None
                self._partial = 0
            buf = self._buf
            pos = self._pos
            if self._top is None and not self._resync:
                # The fast path: a whole plain set/new vector, leading blanks and all.
                m = _PLAIN_VECTOR.match(buf, pos)
                if m is not None and m.end() - pos <= self.max_element:
                    tag, raw_attrs, body = m.group(1, 3, 4)
                    if tag != "newLightVector":
                        self._pos = m.end()
                        pairs = _PLAIN_ATTRS.findall(raw_attrs)
                        attrs = dict(pairs)
                        if len(attrs) != len(pairs):
                            raise self._error(f"duplicate attribute in <{tag}>", skip_to=self._pos)
                        try:
                            # Exact here: each plain member is two tags.
                            self._check_members(tag, body)
                        except RemoteProtocolError as exc:
                            raise self._error(str(exc), skip_to=self._pos) from None
                        return PlainVector(
                            tag, attrs, _PLAIN_MEMBER.findall(body), buf[m.start(1) - 1 : m.end()]
                        )
            if self._resync:
                m = _TOP_LEVEL_START.search(buf, pos)
                if m is None:
                    # Keep a possible partial tag at the end: "<setNumberVec".
                    self._pos = max(pos, len(buf) - 32)
                    self._skip(self._pos - pos)
                    self._compact()
                    return None
                self._skip(m.start() - pos)
                self._resync = False
                self._tail = 0
                self._pos = pos = m.start()
            lt = buf.find("<", pos)
            end = len(buf) if lt == -1 else lt
            if end > pos:
                if self._child is not None:
                    self._text_parts.append(buf[pos:end])
                elif self._top is not None:
                    self._top_text.append(buf[pos:end])
                elif not buf[pos:end].isspace():
                    raise self._error("text outside any element", skip_to=end)
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
                tag = m.group(1)
                raw_attrs = m.group(2)
                self._pos = m.end()
                try:
                    attrs = _parse_attrs(raw_attrs, tag) if raw_attrs else {}
                except RemoteProtocolError as exc:
                    raise self._error(str(exc), skip_to=self._pos) from None
                elem = Element(tag, attrs)
                closed = bool(m.group(3))
                if self._top is None:
                    if closed:
                        return elem
                    self._top = elem
                    self._elem_start = pos
                    self._dropped = 0
                elif self._child is None:
                    if len(self._top.children) >= self.max_members:
                        raise self._error(
                            f"<{self._top.tag}> has more than {self.max_members} members",
                            skip_to=self._pos,
                        )
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
                tag = m.group(1)
                self._pos = m.end()
                if self._child is not None:
                    if tag != self._child.tag:
                        raise self._error(
                            f"</{tag}> does not close <{self._child.tag}>", skip_to=self._pos
                        )
                    self._child.text = "".join(self._text_parts)
                    self._text_parts = []
                    self._child = None
                    continue
                top = self._top
                if top is None:
                    raise self._error(f"</{tag}> closes nothing", skip_to=self._pos)
                if tag != top.tag:
                    raise self._error(f"</{tag}> does not close <{top.tag}>", skip_to=self._pos)
                size = self._dropped + self._pos - self._elem_start
                top.text = "".join(self._top_text)
                self._top_text = []
                self._top = None
                self._dropped = 0
                limit = self._limit(tag)
                if size > limit:
                    raise RemoteProtocolError(
                        f"<{tag}> is larger than the {limit}-byte limit",
                        too_large=True,
                        tag=tag,
                        device=top.attrs.get("device"),
                        name=top.attrs.get("name"),
                    )
                return top
            if buf.startswith("<!--", pos):
                close = buf.find("-->", pos + 4)
                if close != -1:
                    self._pos = close + 3
                    continue
            elif buf.startswith("<?", pos):
                # The XML declaration some drivers print, or any other PI.
                close = buf.find("?>", pos + 2)
                if close != -1:
                    self._pos = close + 2
                    continue
            elif buf.startswith("<!", pos):
                if not "<!--".startswith(buf[pos : pos + 4]):
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
            if len(buf) - pos >= 4:
                # Long enough for its kind to be known: scan only new bytes next time.
                self._partial = len(buf) - pos
                self._quote = ""
                if buf[pos + 1] not in "!?":
                    self._quote = self._scan_tag(buf, pos + 1)[1]
            self._compact()
            self._check_size()
            return None
