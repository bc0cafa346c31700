"""The endpoint's login to PostgreSQL for a client it has authenticated itself (auth.py).

PostgreSQL may ask for SCRAM-SHA-256 (devstack's and compose's default), a clear-text password, MD5,
or nothing (trust). With SCRAM and only a verifier in hand, the ClientKey that the client's proof
revealed stands in for the password (pass-through, as PgBouncer does).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets

from redshift_endpoint import limits
from redshift_endpoint import protocol as p
from redshift_endpoint.auth import MECHANISM, AuthFailed, BackendSecret

_OK, _CLEARTEXT, _MD5, _SASL, _SASL_CONTINUE, _SASL_FINAL = 0, 3, 5, 10, 11, 12


class BackendRefused(Exception):
    """PostgreSQL answered the login with an ErrorResponse: ``body`` is forwarded to the client."""

    def __init__(self, body: bytes):
        super().__init__(p.error_fields(body).get("M", "login refused"))
        self.body = body


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


class BackendScramClient:
    """The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), from a password or a ClientKey."""

    def __init__(self, secret: BackendSecret):
        self.secret = secret
        self.nonce = base64.b64encode(secrets.token_bytes(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"
        self.server_key: bytes | None = secret.server_key

    def first(self) -> bytes:
        data = ("n,," + self.first_bare).encode()
        return MECHANISM.encode() + b"\0" + p.pack_int32(len(data)) + data

    def final(self, server_first: str) -> bytes:
        attrs = dict(part.split("=", 1) for part in server_first.split(","))
        if not attrs.get("r", "").startswith(self.nonce):
            raise AuthFailed("08P01", "PostgreSQL's SCRAM nonce does not extend the endpoint's")
        without_proof = f"c=biws,r={attrs['r']}"
        self.auth_message = f"{self.first_bare},{server_first},{without_proof}".encode()
        if self.secret.password is not None:
            salted = hashlib.pbkdf2_hmac("sha256", self.secret.password.encode(), base64.b64decode(attrs["s"]),
                                         int(attrs["i"]))
            client_key = _hmac(salted, b"Client Key")
            self.server_key = _hmac(salted, b"Server Key")
        else:
            client_key = self.secret.client_key
        signature = _hmac(hashlib.sha256(client_key).digest(), self.auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final: str) -> None:
        expected = base64.b64encode(_hmac(self.server_key, self.auth_message)).decode()
        if not hmac.compare_digest(server_final.strip(), f"v={expected}"):
            raise AuthFailed("08P01", "PostgreSQL's SCRAM server signature does not match")


def _md5(secret: BackendSecret, salt: bytes) -> bytes:
    inner = hashlib.md5((secret.password + secret.user).encode()).hexdigest()   # noqa: S324 - PostgreSQL's md5 auth
    return b"md5" + hashlib.md5(inner.encode() + salt).hexdigest().encode() + b"\0"   # noqa: S324


def _need_password(secret: BackendSecret, method: str) -> None:
    if secret.password is None:
        raise AuthFailed("28000", f"PostgreSQL asks for {method} for user \"{secret.user}\", but the endpoint "
                                  "holds only a SCRAM verifier for it: give it the password in the auth file")


async def login(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, startup: bytes,
                secret: BackendSecret) -> None:
    """Send ``startup`` and answer PostgreSQL until AuthenticationOk (which is consumed, not forwarded)."""
    writer.write(startup)
    scram: BackendScramClient | None = None
    while True:
        await writer.drain()
        mtype, body = await p.read_message(reader, limits.AUTH_MESSAGE_BYTES)
        if mtype == b"E":
            raise BackendRefused(body)
        if mtype != b"R" or len(body) < 4:
            continue   # NoticeResponse, NegotiateProtocolVersion: nothing the client needs before login
        code = p.unpack_int32(body)
        if code == _OK:
            return
        if code == _CLEARTEXT:
            _need_password(secret, "a clear-text password")
            writer.write(p.message(b"p", secret.password.encode() + b"\0"))
        elif code == _MD5:
            _need_password(secret, "an MD5 password")
            writer.write(p.message(b"p", _md5(secret, body[4:8])))
        elif code == _SASL:
            if MECHANISM.encode() not in body[4:].split(b"\0"):
                raise AuthFailed("28000", f"PostgreSQL offers no {MECHANISM}")
            scram = BackendScramClient(secret)
            writer.write(p.message(b"p", scram.first()))
        elif code == _SASL_CONTINUE and scram is not None:
            writer.write(p.message(b"p", scram.final(body[4:].decode())))
        elif code == _SASL_FINAL and scram is not None:
            scram.verify(body[4:].decode())
        else:
            raise AuthFailed("28000", f"PostgreSQL asks for an authentication method the endpoint does not "
                                      f"speak (AuthenticationRequest {code})")
