"""Connection start-up: refuse SSL/GSS, pass CancelRequest through, filter startup parameters."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redshift_endpoint import protocol as p

# Parameters redshift_connector (and other Redshift drivers) send that PostgreSQL rejects
# with FATAL 42704 "unrecognized configuration parameter".
REDSHIFT_ONLY_PARAMS = frozenset({
    "client_protocol_version", "driver_version", "os_version", "driver_discovery_version",
    "plugin_name", "idp_type", "provider_name", "tcp_keepalive", "compression",
})


@dataclass
class Startup:
    kind: str                      # "startup" or "cancel"
    params: dict[str, str]
    raw: bytes                     # the packet to forward to the backend
    dropped: tuple[str, ...] = ()  # Redshift-only parameters removed from it

    @property
    def redshift_driver(self) -> bool:
        """redshift_connector (and Redshift's other drivers) announce client_protocol_version."""
        return "client_protocol_version" in self.dropped

    @property
    def user(self) -> str:
        return self.params.get("user", "")

    @property
    def database(self) -> str:
        return self.params.get("database") or self.user


def parse_params(payload: bytes) -> dict[str, str]:
    parts = payload.split(b"\0")
    params: dict[str, str] = {}
    for key, value in zip(parts[0::2], parts[1::2], strict=False):
        if not key:
            break
        params[key.decode()] = value.decode("utf-8", "replace")
    return params


def build_startup(params: dict[str, str]) -> bytes:
    body = p.pack_int32(p.PROTOCOL_3)
    body += b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items()) + b"\0"
    return p.pack_int32(len(body) + 4) + body


def filter_params(params: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    kept = {k: v for k, v in params.items() if k.lower() not in REDSHIFT_ONLY_PARAMS}
    return kept, sorted(set(params) - set(kept))


async def read_startup(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Startup:
    """Read the client's first packet(s); SSLRequest and GSSENCRequest are answered 'N' and retried."""
    while True:
        length = p.unpack_int32(await reader.readexactly(4))
        if length < 8 or length > 10_000:
            raise ConnectionError(f"invalid startup packet length {length}")
        payload = await reader.readexactly(length - 4)
        code = p.unpack_int32(payload)
        if code in (p.SSL_REQUEST, p.GSSENC_REQUEST):
            writer.write(b"N")
            await writer.drain()
            continue
        if code == p.CANCEL_REQUEST:
            return Startup("cancel", {}, p.pack_int32(length) + payload)
        if code != p.PROTOCOL_3:
            raise ConnectionError(f"unsupported protocol version {code >> 16}.{code & 0xFFFF}")
        kept, dropped = filter_params(parse_params(payload[4:]))
        return Startup("startup", kept, build_startup(kept), tuple(dropped))


def sasl_for_redshift_driver(body: bytes) -> bytes:
    """AuthenticationSASL body for redshift_connector 2.2.0.

    PostgreSQL ends the mechanism list with an empty name; redshift_connector splits the list
    without removing it and hands scramp an empty mechanism name, which fails. Dropping the
    terminator makes its parsing come out right.
    """
    if body.endswith(b"\0\0"):
        return body[:-1]
    return body


def clean_server_version(value: str) -> str:
    """'15.18 (Debian 15.18-0+deb12u1)' -> '15.18' (redshift_connector parses it as a number)."""
    return value.split()[0] if value.split() else value
