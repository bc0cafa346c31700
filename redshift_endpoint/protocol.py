"""PostgreSQL v3 wire-protocol framing: read, parse and build the few messages the relay touches."""

from __future__ import annotations

import asyncio
import struct

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
PROTOCOL_3 = 196608

# PostgreSQL's own ceiling for one message (PQ_LARGE_MESSAGE_LIMIT is 1 GB - 1).
MAX_LENGTH = (1 << 30) - 1

_I32 = struct.Struct("!i")
_HDR = struct.Struct("!ci")


class ProtocolViolation(ValueError):
    """A message that breaks the framing rules (bad length word, too large, wrong type)."""


async def read_header(reader: asyncio.StreamReader, limit: int = MAX_LENGTH) -> tuple[bytes, int]:
    """Read a typed message's header; returns (type byte, body length).

    The length word is checked before any body byte is read, so a peer cannot make us buffer
    more than ``limit`` bytes of one message.
    """
    mtype, length = _HDR.unpack(await reader.readexactly(5))
    if length < 4:
        raise ProtocolViolation(f"invalid message length {length}")
    if length - 4 > limit:
        raise ProtocolViolation(f"message of {length - 4} bytes exceeds the limit of {limit}")
    return mtype, length - 4


async def read_message(reader: asyncio.StreamReader, limit: int = MAX_LENGTH) -> tuple[bytes, bytes]:
    """Read one typed message; returns (type byte, body without the length word)."""
    mtype, size = await read_header(reader, limit)
    body = await reader.readexactly(size) if size else b""
    return mtype, body


def message(mtype: bytes, body: bytes = b"") -> bytes:
    return _HDR.pack(mtype, len(body) + 4) + body


def cstring(body: bytes, pos: int) -> tuple[bytes, int]:
    """Null-terminated string at pos; returns (value, position after the terminator)."""
    end = body.find(b"\0", pos)
    if end < 0:
        raise ProtocolViolation("a string without its terminator")
    return body[pos:end], end + 1


def parse_parse(body: bytes) -> tuple[bytes, str, bytes]:
    """Parse message -> (statement name, query text, the untouched parameter-type tail)."""
    name, pos = cstring(body, 0)
    query, pos = cstring(body, pos)
    return name, query.decode("utf-8", "surrogateescape"), body[pos:]


def build_parse(name: bytes, query: str, tail: bytes) -> bytes:
    return message(b"P", name + b"\0" + query.encode("utf-8", "surrogateescape") + b"\0" + tail)


def parse_bind(body: bytes) -> tuple[bytes, bytes]:
    """Bind message -> (portal name, statement name)."""
    portal, pos = cstring(body, 0)
    stmt, _ = cstring(body, pos)
    return portal, stmt


def parse_target(body: bytes) -> tuple[bytes, bytes]:
    """Close/Describe body -> (kind b'S' or b'P', name); Execute body -> (b'P', portal)."""
    return body[:1], cstring(body, 1)[0]


def parse_execute(body: bytes) -> bytes:
    return cstring(body, 0)[0]


def query_text(body: bytes) -> str:
    return body[:-1].decode("utf-8", "surrogateescape")


def build_query(text: str) -> bytes:
    return message(b"Q", text.encode("utf-8", "surrogateescape") + b"\0")


def error_fields(body: bytes) -> dict[str, str]:
    """ErrorResponse/NoticeResponse body -> {field code: value}."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(body) and body[pos] != 0:
        code = chr(body[pos])
        value, pos = cstring(body, pos + 1)
        fields[code] = value.decode("utf-8", "replace")
    return fields


def error_response(code: str, msg: str, *, severity: str = "ERROR", detail: str | None = None,
                   hint: str | None = None) -> bytes:
    parts = [("S", severity), ("V", severity), ("C", code), ("M", msg)]
    if detail:
        parts.append(("D", detail))
    if hint:
        parts.append(("H", hint))
    body = b"".join(k.encode() + v.encode("utf-8", "replace") + b"\0" for k, v in parts) + b"\0"
    return message(b"E", body)


def parameter_status(body: bytes) -> tuple[str, str]:
    name, pos = cstring(body, 0)
    value, _ = cstring(body, pos)
    return name.decode(), value.decode("utf-8", "replace")


def build_parameter_status(name: str, value: str) -> bytes:
    return message(b"S", name.encode() + b"\0" + value.encode() + b"\0")


def copy_data(payload: bytes) -> bytes:
    return message(b"d", payload)


COPY_DONE = message(b"c")


def copy_fail(reason: str) -> bytes:
    return message(b"f", reason.encode("utf-8", "replace") + b"\0")


def pack_int32(value: int) -> bytes:
    return _I32.pack(value)


def unpack_int32(data: bytes, pos: int = 0) -> int:
    return _I32.unpack_from(data, pos)[0]
