"""Go string semantics the plugin's output depends on, reproduced byte for byte.

Teleport strings are arbitrary bytes in Go, and the plugin's text handling (``for i, r := range s``
decoding, ``strings.TrimSpace``, ``url.PathEscape``) has quirks that the strict output must
reproduce: byte offsets rather than code points, one U+FFFD per invalid byte, and a narrower
whitespace set than Python's ``str.isspace``.
"""

from __future__ import annotations

__all__ = [
    "go_escaped_path",
    "go_path_escape",
    "go_runes",
    "go_to_bytes",
    "go_trim_space",
]

# Go's unicode.IsSpace, which strings.TrimSpace uses. Unlike str.isspace() it does NOT include
# U+001C..U+001F (file/group/record/unit separators), so those survive the trim.
_GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def go_to_bytes(text: str | bytes | bytearray | memoryview) -> bytes:
    """The bytes a Go string holding ``text`` would contain.

    Teleport strings are arbitrary bytes in Go; in Python they may arrive as ``bytes`` or as a
    ``str`` carrying lone surrogates (``surrogateescape`` from an undecodable byte). Those map
    back to the raw byte; any other lone surrogate becomes its (invalid) 3-byte encoding, which
    Go would also treat as three invalid bytes.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        return bytes(text)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        parts: list[bytes] = []
        for ch in text:
            code = ord(ch)
            if 0xDC80 <= code <= 0xDCFF:
                parts.append(bytes([code - 0xDC00]))
            else:
                parts.append(ch.encode("utf-8", "surrogatepass"))
        return b"".join(parts)


def _seq_len(lead: int) -> int:
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def go_runes(data: bytes) -> list[tuple[int, int, str]]:
    """Decode like Go's ``for i, r := range s``: ``(byte offset, byte width, rune)`` triples.

    Each byte that does not start a valid UTF-8 sequence yields U+FFFD with width 1 (Python's
    ``errors="replace"`` merges some invalid sequences into one U+FFFD, which would shift the
    plugin's byte-offset truncation). A *valid* U+FFFD has width 3, which is how callers can
    tell the two apart.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        out: list[tuple[int, int, str]] = []
        offset = 0
        for ch in text:
            code = ord(ch)
            width = 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
            out.append((offset, width, ch))
            offset += width
        return out

    out = []
    i, n = 0, len(data)
    while i < n:
        lead = data[i]
        if lead < 0x80:
            out.append((i, 1, chr(lead)))
            i += 1
            continue
        size = _seq_len(lead)
        if size and i + size <= n:
            try:
                ch = data[i : i + size].decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                out.append((i, size, ch))
                i += size
                continue
        out.append((i, 1, "\ufffd"))
        i += 1
    return out


def go_trim_space(runes: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Go ``strings.TrimSpace`` on :func:`go_runes` output (Go's ``unicode.IsSpace`` set)."""
    start, end = 0, len(runes)
    while start < end and runes[start][2] in _GO_SPACE:
        start += 1
    while end > start and runes[end - 1][2] in _GO_SPACE:
        end -= 1
    return runes[start:end]


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def _go_escape(text: str, keep: frozenset[str]) -> str:
    out: list[str] = []
    for byte in go_to_bytes(text):
        ch = chr(byte)
        if byte < 0x80 and (ch in _UNRESERVED or ch in keep):
            out.append(ch)
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


_SEGMENT_KEEP = frozenset("$&+:=@")  # url.PathEscape (encodePathSegment)
_PATH_KEEP = frozenset("$&+,/:;=@")  # URL.EscapedPath (encodePath)


def go_path_escape(segment: str) -> str:
    """Go's ``url.PathEscape``: ``@``, ``+``, ``:`` stay; ``/``, ``;``, ``,``, ``?`` are escaped."""
    return _go_escape(segment, _SEGMENT_KEEP)


def go_escaped_path(path: str) -> str:
    """Go's ``URL.EscapedPath`` of a path: like ``PathEscape``, but ``/``, ``;``, ``,`` stay."""
    return _go_escape(path, _PATH_KEEP)
