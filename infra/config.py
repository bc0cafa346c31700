"""Settings with defaults, the ``dwh.cfg`` file (read and 0600 write) and the master password.

``dwh.cfg`` is both input and output: ``[INFRA]`` (optional, see ``dwh.cfg.example``) chooses names
and sizes, ``[S3]`` the data location; ``provision`` fills ``[CLUSTER]`` and ``[IAM_ROLE]``.
Precedence: command-line flag > ``dwh.cfg`` > default.
"""

from __future__ import annotations

import configparser
import os
import secrets
import string
from dataclasses import dataclass, fields
from pathlib import Path

from infra.errors import ConfigError

CONFIG_ENV = "SPARKIFY_DWH_CFG"
PASSWORD_ENV = "SPARKIFY_REDSHIFT_PASSWORD"
DEFAULT_CONFIG = "dwh.cfg"

# Every resource we create carries these; we only ever modify or delete resources that carry them.
TAGS = {"Project": "sparkify", "ManagedBy": "sparkify-infra"}

# On-demand USD per node-hour in us-east-1 / us-west-2 (aws.amazon.com/redshift/pricing); a warning, not a bill.
HOURLY_USD = {
    "dc2.large": 0.25,
    "dc2.8xlarge": 4.80,
    "ra3.xlplus": 1.086,
    "ra3.4xlarge": 3.26,
    "ra3.16xlarge": 13.04,
}


@dataclass
class Settings:
    """What to create, and what the DAG should read. Field defaults are the documented defaults."""

    cluster_id: str = "sparkify-dwh"
    node_type: str = "dc2.large"
    num_nodes: int = 1
    db_name: str = "sparkify"
    db_user: str = "sparkify_admin"
    db_port: int = 5439
    role_name: str = "sparkify-redshift-s3-read"
    security_group: str = "sparkify-redshift"
    s3_bucket: str = "udacity-dend"
    log_prefix: str = "log_data"
    song_prefix: str = "song_data"
    log_jsonpath: str = "log_json_path.json"

    @property
    def s3_uris(self) -> dict[str, str]:
        """The ``[S3]`` section: full ``s3://`` URIs of the event files, the jsonpaths file and the songs."""
        return {
            "LOG_DATA": f"s3://{self.s3_bucket}/{self.log_prefix}",
            "LOG_JSONPATH": f"s3://{self.s3_bucket}/{self.log_jsonpath}",
            "SONG_DATA": f"s3://{self.s3_bucket}/{self.song_prefix}",
        }


# (section, key) in dwh.cfg for each Settings field.
_CFG_KEYS = {
    "cluster_id": ("INFRA", "CLUSTER_IDENTIFIER"),
    "node_type": ("INFRA", "NODE_TYPE"),
    "num_nodes": ("INFRA", "NUM_NODES"),
    "role_name": ("INFRA", "ROLE_NAME"),
    "security_group": ("INFRA", "SECURITY_GROUP_NAME"),
    "db_name": ("CLUSTER", "DB_NAME"),
    "db_user": ("CLUSTER", "DB_USER"),
    "db_port": ("CLUSTER", "DB_PORT"),
}


def config_path(flag: str | None) -> Path:
    """``--config``, else ``$SPARKIFY_DWH_CFG``, else ``./dwh.cfg``."""
    return Path(flag or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def read_config(path: Path) -> configparser.ConfigParser:
    """Parse ``path`` (missing file = empty config); keys keep their upper case."""
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]  # keep HOST, not host
    if path.exists():
        try:
            cp.read(path, encoding="utf-8")
        except configparser.Error as exc:
            raise ConfigError(f"cannot parse {path}: {exc}") from exc
    return cp


def _split_s3(uri: str, key: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ConfigError(f"[S3] {key} must look like s3://bucket/prefix, got {uri!r}")
    bucket, _, rest = uri[5:].partition("/")
    return bucket, rest.strip("/")


def resolve_settings(cp: configparser.ConfigParser, overrides: dict[str, object]) -> Settings:
    """Defaults, then ``dwh.cfg`` values, then non-``None`` ``overrides`` (the command-line flags)."""
    values: dict[str, object] = {}
    types = {f.name: f.type for f in fields(Settings)}
    for name, (section, key) in _CFG_KEYS.items():
        raw = cp.get(section, key, fallback="").strip()
        if raw:
            values[name] = raw
    if cp.has_section("S3"):
        parts = {
            k: _split_s3(v.strip(), k)
            for k, v in cp.items("S3")
            if k in ("LOG_DATA", "LOG_JSONPATH", "SONG_DATA") and v.strip()
        }
        buckets = {b for b, _ in parts.values()}
        if len(buckets) > 1:
            raise ConfigError(
                f"[S3] entries name different buckets {sorted(buckets)}; the DAG reads one bucket"
            )
        if buckets:
            values["s3_bucket"] = buckets.pop()
        for cfg_key, field in (
            ("LOG_DATA", "log_prefix"),
            ("LOG_JSONPATH", "log_jsonpath"),
            ("SONG_DATA", "song_prefix"),
        ):
            if cfg_key in parts:
                values[field] = parts[cfg_key][1]
    values.update({k: v for k, v in overrides.items() if v is not None})
    for name in ("num_nodes", "db_port"):
        if name in values:
            try:
                values[name] = int(values[name])  # type: ignore[arg-type]
            except ValueError as exc:
                raise ConfigError(f"{name} must be an integer, got {values[name]!r}") from exc
    unknown = set(values) - set(types)
    if unknown:
        raise ConfigError(f"unknown settings {sorted(unknown)}")
    s = Settings(**values)  # type: ignore[arg-type]
    if s.num_nodes < 1:
        raise ConfigError("num_nodes must be at least 1")
    if not 1150 <= s.db_port <= 65535:
        raise ConfigError("Redshift ports must be in 1150-65535")
    return s


def write_config(
    path: Path, cp: configparser.ConfigParser, s: Settings, *, host: str, password: str, role_arn: str
) -> None:
    """Fill ``[INFRA] [CLUSTER] [IAM_ROLE] [S3]`` (other sections/keys are kept) and write with mode 0600."""
    for section in ("INFRA", "CLUSTER", "IAM_ROLE", "S3"):
        if not cp.has_section(section):
            cp.add_section(section)
    for name, (section, key) in _CFG_KEYS.items():
        cp.set(section, key, str(getattr(s, name)))
    cp.set("CLUSTER", "HOST", host)
    cp.set("CLUSTER", "DB_PASSWORD", password)
    cp.set("IAM_ROLE", "ARN", role_arn)
    for key, uri in s.s3_uris.items():
        cp.set("S3", key, uri)
    save_config(path, cp)


def clear_endpoint(path: Path) -> bool:
    """After teardown: blank HOST, DB_PASSWORD and ARN (they point at nothing now); keep the settings."""
    if not path.exists():
        return False
    cp = read_config(path)
    for section, key in (("CLUSTER", "HOST"), ("CLUSTER", "DB_PASSWORD"), ("IAM_ROLE", "ARN")):
        if cp.has_option(section, key):
            cp.set(section, key, "")
    save_config(path, cp)
    return True


def save_config(path: Path, cp: configparser.ConfigParser) -> None:
    """Write atomically; the file is 0600 from its first byte because it holds the master password."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            cp.write(fh)
        os.chmod(tmp, 0o600)  # O_CREAT's mode does not apply if a stale tmp file already existed
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# Redshift: 8-64 printable ASCII chars with an upper, a lower and a digit; not ' " \ / @ or space.
_FORBIDDEN = set("'\"\\/@ ")


def validate_password(password: str) -> None:
    """Raise :class:`ConfigError` (never quoting the password) if Redshift would reject it."""
    problems = []
    if not 8 <= len(password) <= 64:
        problems.append("8 to 64 characters")
    if not any(c.isupper() for c in password):
        problems.append("an upper-case letter")
    if not any(c.islower() for c in password):
        problems.append("a lower-case letter")
    if not any(c.isdigit() for c in password):
        problems.append("a digit")
    if any(c in _FORBIDDEN or not 33 <= ord(c) <= 126 for c in password):
        problems.append("only printable ASCII other than ' \" \\ / @ and space")
    if problems:
        raise ConfigError(f"${PASSWORD_ENV} does not meet Redshift's rules; it needs " + ", ".join(problems))


def generate_password(length: int = 32) -> str:
    """A random password meeting Redshift's rules; letters and digits only, so it is safe in URIs and shells."""
    alphabet = string.ascii_letters + string.digits
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        if any(c.isupper() for c in pw) and any(c.islower() for c in pw) and any(c.isdigit() for c in pw):
            return pw


def cost_warning(s: Settings) -> str:
    """One line stating what the cluster costs while it exists."""
    rate = HOURLY_USD.get(s.node_type)
    if rate is None:
        return f"WARNING: a {s.num_nodes} x {s.node_type} cluster bills every hour it exists; see aws.amazon.com/redshift/pricing"
    hourly = rate * s.num_nodes
    return (
        f"WARNING: {s.num_nodes} x {s.node_type} costs about ${hourly:.2f}/hour (${hourly * 24:.2f}/day, "
        f"${hourly * 730:.0f}/month) on demand while it exists; run `python -m infra teardown` when done"
    )
