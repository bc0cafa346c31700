"""S3 access for COPY through boto3: prefix listing, manifests, object bodies."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import boto3
import orjson
from botocore.config import Config
from botocore.exceptions import ClientError

from redshift_endpoint.limits import S3_CLIENTS


class S3LoadError(Exception):
    """Raised with a Redshift-like message; the load fails with it."""


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def split_url(url: str) -> tuple[str, str]:
    if not url.lower().startswith("s3://"):
        raise S3LoadError(f"Invalid S3 URL '{url}': it must start with s3://")
    bucket, _, key = url[5:].partition("/")
    return bucket, key


class S3Clients:
    """boto3 clients per (credentials, region), shared by all sessions (clients are thread-safe).

    All clients come from one boto3 session, which loads the S3 service model once: a session per
    client cost about 4 MB each, never given back. Only the ``size`` most recently used clients
    are kept, so a stream of new credentials cannot grow memory; a client evicted while a load
    still uses it stays alive until that load drops it.
    """

    def __init__(self, endpoint_url: str | None = None, size: int = S3_CLIENTS):
        self.endpoint_url = endpoint_url
        self.size = size
        self._clients: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()
        self._session = boto3.session.Session()   # guarded by _lock: sessions are not thread-safe

    def client(self, credentials: dict[str, str], region: str | None):
        # Access keys from the COPY text are used as given; an IAM role (which a local S3 cannot
        # assume) falls back to the default credential chain.
        key_id = credentials.get("aws_access_key_id")
        secret = credentials.get("aws_secret_access_key")
        token = credentials.get("token")
        cache_key = (key_id, secret, token, region)
        with self._lock:
            client = self._clients.get(cache_key)
            if client is not None:
                self._clients.move_to_end(cache_key)
            else:
                client = self._session.client(
                    "s3", endpoint_url=self.endpoint_url, region_name=region or None,
                    aws_access_key_id=key_id if key_id and secret else None,
                    aws_secret_access_key=secret if key_id and secret else None,
                    aws_session_token=token if key_id and secret else None,
                    # No CRC32 of every body unless S3 requires it: a few % of a large load's CPU.
                    config=Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=16,
                                  response_checksum_validation="when_required"),
                )
                self._clients[cache_key] = client
                while len(self._clients) > self.size:
                    self._clients.popitem(last=False)
            return client


def list_prefix(client, url: str) -> list[S3Object]:
    """Every object whose key starts with the prefix (Redshift semantics); none is an error."""
    bucket, prefix = split_url(url)
    objects = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith("/") and item["Size"] == 0:
                    continue  # "folder" placeholder objects
                objects.append(S3Object(bucket, item["Key"], item["Size"]))
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        raise S3LoadError(f"S3ServiceException: {code or e} while listing '{url}'") from e
    if not objects:
        raise S3LoadError(f"The specified S3 prefix '{prefix}' does not exist")
    return objects


def read_manifest(client, url: str) -> list[S3Object]:
    """A COPY MANIFEST file: {"entries": [{"url": "s3://...", "mandatory": bool}, ...]}."""
    doc = orjson.loads(get_bytes(client, url))
    objects = []
    for entry in doc.get("entries", []):
        bucket, key = split_url(entry["url"])
        try:
            head = client.head_object(Bucket=bucket, Key=key)
        except ClientError as e:
            if entry.get("mandatory", False):
                raise S3LoadError(f"Manifest file is not in correct format or mandatory file "
                                  f"'{entry['url']}' does not exist") from e
            continue
        objects.append(S3Object(bucket, key, head["ContentLength"]))
    return objects


def get_bytes(client, url: str) -> bytes:
    bucket, key = split_url(url)
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        raise S3LoadError(f"S3ServiceException: {code or e} reading '{url}'") from e
