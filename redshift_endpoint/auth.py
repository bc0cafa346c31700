"""Client authentication at the endpoint, before any PostgreSQL backend is opened (as PgBouncer does).

Clients log in with SCRAM-SHA-256 against the users the endpoint is configured with:

* ``--admin-user`` (or REDSHIFT_ENDPOINT_ADMIN_USER) with its password in PGPASSWORD;
* ``--auth-file`` (or REDSHIFT_ENDPOINT_AUTH_FILE): PgBouncer's userlist.txt format, one
  ``"user" "secret"`` line per user, the secret a SCRAM verifier as PostgreSQL stores it
  (``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``, from ``pg_authid.rolpassword``)
  or a plain password.

Only after the client's proof checks out does the relay open a backend (backend_login.py). It logs
in as the same user, with the password when the endpoint knows it, otherwise with the ClientKey the
client's proof revealed (SCRAM pass-through: it works when PostgreSQL holds the same verifier).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from scramp import ScramException, ScramMechanism
from scramp.utils import ServerError

from redshift_endpoint import limits
from redshift_endpoint import protocol as p
from redshift_endpoint.startup import sasl_for_redshift_driver

MECHANISM = "SCRAM-SHA-256"
_VERIFIER = re.compile(r"SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)")
_LINE = re.compile(r'\s*"((?:[^"]|"")*)"\s+"((?:[^"]|"")*)"')
_SASL_CONTINUE, _SASL_FINAL = 11, 12


class AuthFailed(Exception):
    """The login is refused: ``sqlstate`` and ``message`` go to the client as a FATAL error."""

    def __init__(self, sqlstate: str, message: str):
        super().__init__(message)
        self.sqlstate = sqlstate


@dataclass(frozen=True)
class Secret:
    """One user's SCRAM verifier, and the password when the endpoint was given it."""
    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int
    password: str | None = None

    @classmethod
    def from_password(cls, password: str) -> Secret:
        salt, stored_key, server_key, iterations = ScramMechanism(MECHANISM).make_auth_info(password)
        return cls(salt, stored_key, server_key, iterations, password)

    @classmethod
    def parse(cls, text: str) -> Secret:
        """A verifier as PostgreSQL stores it, or (anything else) a plain password."""
        m = _VERIFIER.fullmatch(text)
        if m is None:
            return cls.from_password(text)
        iterations, salt, stored_key, server_key = m.groups()
        return cls(base64.b64decode(salt), base64.b64decode(stored_key), base64.b64decode(server_key),
                   int(iterations))


@dataclass(frozen=True)
class BackendSecret:
    """What the endpoint logs into PostgreSQL with for an authenticated client."""
    user: str
    password: str | None          # known: an ordinary login
    client_key: bytes | None      # otherwise SCRAM pass-through
    server_key: bytes | None = None


class Credentials:
    """The users allowed to log in through the endpoint."""

    def __init__(self, users: dict[str, Secret]):
        if not users:
            raise ValueError("no user is configured: pass --admin-user (or REDSHIFT_ENDPOINT_ADMIN_USER) with "
                             "its password in PGPASSWORD, or --auth-file (or REDSHIFT_ENDPOINT_AUTH_FILE)")
        self.users = users
        self._mock_key = secrets.token_bytes(32)   # unknown users: a salt that stays the same per name

    @classmethod
    def configure(cls, admin_user: str | None, admin_password: str | None, auth_file: str | None) -> Credentials:
        users: dict[str, Secret] = {}
        if auth_file:
            users.update(read_auth_file(Path(auth_file)))
        if admin_user:
            if not admin_password:
                raise ValueError(f"--admin-user {admin_user!r} needs its password in the PGPASSWORD environment "
                                 "variable (never on the command line)")
            users[admin_user] = Secret.from_password(admin_password)
        return cls(users)

    def lookup(self, user: str) -> Secret:
        """The user's secret; for an unknown user a made-up one, so that the exchange looks the same."""
        secret = self.users.get(user)
        if secret is not None:
            return secret
        salt = hmac.new(self._mock_key, user.encode(), hashlib.sha256).digest()[:16]
        return Secret(salt, secrets.token_bytes(32), secrets.token_bytes(32), 4096)


def read_auth_file(path: Path) -> dict[str, Secret]:
    """PgBouncer's userlist.txt format; blank lines and lines starting with ';' or '#' are ignored."""
    users = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith((";", "#")):
            continue
        m = _LINE.match(line)
        if m is None:
            raise ValueError(f"{path}:{n}: expected '\"user\" \"SCRAM-SHA-256$...\"'")
        users[m.group(1).replace('""', '"')] = Secret.parse(m.group(2).replace('""', '"'))
    return users


def _password_failed(user: str) -> AuthFailed:
    return AuthFailed("28P01", f'password authentication failed for user "{user}"')


async def _read_answer(reader: asyncio.StreamReader) -> bytes:
    mtype, size = await p.read_header(reader, limits.AUTH_MESSAGE_BYTES)
    if mtype != b"p":
        raise AuthFailed("08P01", f"expected a SASL response, got message type {mtype!r}")
    return await reader.readexactly(size)


def sasl_request(redshift_driver: bool) -> bytes:
    """AuthenticationSASL offering SCRAM-SHA-256 (no -PLUS: the endpoint speaks no TLS)."""
    body = p.pack_int32(10) + MECHANISM.encode() + b"\0\0"
    return p.message(b"R", sasl_for_redshift_driver(body) if redshift_driver else body)


async def authenticate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, user: str,
                       credentials: Credentials, redshift_driver: bool = False) -> BackendSecret:
    """Run the SCRAM exchange with the client, up to (not including) AuthenticationOk.

    Raises AuthFailed (28P01 for a wrong password or an unknown user, as PostgreSQL does).
    """
    secret = credentials.lookup(user)
    writer.write(sasl_request(redshift_driver))
    await writer.drain()
    body = await _read_answer(reader)
    name, pos = p.cstring(body, 0)
    if name.decode(errors="replace") != MECHANISM:
        raise AuthFailed("08P01", f"unsupported SASL mechanism {name.decode(errors='replace')!r}")
    length = p.unpack_int32(body, pos)
    client_first = body[pos + 4:pos + 4 + length].decode("utf-8", "replace") if length >= 0 else ""
    # PostgreSQL's clients leave the SCRAM user name empty: the start-up packet's user is the one.
    server = ScramMechanism(MECHANISM).make_server(
        lambda _name: (secret.salt, secret.stored_key, secret.server_key, secret.iterations))
    try:
        # scramp refuses the empty name libpq and its kin send ("n=,r=..."): give it one, and put the
        # message back as sent, since the proof covers it (RFC 5802's AuthMessage).
        gs2, _, bare = client_first.partition(",,")
        if bare.startswith("n=,"):
            server.set_client_first(f"{gs2},,n=*{bare[2:]}")
            server.client_first_bare = bare
        else:
            server.set_client_first(client_first)
        server_first = server.get_server_first()
        writer.write(p.message(b"R", p.pack_int32(_SASL_CONTINUE) + server_first.encode()))
        await writer.drain()
        client_final = (await _read_answer(reader)).decode("utf-8", "replace")
        server.set_client_final(client_final)
        server_final = server.get_server_final()
    except ScramException as e:
        if user in credentials.users and e.server_error is not ServerError.INVALID_PROOF:
            raise AuthFailed("08P01", f"malformed SCRAM message: {e}") from None
        raise _password_failed(user) from None
    if user not in credentials.users:
        raise _password_failed(user)   # a made-up verifier never matches, but never let it through
    writer.write(p.message(b"R", p.pack_int32(_SASL_FINAL) + server_final.encode()))
    if secret.password is not None:
        return BackendSecret(user, secret.password, None)
    return BackendSecret(user, None, client_key_from_proof(server.client_first_bare, server_first, client_final,
                                                 secret.stored_key), secret.server_key)


def client_key_from_proof(client_first_bare: str, server_first: str, client_final: str, stored_key: bytes) -> bytes:
    """ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage) (RFC 5802), after the proof was checked."""
    without_proof, proof = client_final.rsplit(",p=", 1)
    auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    return bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature, strict=True))


def admin_from_env(value: str | None) -> str | None:
    """--admin-user, else REDSHIFT_ENDPOINT_ADMIN_USER."""
    return value or os.environ.get("REDSHIFT_ENDPOINT_ADMIN_USER") or None
